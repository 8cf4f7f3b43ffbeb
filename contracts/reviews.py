"""Review decisions (审查决定) and the messages between the reviews service, the workflow and the items
service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from contracts.chain import Outcome, Stage
from contracts.envelope import Event
from contracts.exemptions import REJECT_REASONS


class Referral(BaseModel):
    """报同级保密部门: the referral to the secrecy bureau, as its letter records it."""

    sent_on: date
    reference_no: str = Field(min_length=1, max_length=100)
    answered_on: date
    conclusion: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _answer_after_sending(self) -> Referral:
        if self.answered_on < self.sent_on:
            raise ValueError("answered_on is before sent_on / 答复日期早于报送日期")
        return self


class DecisionDetails(BaseModel):
    """What a decision carries beyond stage and outcome; every field optional so old events stay valid."""

    reason_code: str | None = Field(default=None, description="for reject: a ground of Art. 14-16")
    review_again_on: date | None = Field(default=None, description="for reject: when to review again (Art. 18)")
    referral: Referral | None = Field(default=None, description="at stage secrecy: the bureau's referral")
    on_behalf_of: str | None = Field(default=None, max_length=200,
                                     description="the outside body whose decision the office enters")
    acknowledged: list[str] = Field(default_factory=list, description="ids of scan findings the reviewer checked")


class DecisionRecorded(Event, DecisionDetails):
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
    purpose: Literal["publish", "retract", "validity"] = "publish"  # what the reviewed submission asks for


class DecisionRequest(DecisionDetails):
    """Body of POST /items/{id}/decisions; checks what a decision of its kind must say."""

    stage: Stage
    outcome: Outcome
    comment: str | None = Field(default=None, max_length=5000)
    # the details again, bounded here only: the recorded decisions (events) keep what they always accepted
    reason_code: str | None = Field(default=None, max_length=100, description="for reject: a ground of Art. 14-16")
    acknowledged: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=20_000, description="ids of scan findings the reviewer checked")

    @model_validator(mode="after")
    def _complete(self) -> DecisionRequest:
        if self.outcome in (Outcome.RETURN, Outcome.REJECT) and not (self.comment or "").strip():
            raise ValueError("a return or a reject needs a comment for the author / 退回或不予公开须填写意见")
        if self.outcome is Outcome.REJECT and self.reason_code not in REJECT_REASONS:
            raise ValueError(f"a reject needs reason_code, one of {sorted(REJECT_REASONS)} / 须选择不予公开的理由")
        if self.outcome is not Outcome.REJECT and (self.reason_code or self.review_again_on):
            raise ValueError("reason_code and review_again_on belong to a reject / 仅不予公开时填写")
        if self.stage is Stage.SECRECY and self.outcome is not Outcome.ESCALATE and self.referral is None:
            raise ValueError("a decision of the secrecy bureau records its referral / 保密部门审查须记录报送情况")
        if self.stage is not Stage.SECRECY and (self.referral or self.on_behalf_of):
            raise ValueError("referral and on_behalf_of belong to stage secrecy / 仅保密部门环节填写")
        return self


class PriorDecision(BaseModel):
    """A decision already recorded on the submission, for a workflow that starts after it (update-with-start
    when the submission's workflow was lost): the workflow resumes at the stage these lead to."""

    stage: Stage
    outcome: Outcome
    user: str
    roles: list[str]
    on_behalf_of: str | None = None
    acknowledged: list[str] = Field(default_factory=list)


class SubmissionInput(BaseModel):
    """Input of the publishing workflow: one submission of one item."""

    aggregate: str = "item"
    aggregate_id: str
    org: str
    author: str
    submission: int
    title: str = ""
    stage_deadline: str = "3wd"  # a gongkai.deployment.Duration
    publication_due_at: datetime | None = None  # Art. 26, from formed_on
    findings: dict[str, bool] = Field(default_factory=dict)  # scan finding id → blocks publication
    purpose: Literal["publish", "retract", "validity"] = "publish"
    decisions: list[PriorDecision] = Field(default_factory=list)  # recorded on this submission so far


class ReviewOverdue(Event):
    """逾期: a deadline passed; `remind_roles` are the next people in line, who are reminded."""

    TYPE = "review.overdue"
    AGGREGATE = "item"
    submission: int
    deadline: Literal["stage", "publication"]
    stage: Stage | None = None
    due_at: datetime
    remind_roles: list[str]


class ReviewAgainDue(Event):
    """Art. 18: the day set when the item was not disclosed has come; the office is reminded to review it."""

    TYPE = "item.review_again_due"
    AGGREGATE = "item"
    submission: int
    review_again_on: date
    remind_roles: list[str]


class DeadlineRequest(BaseModel):
    rule: str
    start: datetime
    duration: str


class Reminder(BaseModel):
    """A command: record that a deadline passed, or that a review-again date came."""

    aggregate: str = "item"
    aggregate_id: str
    submission: int
    workflow_id: str
    kind: Literal["stage", "publication", "review_again"]
    stage: Stage | None = None
    due_at: datetime | None = None
    review_again_on: date | None = None
    remind_roles: list[str]


class DecisionInput(DecisionDetails):
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
    due_at: datetime | None = None  # the current stage's deadline, once the workflow has computed it


# --- commands the workflow's activities send to the items service over NATS ---

class RecordDecision(DecisionDetails):
    aggregate: str = "item"
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
    """Publish the approved item — or, for an application, send the approved answer."""

    aggregate: str = "item"
    aggregate_id: str
    org: str
    submission: int
    workflow_id: str



class CommandReply(BaseModel):
    ok: bool
    seq: int | None = None
    status: str | None = None
    submission: int | None = None
    item_id: str | None = None
    error_kind: str | None = None
    error: str | None = None
    zh: str | None = None
    en: str | None = None


class AnnualReportInput(BaseModel):
    """Input of the annual-report workflow; `year` None means the year before the one it runs in (a schedule)."""

    org: str
    year: int | None = None
    template: str = "2021"


class GeneratedReport(BaseModel):
    org: str
    year: int
    template: str
    title: str
    body: str  # the report in Markdown, filed as the item's body
    blocking: list[str] = Field(default_factory=list)  # the hard rules that fail, with their cells


class FileReport(BaseModel):
    """Command to the items service: file the generated report as an item of kind annual_report and submit it."""

    org: str
    year: int
    template: str
    title: str
    body: str


class AnnualReportResult(BaseModel):
    org: str
    year: int
    status: Literal["submitted", "refused"]
    item_id: str | None = None
    blocking: list[str] = Field(default_factory=list)
