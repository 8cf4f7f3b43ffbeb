"""The item aggregate's rules, on events folded in memory."""

from datetime import UTC, datetime

import pytest

from contracts.chain import Outcome, Stage
from contracts.envelope import Actor, Envelope
from contracts.errors import Conflict, Forbidden, Invalid
from contracts.items import DEFAULT_CATEGORIES, ItemContent, ItemKind, ItemStatus
from contracts.reviews import DecisionDetails
from contracts.roles import Principal, Role
from contracts.scan import scan
from gongkai.eventlog import Stored
from services.items.domain import Item

NOW = datetime(2026, 5, 1, tzinfo=UTC)
AUTHOR = Principal(user="zhang.wei", org="org1", roles=[Role.AUTHOR])


def step(item: Item, event) -> Item:
    env = Envelope.wrap(event, aggregate_id=item.id, org=item.org or AUTHOR.org, actor=Actor(user="t"))
    item.apply(Stored(item.version + 1, env))
    return item


def drafted() -> Item:
    item = Item(id="i1")
    return step(item, item.create(AUTHOR, ItemContent(kind=ItemKind.PROACTIVE, category="meetings", title="会议"),
                                  DEFAULT_CATEGORIES))


def decide(item: Item, stage: Stage, outcome: Outcome, user: str, role: str) -> Item:
    return step(item, item.record_decision(submission=item.submission, stage=stage, outcome=outcome, user=user,
                                           roles=[role], comment=None, workflow_id="wf"))


def submitted() -> Item:
    item = drafted()
    return step(item, item.submit(AUTHOR, []))


def test_an_approved_chain_publishes():
    item = decide(decide(submitted(), Stage.INITIAL, Outcome.APPROVE, "li.na", "officer"),
                  Stage.RECHECK, Outcome.APPROVE, "wang.qiang", "section_head")
    step(item, item.publish(submission=1, published_at=NOW, index_no="o/2026-00001"))
    assert item.status is ItemStatus.PUBLISHED and item.published_at is not None


def test_publish_without_the_chain_is_refused_by_the_aggregate():
    item = submitted()
    with pytest.raises(Forbidden) as e:
        item.publish(submission=1, published_at=NOW, index_no="o/2026-00001")
    assert e.value.code == "chain_incomplete"
    decide(item, Stage.INITIAL, Outcome.APPROVE, "li.na", "officer")
    with pytest.raises(Forbidden):
        item.publish(submission=1, published_at=NOW, index_no="o/2026-00001")


def test_a_draft_cannot_be_published():
    with pytest.raises(Conflict):
        drafted().publish(submission=0, published_at=NOW, index_no="x")


def test_the_author_cannot_record_a_decision_on_their_own_item():
    item = submitted()
    with pytest.raises(Forbidden):
        item.record_decision(submission=1, stage=Stage.INITIAL, outcome=Outcome.APPROVE, user="zhang.wei",
                             roles=["officer"], comment=None, workflow_id="wf")


def test_approvals_of_an_earlier_submission_never_count_for_a_new_one():
    item = decide(submitted(), Stage.INITIAL, Outcome.APPROVE, "li.na", "officer")
    decide(item, Stage.RECHECK, Outcome.RETURN, "wang.qiang", "section_head")
    assert item.status is ItemStatus.RETURNED
    step(item, item.revise(AUTHOR, {"title": "会议（修改）"}, DEFAULT_CATEGORIES))
    step(item, item.submit(AUTHOR, []))
    assert item.submission == 2 and item.decisions == []
    with pytest.raises(Conflict):  # the new submission starts again at 初审
        item.record_decision(submission=2, stage=Stage.RECHECK, outcome=Outcome.APPROVE, user="wang.qiang",
                             roles=["section_head"], comment=None, workflow_id="wf")
    with pytest.raises(Conflict):  # a decision for the old submission is not recorded
        item.record_decision(submission=1, stage=Stage.RECHECK, outcome=Outcome.APPROVE, user="wang.qiang",
                             roles=["section_head"], comment=None, workflow_id="wf")


def test_only_draft_or_returned_items_can_be_edited_or_submitted():
    item = submitted()
    with pytest.raises(Conflict):
        item.revise(AUTHOR, {"title": "x"}, DEFAULT_CATEGORIES)
    with pytest.raises(Conflict):
        item.submit(AUTHOR, [])


def test_only_the_author_edits_and_submits():
    item = drafted()
    other = Principal(user="someone", org="org1", roles=[Role.AUTHOR])
    with pytest.raises(Forbidden):
        item.revise(other, {"title": "x"}, DEFAULT_CATEGORIES)
    with pytest.raises(Forbidden):
        item.submit(other, [])
    with pytest.raises(Forbidden):
        item.submit(Principal(user="zhang.wei", org="org2", roles=[Role.AUTHOR]), [])


def test_drafting_needs_the_author_role_and_a_known_category():
    with pytest.raises(Forbidden):
        Item(id="x").create(Principal(user="v", org="o", roles=[Role.VIEWER]),
                            ItemContent(kind=ItemKind.PROACTIVE, category="meetings", title="t"), DEFAULT_CATEGORIES)
    with pytest.raises(Invalid):
        Item(id="x").create(AUTHOR, ItemContent(kind=ItemKind.PROACTIVE, category="nope", title="t"),
                            DEFAULT_CATEGORIES)
    with pytest.raises(Invalid):
        Item(id="x").create(AUTHOR, ItemContent(kind=ItemKind.PROACTIVE, title="t"), DEFAULT_CATEGORIES)


def test_a_rejected_item_can_be_neither_edited_nor_published():
    item = decide(submitted(), Stage.INITIAL, Outcome.REJECT, "li.na", "officer")
    assert item.status is ItemStatus.REJECTED
    with pytest.raises(Conflict):
        item.revise(AUTHOR, {"title": "x"}, DEFAULT_CATEGORIES)
    with pytest.raises(Conflict):
        item.publish(submission=1, published_at=NOW, index_no="o/2026-00001")



def test_an_item_whose_text_carries_a_secrecy_mark_is_never_published():
    item = drafted()
    findings = scan("通知", "机密★5年\n内容", sensitive_words=())
    step(item, item.submit(AUTHOR, findings))
    ids = [f.id for f in findings]
    with pytest.raises(Forbidden):
        item.record_decision(submission=1, stage=Stage.INITIAL, outcome=Outcome.APPROVE, user="li.na",
                             roles=["officer"], comment=None, workflow_id="wf",
                             details=DecisionDetails(acknowledged=ids))
    with pytest.raises(Forbidden):
        item.publish(submission=1, published_at=NOW, index_no="x")


def test_approving_reviewers_must_acknowledge_the_scan_findings():
    item = drafted()
    findings = scan("通知", "联系电话 13812345678", sensitive_words=())
    step(item, item.submit(AUTHOR, findings))
    with pytest.raises(Invalid):
        item.record_decision(submission=1, stage=Stage.INITIAL, outcome=Outcome.APPROVE, user="li.na",
                             roles=["officer"], comment=None, workflow_id="wf")
    step(item, item.record_decision(submission=1, stage=Stage.INITIAL, outcome=Outcome.APPROVE, user="li.na",
                                    roles=["officer"], comment=None, workflow_id="wf",
                                    details=DecisionDetails(acknowledged=[findings[0].id])))
    assert item.review.stage is Stage.RECHECK
