"""The review chain of the seed's §九, as pure rules."""

import pytest

from contracts import chain
from contracts.chain import Decision, Outcome, Stage, Verdict
from contracts.errors import Conflict, Forbidden, Invalid
from contracts.roles import Role

OFFICER = Decision(Stage.INITIAL, Outcome.APPROVE, "li.na", (Role.OFFICER,))
HEAD = Decision(Stage.RECHECK, Outcome.APPROVE, "wang.qiang", (Role.SECTION_HEAD,))


def test_initial_then_recheck_approval_is_a_complete_chain():
    assert chain.is_complete_approval("author", [OFFICER, HEAD])
    assert chain.replay("author", [OFFICER, HEAD]).verdict is Verdict.APPROVED


def test_initial_approval_alone_is_not_enough_to_publish():
    state = chain.replay("author", [OFFICER])
    assert state.stage is Stage.RECHECK and state.verdict is None
    assert not chain.is_complete_approval("author", [OFFICER])
    assert not chain.is_complete_approval("author", [])


def test_the_author_cannot_decide_on_their_own_item():
    with pytest.raises(Forbidden) as e:
        chain.check(chain.ChainState(author="li.na"), OFFICER)
    assert e.value.code == "author_cannot_decide"
    assert not chain.is_complete_approval("li.na", [OFFICER, HEAD])


def test_one_person_decides_at_most_one_stage_even_with_several_roles():
    both = (Role.OFFICER, Role.SECTION_HEAD)
    first = Decision(Stage.INITIAL, Outcome.APPROVE, "zhou", both)
    second = Decision(Stage.RECHECK, Outcome.APPROVE, "zhou", both)
    state = chain.advance(chain.ChainState(author="a"), first)
    with pytest.raises(Forbidden) as e:
        chain.check(state, second)
    assert e.value.code == "already_decided"
    assert not chain.is_complete_approval("a", [first, second])


def test_a_decision_for_a_stage_that_is_not_current_is_a_conflict():
    with pytest.raises(Conflict) as e:
        chain.check(chain.ChainState(author="a"), HEAD)
    assert e.value.code == "not_current_stage"


def test_a_role_that_does_not_decide_the_stage_is_forbidden():
    with pytest.raises(Forbidden) as e:
        chain.check(chain.ChainState(author="a"), Decision(Stage.INITIAL, Outcome.APPROVE, "x", (Role.LEADER,)))
    assert e.value.code == "wrong_role"


def test_initial_cannot_escalate_and_secrecy_is_the_last_stage():
    with pytest.raises(Conflict):
        chain.check(chain.ChainState(author="a"), Decision(Stage.INITIAL, Outcome.ESCALATE, "x", (Role.OFFICER,)))
    s = chain.advance(chain.ChainState(author="a"), OFFICER)
    s = chain.advance(s, Decision(Stage.RECHECK, Outcome.ESCALATE, "h", (Role.SECTION_HEAD,)))
    assert s.stage is Stage.LEADER
    s = chain.advance(s, Decision(Stage.LEADER, Outcome.ESCALATE, "l", (Role.LEADER,)))
    assert s.stage is Stage.SECRECY
    with pytest.raises(Conflict):
        chain.check(s, Decision(Stage.SECRECY, Outcome.ESCALATE, "s", (Role.SECRECY,)))


@pytest.mark.parametrize("outcome,verdict", [(Outcome.RETURN, Verdict.RETURNED), (Outcome.REJECT, Verdict.REJECTED)])
def test_return_and_reject_end_the_submission(outcome, verdict):
    s = chain.advance(chain.ChainState(author="a"), Decision(Stage.INITIAL, outcome, "o", (Role.OFFICER,)))
    assert s.verdict is verdict and s.finished
    with pytest.raises(Conflict):
        chain.check(s, HEAD)


def test_the_office_may_enter_the_secrecy_bureaus_decision_only_on_its_behalf():
    s = chain.ChainState(author="a", stage=Stage.SECRECY, deciders=["o", "h", "l"])
    office = (Role.OFFICE,)
    with pytest.raises(Forbidden):
        chain.check(s, Decision(Stage.SECRECY, Outcome.APPROVE, "zhang.bin", office))
    chain.check(s, Decision(Stage.SECRECY, Outcome.APPROVE, "zhang.bin", office, on_behalf_of="区保密局"))
    with pytest.raises(Forbidden):  # on behalf of nobody at another stage
        chain.check(chain.ChainState(author="a", stage=Stage.LEADER),
                    Decision(Stage.LEADER, Outcome.APPROVE, "zhang.bin", office, on_behalf_of="区保密局"))


def test_every_scan_finding_must_be_acknowledged_by_each_approving_reviewer():
    s = chain.ChainState(author="a", findings={"mobile:1": False, "id_card:2": False})
    with pytest.raises(Invalid) as e:
        chain.check(s, Decision(Stage.INITIAL, Outcome.APPROVE, "o", (Role.OFFICER,), acknowledged=frozenset({"mobile:1"})))
    assert e.value.code == "findings_not_acknowledged" and "id_card:2" in e.value.en
    both = frozenset({"mobile:1", "id_card:2"})
    s = chain.advance(s, Decision(Stage.INITIAL, Outcome.APPROVE, "o", (Role.OFFICER,), acknowledged=both))
    with pytest.raises(Invalid):  # the next reviewer acknowledges too
        chain.check(s, Decision(Stage.RECHECK, Outcome.APPROVE, "h", (Role.SECTION_HEAD,)))
    chain.check(s, Decision(Stage.RECHECK, Outcome.REJECT, "h", (Role.SECTION_HEAD,)))  # refusing needs none


def test_an_item_with_a_secrecy_mark_can_never_be_approved():
    s = chain.ChainState(author="a", findings={"secrecy_mark:1": True})
    with pytest.raises(Forbidden) as e:
        chain.check(s, Decision(Stage.INITIAL, Outcome.APPROVE, "o", (Role.OFFICER,),
                                acknowledged=frozenset({"secrecy_mark:1"})))
    assert e.value.code == "secrecy_mark"
    assert not chain.is_complete_approval("a", [OFFICER, HEAD], {"secrecy_mark:1": True})
