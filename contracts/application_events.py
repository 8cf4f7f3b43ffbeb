"""The v1 events of a disclosure application (依申请公开): registered, its legal clock, its answer (reviewed
like an item), fees, and how it ended. The table-三 keys they carry are in contracts/applications.py."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from contracts.applications import ApplicantType, CaseKind, CaseResult, Channel, FeeMethod, Outcome
from contracts.envelope import Event


class Applicant(BaseModel):
    """申请人: personal information — only the office and the application's reviewers may read it."""

    name: str = Field(min_length=1, max_length=200)
    id_number: str | None = Field(default=None, max_length=40, description="证件号码")
    organization: str | None = Field(default=None, max_length=200, description="for a legal person: its name")
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=200)


class ApplicationReceived(Event):
    """收到申请 (Art. 31: the received date as the channel defines it)."""

    TYPE = "application.received"
    AGGREGATE = "application"
    applicant_type: ApplicantType
    channel: Channel
    received_on: date
    applicant: Applicant
    subject: str
    content: str = ""
    registered_by: str


class ClockEventRecorded(Event):
    """A step of the legal clock: correction requested/received, consultation started/ended, extension, fee
    notice, payment (see gongkai/appclock.py for what each does to the due date)."""

    TYPE = "application.clock"
    AGGREGATE = "application"
    kind: str
    on: date
    days: int | None = None
    note: str | None = None
    approved_by: str | None = None  # an extension needs a section head


class FeeNotified(Event):
    """收费通知 per 国办函〔2020〕109号: one method per application, never both."""

    TYPE = "application.fee_notified"
    AGGREGATE = "application"
    on: date
    method: FeeMethod
    amount_yuan: int
    nth_in_month: int | None = None
    pages: int | None = None


class AnswerSubmitted(Event):
    """拟答复: the office's answer, submitted to the review chain; it is sent only once approved."""

    TYPE = "application.answer_submitted"
    AGGREGATE = "application"
    submission: int
    workflow_id: str
    outcome: Outcome
    reason: str | None = None
    body: str
    drafted_by: str


class ApplicationAnswered(Event):
    """答复: the approved answer went out; the application counts in its row of table 三."""

    TYPE = "application.answered"
    AGGREGATE = "application"
    submission: int
    outcome: Outcome
    answered_on: date
    reply_type: int | None = None  # Art. 36 reply type, when the outcome has one


class ApplicationClosed(Event):
    """The correction or payment window ran out (other_no_correction / other_fee_unpaid), recorded by the
    system; the application counts in that row."""

    TYPE = "application.closed"
    AGGREGATE = "application"
    outcome: Outcome
    closed_on: date


class CaseRecorded(Event):
    """复议/诉讼 arising from the application (table 四): filed, and its result once known."""

    TYPE = "application.case_recorded"
    AGGREGATE = "application"
    case_id: str
    kind: CaseKind
    filed_on: date
    result: CaseResult = CaseResult.PENDING
    decided_on: date | None = None


class CaseDecided(Event):
    TYPE = "application.case_decided"
    AGGREGATE = "application"
    case_id: str
    result: CaseResult
    decided_on: date


class ProposalReceived(Event):
    """人大代表建议 / 政协委员提案 received for handling (the seed's §十)."""

    TYPE = "proposal.received"
    AGGREGATE = "proposal"
    kind: Literal["npc_suggestion", "cppcc_proposal"]
    received_on: date
    title: str
    number: str | None = None


class ProposalAnswered(Event):
    TYPE = "proposal.answered"
    AGGREGATE = "proposal"
    answered_on: date


class ApplicationRef(BaseModel):
    aggregate_id: str


class ApplicantWindows(BaseModel):
    """When the applicant's open window (补正 or 缴费) runs out; the clock workflow waits for that moment."""

    finished: bool
    expires_at: datetime | None = None  # the start of the day after the window's last day, Asia/Shanghai
    which: str | None = None


class ReportTextSet(Event):
    """A narrative section of an org's annual report (the parts that are not counts), as the office wrote it."""

    TYPE = "report.text_set"
    AGGREGATE = "report"
    year: int
    section: str
    text: str


class Section2Figures(BaseModel):
    """Table 二 (Art. 20 items 1, 5, 6, 8): the figures that are not items, as a department records them."""

    rules_issued: int = Field(default=0, ge=0)
    rules_repealed: int = Field(default=0, ge=0)
    rules_in_force: int = Field(default=0, ge=0)
    normative_documents_issued: int = Field(default=0, ge=0)
    normative_documents_repealed: int = Field(default=0, ge=0)
    normative_documents_in_force: int = Field(default=0, ge=0)
    administrative_licensing: int = Field(default=0, ge=0)
    administrative_penalty: int = Field(default=0, ge=0)
    administrative_coercion: int = Field(default=0, ge=0)
    fee_amount_wan_yuan: Decimal = Field(default=Decimal(0), ge=0, decimal_places=4, description="行政事业性收费，万元")


class Section2Submitted(Event):
    """The year's table-二 figures, submitted to the review chain; they count once approved."""

    TYPE = "record.section2_submitted"
    AGGREGATE = "record"
    year: int
    submission: int
    workflow_id: str
    figures: Section2Figures
    drafted_by: str


class Section2Approved(Event):
    TYPE = "record.section2_approved"
    AGGREGATE = "record"
    year: int
    submission: int


class ReportYearClosed(Event):
    """年度关账: the office closed the year; the report's figures are kept as they were, with their digest, and
    any later change to them is shown as a restatement rather than silently changing a published report."""

    TYPE = "report.year_closed"
    AGGREGATE = "report"
    year: int
    digest: str
    figures: dict
    closed_by: str


class CloseYear(BaseModel):
    org: str
    year: int
    digest: str
    figures: dict
    closed_by: str
