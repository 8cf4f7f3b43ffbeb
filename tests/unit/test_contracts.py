"""The committed contracts in contracts/schemas/ are exactly what the code renders, and the event schemas
accept the events the code writes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import jsonschema
import pytest

from contracts.application_events import (
    AnswerSubmitted,
    Applicant,
    ApplicationAnswered,
    ApplicationClosed,
    ApplicationReceived,
    CaseDecided,
    CaseRecorded,
    ClockEventRecorded,
    FeeNotified,
    ProposalAnswered,
    ProposalReceived,
    ReportTextSet,
    ReportYearClosed,
    Section2Approved,
    Section2Figures,
    Section2Submitted,
)
from contracts.chain import Outcome, Stage
from contracts.envelope import Actor, Envelope, Event
from contracts.generate import SCHEMAS_DIR, event_file, render
from contracts.items import (
    ChangeRequested,
    ImportedReview,
    IndexAssigned,
    ItemDrafted,
    ItemImported,
    ItemKind,
    ItemPublished,
    ItemRetracted,
    ItemRevised,
    ItemSubmitted,
    ItemWithdrawn,
    ValidityChanged,
)
from contracts.registry import EVENT_CLASSES
from contracts.reviews import DecisionRecorded, ReviewAgainDue, ReviewOverdue

REGENERATE = "run `python -m contracts.generate` and commit contracts/schemas/"
WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

EXAMPLES: list[Event] = [
    ItemDrafted(kind=ItemKind.PROACTIVE, category="meetings", title="关于召开会议的通知", body="…",
                formed_on=date(2026, 2, 27), channels=["website"], author="li"),
    ItemRevised(changes={"title": "新标题", "channels": ["website", "wechat"]}),
    ItemSubmitted(submission=1, workflow_id="review-item-x1-1"),
    ItemWithdrawn(reason="内容有误"),
    DecisionRecorded(submission=1, stage=Stage.INITIAL, outcome=Outcome.APPROVE, decided_by="wang",
                     roles=["officer"], comment=None, workflow_id="review-item-x1-1"),
    ItemPublished(submission=1, published_at=WHEN, index_no="000000-2026-00001", channels=["website"]),
    ItemImported(kind=ItemKind.PROACTIVE, title="旧信息", author="zhao", published_at=WHEN,
                 reviews=[ImportedReview(stage="initial", outcome="approve", user="qian", decided_on=None)]),
    IndexAssigned(year=2026, seq=1, index_no="004230122/2026-00001", item_id="x1"),
    ReviewOverdue(submission=1, deadline="stage", stage=Stage.INITIAL, due_at=WHEN, remind_roles=["officer"]),
    ReviewAgainDue(submission=1, review_again_on=date(2027, 1, 4), remind_roles=["office"]),
    ChangeRequested(submission=2, workflow_id="review-item-x1-2", change="retract", reason="内容已过时"),
    ItemRetracted(submission=2, retracted_at=WHEN, reason="内容已过时"),
    ValidityChanged(submission=3, validity="repealed", effective_on=date(2026, 12, 31)),
    ApplicationReceived(applicant_type="natural_person", channel="online", received_on=date(2026, 3, 2),
                        applicant=Applicant(name="王某"), subject="2025年公务用车数量", registered_by="zhang.bin"),
    ClockEventRecorded(kind="extended", on=date(2026, 3, 20), days=10, approved_by="wang.qiang"),
    FeeNotified(on=date(2026, 3, 10), method="per_volume", amount_yuan=700, pages=100),
    AnswerSubmitted(submission=1, workflow_id="review-application-a1-1", outcome="granted", body="予以公开",
                    drafted_by="zhang.bin"),
    ApplicationAnswered(submission=1, outcome="granted", answered_on=date(2026, 3, 25), reply_type=2),
    ApplicationClosed(outcome="other_no_correction", closed_on=date(2026, 4, 30)),
    CaseRecorded(case_id="c1", kind="administrative_review", filed_on=date(2026, 5, 6)),
    CaseDecided(case_id="c1", result="upheld", decided_on=date(2026, 7, 1)),
    ProposalReceived(kind="npc_suggestion", received_on=date(2026, 3, 9), title="关于公共机构节能的建议"),
    ProposalAnswered(answered_on=date(2026, 6, 1)),
    ReportTextSet(year=2026, section="overall", text="2026年，本单位……"),
    Section2Submitted(year=2026, submission=1, workflow_id="review-record-o-2026-1", drafted_by="zhang.bin",
                      figures=Section2Figures(administrative_licensing=41, fee_amount_wan_yuan="12.3456")),
    Section2Approved(year=2026, submission=1),
    ReportYearClosed(year=2025, digest="0" * 64, figures={"proactive": {"total": 150}}, closed_by="zhang.bin"),
]


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return render()


def stored(event: Event) -> dict:
    env = Envelope.wrap(event, aggregate_id="x1", org="org-1", actor=Actor(user="li", roles=["officer"]),
                        occurred_at=WHEN, correlation_id="c-1")
    return env.model_dump(mode="json")


def committed_schema(cls: type[Event]) -> dict:
    return json.loads((SCHEMAS_DIR / event_file(cls)).read_text(encoding="utf-8"))


def test_committed_files_match_render(rendered):
    for name, text in rendered.items():
        path = SCHEMAS_DIR / name
        assert path.exists(), f"contracts/schemas/{name} is missing; {REGENERATE}"
        assert path.read_text(encoding="utf-8") == text, f"contracts/schemas/{name} is out of date; {REGENERATE}"


def test_no_stale_files(rendered):
    extra = sorted(p.name for p in SCHEMAS_DIR.iterdir() if p.name not in rendered)
    assert not extra, f"contracts/schemas/ has files the code no longer renders: {extra}; {REGENERATE}"


def test_every_event_class_has_an_example():
    assert sorted(type(e).__name__ for e in EXAMPLES) == sorted(c.__name__ for c in EVENT_CLASSES)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.TYPE)
def test_stored_event_validates_against_its_schema(event):
    schema = committed_schema(type(event))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(stored(event), schema, cls=jsonschema.Draft202012Validator)


def test_type_must_match_the_schema():
    doc = stored(EXAMPLES[0]) | {"type": ItemRevised.TYPE}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, committed_schema(ItemDrafted), cls=jsonschema.Draft202012Validator)


def test_payload_must_match_the_type():
    # a drafted payload labelled as a revision: the payload schema forbids its fields
    doc = stored(EXAMPLES[0]) | {"type": ItemRevised.TYPE}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, committed_schema(ItemRevised), cls=jsonschema.Draft202012Validator)
