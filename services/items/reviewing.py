"""The second guard, shared by every aggregate that goes through the review chain (items, answers to
applications, table-二 records): a decision is recorded only if it is the chain's next valid step of the
submission under review."""

from __future__ import annotations

from typing import Protocol

from contracts import chain
from contracts.chain import Decision, Outcome, Stage
from contracts.errors import Conflict
from contracts.reviews import DecisionDetails, DecisionRecorded


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
