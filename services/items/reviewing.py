"""The second guard, shared by every aggregate that goes through the review chain (items, answers to
applications, table-二 records): a decision is recorded only if it is the chain's next valid step of the
submission under review."""

from __future__ import annotations

from typing import Protocol

from contracts import chain
from contracts.chain import Decision, Outcome, Stage
from contracts.envelope import Actor
from contracts.errors import Conflict
from contracts.reviews import DecisionDetails, DecisionRecorded, RecordDecision
from gongkai.submission import decision_event_id as request_event_id


class UnderReview(Protocol):
    review_open: bool
    submission: int

    @property
    def review(self) -> chain.ChainState: ...


def recorded_decision(agg: UnderReview, *, submission: int, stage: Stage, outcome: Outcome, user: str,
                      roles: list[str], comment: str | None, workflow_id: str,
                      details: DecisionDetails | None = None, purpose: str = "publish") -> DecisionRecorded:
    if not agg.review_open or submission != agg.submission:
        raise Conflict("该次提交已不在审查中", "this submission is no longer in review", code="review_finished")
    details = details or DecisionDetails()
    chain.check(agg.review, Decision.of(stage, outcome, user, roles, on_behalf_of=details.on_behalf_of,
                                        acknowledged=details.acknowledged))
    return DecisionRecorded(submission=submission, stage=stage, outcome=outcome, decided_by=user, roles=list(roles),
                            comment=comment, workflow_id=workflow_id, purpose=purpose, **details.model_dump())


def decision_event_id(cmd: RecordDecision) -> str:
    """A decision is recorded once even if the activity runs again after a lost reply."""
    return request_event_id(cmd.request_id)


def decision_actor(cmd: RecordDecision) -> Actor:
    return Actor(user=cmd.decided_by, roles=cmd.roles, via=f"workflow:{cmd.workflow_id}")


def decision_event(agg, cmd: RecordDecision):
    """The aggregate's event for the decision, or None when this request's decision is already recorded."""
    event_id = decision_event_id(cmd)
    if any(st.envelope.event_id == event_id for st in agg.history):
        return None
    return agg.record_decision(submission=cmd.submission, stage=cmd.stage, outcome=cmd.outcome, user=cmd.decided_by,
                               roles=cmd.roles, comment=cmd.comment, workflow_id=cmd.workflow_id,
                               details=DecisionDetails.model_validate(cmd.model_dump(
                                   include=set(DecisionDetails.model_fields))))
