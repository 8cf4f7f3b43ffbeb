"""The application aggregate (依申请公开): the register entry, its legal clock, its answer through the
review chain, its fee, and how it ended. No I/O; a command returns the event to append."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from contracts import chain
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
)
from contracts.applications import (
    REASON_REQUIRED,
    ApplicantType,
    CaseKind,
    CaseResult,
    Channel,
    FeeMethod,
    Outcome,
    fee,
    reply_type,
)
from contracts.chain import Decision, Stage
from contracts.chain import Outcome as DecisionOutcome
from contracts.envelope import Event
from contracts.errors import Conflict, Forbidden, Invalid, NotFound
from contracts.reviews import DecisionDetails, DecisionRecorded, Reminder, ReviewOverdue
from contracts.roles import Principal, Role
from contracts.subjects import review_workflow_id
from gongkai import appclock
from gongkai.eventlog import Stored
from services.items.reviewing import recorded_decision

#: the outcomes the system records itself when the applicant's window runs out
AUTOMATIC = {Outcome.OTHER_NO_CORRECTION: "correction", Outcome.OTHER_FEE_UNPAID: "payment"}
CLOCK_KINDS = {"correction_requested", "corrected", "consultation_started", "consultation_ended", "extended",
               "fee_paid"}


@dataclass
class Application:
    AGGREGATE: ClassVar[str] = "application"
    id: str
    org: str = ""
    applicant_type: ApplicantType | None = None
    channel: Channel | None = None
    received_on: date | None = None
    applicant: Applicant | None = None
    subject: str = ""
    content: str = ""
    registered_by: str = ""
    clock_events: list[appclock.ClockEvent] = field(default_factory=list)
    fee: FeeNotified | None = None
    submission: int = 0
    answer: AnswerSubmitted | None = None
    decisions: list[Decision] = field(default_factory=list)
    review_open: bool = False
    stage_started_at: Any = None
    outcome: Outcome | None = None
    finished_on: date | None = None
    closed: bool = False  # ended by the system (a window ran out), not by an answer
    reminders: list[Stored] = field(default_factory=list)
    cases: dict[str, CaseRecorded] = field(default_factory=dict)  # 复议/诉讼 arising from it
    version: int = 0
    history: list[Stored] = field(default_factory=list)

    @classmethod
    def from_events(cls, app_id: str, events: list[Stored]) -> Application:
        app = cls(id=app_id)
        for st in events:
            app.apply(st)
        return app

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def status(self) -> str:
        if self.outcome is not None:
            return "closed" if self.closed else "answered"
        return "in_review" if self.review_open else "open"

    @property
    def review(self) -> chain.ChainState:
        return chain.replay(self.answer.drafted_by if self.answer else "", self.decisions)

    def clock(self) -> appclock.ClockState:
        return appclock.clock(self.clock_events)

    def apply(self, st: Stored) -> None:
        env, ev = st.envelope, st.envelope.event()
        self.version = st.seq
        self.history.append(st)
        match ev:
            case ApplicationReceived():
                self.org, self.applicant_type, self.channel = env.org, ev.applicant_type, ev.channel
                self.received_on, self.applicant, self.subject = ev.received_on, ev.applicant, ev.subject
                self.content, self.registered_by = ev.content, ev.registered_by
                self.clock_events = [appclock.ClockEvent(kind="received", on=ev.received_on)]
            case ClockEventRecorded():
                self.clock_events.append(appclock.ClockEvent(kind=ev.kind, on=ev.on, days=ev.days))
            case FeeNotified():
                self.fee = ev
                self.clock_events.append(appclock.ClockEvent(kind="fee_notified", on=ev.on))
            case AnswerSubmitted():
                self.submission, self.answer, self.decisions = ev.submission, ev, []
                self.review_open, self.stage_started_at = True, env.occurred_at
            case DecisionRecorded():
                self.decisions.append(Decision.of(ev.stage, ev.outcome, ev.decided_by, ev.roles,
                                                  on_behalf_of=ev.on_behalf_of, acknowledged=ev.acknowledged))
                self.stage_started_at = env.occurred_at
                if ev.outcome in (DecisionOutcome.RETURN, DecisionOutcome.REJECT):
                    self.review_open = False  # the office drafts the answer again
            case ApplicationAnswered():
                self.review_open, self.outcome, self.finished_on = False, ev.outcome, ev.answered_on
            case ApplicationClosed():
                self.outcome, self.finished_on, self.closed = ev.outcome, ev.closed_on, True
            case ReviewOverdue():
                self.reminders.append(st)
            case CaseRecorded():
                self.cases[ev.case_id] = ev
            case CaseDecided():
                self.cases[ev.case_id] = self.cases[ev.case_id].model_copy(
                    update={"result": ev.result, "decided_on": ev.decided_on})

    # ---- rules -------------------------------------------------------------------------------------------
    def check_office(self, by: Principal) -> None:
        if by.org != self.org:
            raise Forbidden("不能办理其他单位的申请", "this application belongs to another org", code="other_org")
        if Role.OFFICE not in by.roles:
            raise Forbidden("依申请公开由公开办公室登记和答复", "only role office registers and answers applications",
                            code="wrong_role")

    def _open(self) -> None:
        if self.outcome is not None:
            raise Conflict("该申请已办结", "the application is already finished", code="finished")

    def may_read_applicant(self, by: Principal) -> bool:
        """申请人信息 is personal information: the office, and the reviewers of this application."""
        if by.org != self.org:
            return False
        if Role.OFFICE in by.roles:
            return True
        deciders = {d.user for d in self.decisions}
        reviewing = self.review_open and any(chain.DECIDER[s] in by.roles for s in chain.Stage)
        return by.user in deciders or reviewing

    def register(self, by: Principal, *, applicant_type: ApplicantType, channel: Channel, received_on: date,
                 applicant: Applicant, subject: str, content: str, today: date) -> Event:
        if self.exists:
            raise Conflict("该申请已登记", "application already registered", code="exists")
        if Role.OFFICE not in by.roles:
            raise Forbidden("依申请公开由公开办公室登记", "only role office registers applications", code="wrong_role")
        if received_on > today:
            raise Invalid("收到日期不能晚于今天", "received_on is in the future", code="future_date")
        return ApplicationReceived(applicant_type=applicant_type, channel=channel, received_on=received_on,
                                   applicant=applicant, subject=subject, content=content, registered_by=by.user)

    def record_clock(self, by: Principal, kind: str, on: date, days: int | None, note: str | None) -> Event:
        """A step of the legal clock; the clock itself refuses what the Regulation does not allow."""
        if kind == "extended":  # Art. 33: the extension is approved by the head of the office
            if by.org != self.org or Role.SECTION_HEAD not in by.roles:
                raise Forbidden("延期答复须经科室负责人批准", "an extension needs the approval of a section_head",
                                code="wrong_role")
        else:
            self.check_office(by)
        self._open()
        if kind not in CLOCK_KINDS:
            raise Invalid(f"未知的办理环节 {kind}", f"unknown clock step {kind!r}; one of {sorted(CLOCK_KINDS)}",
                          code="unknown_step")
        try:
            appclock.clock([*self.clock_events, appclock.ClockEvent(kind=kind, on=on, days=days)])
        except appclock.ClockError as e:
            raise Conflict(str(e), str(e), code="clock_refused") from None
        return ClockEventRecorded(kind=kind, on=on, days=days, note=note,
                                  approved_by=by.user if kind == "extended" else None)

    def notify_fee(self, by: Principal, *, on: date, method: FeeMethod, nth_in_month: int | None,
                   pages: int | None) -> Event:
        self.check_office(by)
        self._open()
        if self.fee is not None:
            raise Conflict("该申请已发出收费通知", "a fee notice was already sent", code="fee_exists")
        try:
            amount = fee(method, nth_in_month=nth_in_month, pages=pages)
        except ValueError as e:
            raise Invalid("收费方式和计费依据不符", str(e), code="fee_invalid") from None
        return FeeNotified(on=on, method=method, amount_yuan=amount, nth_in_month=nth_in_month, pages=pages)

    def submit_answer(self, by: Principal, *, outcome: Outcome, reason: str | None, body: str) -> AnswerSubmitted:
        self.check_office(by)
        self._open()
        if self.review_open:
            raise Conflict("答复正在审查中", "an answer is already under review", code="in_review")
        if outcome in REASON_REQUIRED and not (reason or "").strip():
            raise Invalid("该办理结果须说明法律依据和理由", f"outcome {outcome} needs a legal reason",
                          code="reason_required")
        if outcome in AUTOMATIC:
            raise Conflict("该结果由系统在期限届满时自动记录", f"{outcome} is recorded when the window runs out",
                           code="automatic_outcome")
        n = self.submission + 1
        return AnswerSubmitted(submission=n, workflow_id=review_workflow_id("application", self.id, n),
                               outcome=outcome, reason=reason, body=body, drafted_by=by.user)

    def record_decision(self, *, submission: int, stage: Stage, outcome: DecisionOutcome, user: str,
                        roles: list[str], comment: str | None, workflow_id: str,
                        details: DecisionDetails | None = None) -> Event:
        """The second guard, as for items: only the chain's next valid step is recorded."""
        return recorded_decision(self, submission=submission, stage=stage, outcome=outcome, user=user, roles=roles,
                                 comment=comment, workflow_id=workflow_id, details=details)

    def send(self, *, submission: int, today: date) -> Event:
        """先审查后答复: the answer goes out only after a complete approved chain."""
        if not self.review_open or self.answer is None or submission != self.submission:
            raise Conflict("没有待发出的答复", "no approved answer awaits sending", code="not_sendable")
        if not chain.is_complete_approval(self.answer.drafted_by, self.decisions):
            raise Forbidden("答复未经完整审查链批准，不得发出", "the review chain has not approved this answer",
                            code="chain_incomplete")
        return ApplicationAnswered(submission=submission, outcome=self.answer.outcome, answered_on=today,
                                   reply_type=(rt := reply_type(self.answer.outcome)) and int(rt))

    def close_expired(self, today: date) -> Event:
        """The applicant let the correction or payment window run out: the application ends so."""
        self._open()
        which = appclock.expired(self.clock(), today)
        if which is None:
            raise Conflict("补正或缴费期限尚未届满", "no correction or payment window has run out", code="not_expired")
        outcome = Outcome.OTHER_NO_CORRECTION if which == "correction" else Outcome.OTHER_FEE_UNPAID
        return ApplicationClosed(outcome=outcome, closed_on=today)

    def record_case(self, by: Principal, *, case_id: str, kind: CaseKind, filed_on: date,
                    result: CaseResult, decided_on: date | None) -> Event:
        self.check_office(by)
        if self.received_on and filed_on < self.received_on:
            raise Invalid("复议或诉讼不能早于申请", "a case cannot be filed before the application", code="bad_date")
        if (result is CaseResult.PENDING) != (decided_on is None):
            raise Invalid("已审结的案件须有审结日期，未审结的不应有", "a decided case has a decided_on, a pending one none",
                          code="bad_date")
        return CaseRecorded(case_id=case_id, kind=kind, filed_on=filed_on, result=result, decided_on=decided_on)

    def decide_case(self, by: Principal, *, case_id: str, result: CaseResult, decided_on: date) -> Event:
        self.check_office(by)
        case = self.cases.get(case_id)
        if case is None:
            raise NotFound("案件不存在", f"no case {case_id} on this application", code="not_found")
        if result is CaseResult.PENDING or decided_on < case.filed_on:
            raise Invalid("审结结果或日期不合法", "give a final result decided on or after filing", code="bad_result")
        return CaseDecided(case_id=case_id, result=result, decided_on=decided_on)

    def remind(self, r: Reminder) -> Event:
        if r.submission != self.submission:
            raise Conflict("提醒不属于当前提交", "the reminder is for another submission", code="stale_reminder")
        return ReviewOverdue(submission=r.submission, deadline="stage" if r.kind != "publication" else r.kind,
                             stage=r.stage, due_at=r.due_at, remind_roles=r.remind_roles)
