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
    with pytest.raises(Invalid):
        chain.check(chain.ChainState(author="a"), Decision(Stage.INITIAL, Outcome.ESCALATE, "x", (Role.OFFICER,)))
    s = chain.advance(chain.ChainState(author="a"), OFFICER)
    s = chain.advance(s, Decision(Stage.RECHECK, Outcome.ESCALATE, "h", (Role.SECTION_HEAD,)))
    assert s.stage is Stage.LEADER
    s = chain.advance(s, Decision(Stage.LEADER, Outcome.ESCALATE, "l", (Role.LEADER,)))
    assert s.stage is Stage.SECRECY
    with pytest.raises(Invalid):
        chain.check(s, Decision(Stage.SECRECY, Outcome.ESCALATE, "s", (Role.SECRECY,)))


@pytest.mark.parametrize("outcome,verdict", [(Outcome.RETURN, Verdict.RETURNED), (Outcome.REJECT, Verdict.REJECTED)])
def test_return_and_reject_end_the_submission(outcome, verdict):
    s = chain.advance(chain.ChainState(author="a"), Decision(Stage.INITIAL, outcome, "o", (Role.OFFICER,)))
    assert s.verdict is verdict and s.finished
    with pytest.raises(Conflict):
        chain.check(s, HEAD)
