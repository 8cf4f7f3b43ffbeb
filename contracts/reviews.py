"""Review decisions (审查决定) and the messages between the reviews service, the workflow and the items
service."""

from __future__ import annotations

from pydantic import BaseModel, Field

from contracts.chain import Outcome, Stage
from contracts.envelope import Event


class DecisionRecorded(Event):
    """One reviewer's decision at one stage of one submission (who, role, stage, outcome, comment)."""

    TYPE = "review.decided"
    AGGREGATE = "item"
    submission: int
    stage: Stage
    outcome: Outcome
    decided_by: str
    roles: list[str]
    comment: str | None = None
    workflow_id: str


class DecisionRequest(BaseModel):
    """Body of POST /items/{id}/decisions."""

    stage: Stage
    outcome: Outcome
    comment: str | None = Field(default=None, max_length=5000)


class SubmissionInput(BaseModel):
    """Input of the publishing workflow: one submission of one item."""

    aggregate: str = "item"
    aggregate_id: str
    org: str
    author: str
    submission: int
    title: str = ""


class DecisionInput(BaseModel):
    """A decision as the workflow's `decide` update receives it."""

    stage: Stage
    outcome: Outcome
    comment: str | None = None
    user: str
    roles: list[str]
    org: str
    request_id: str


class ReviewState(BaseModel):
    """What the workflow reports after a decision and to queries."""

    aggregate_id: str
    submission: int
    stage: Stage | None
    verdict: str | None = None
    status: str
    deciders: list[str] = Field(default_factory=list)


# --- commands the workflow's activities send to the items service over NATS ---

class RecordDecision(BaseModel):
    aggregate_id: str
    org: str
    submission: int
    stage: Stage
    outcome: Outcome
    comment: str | None = None
    decided_by: str
    roles: list[str]
    workflow_id: str
    request_id: str


class PublishItem(BaseModel):
    aggregate_id: str
    org: str
    submission: int
    workflow_id: str


class SubmissionQuery(BaseModel):
    aggregate_id: str


class CommandReply(BaseModel):
    ok: bool
    seq: int | None = None
    status: str | None = None
    submission: int | None = None
    error_kind: str | None = None
    error: str | None = None
    zh: str | None = None
    en: str | None = None
