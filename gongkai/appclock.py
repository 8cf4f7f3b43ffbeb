"""The legal clock of a disclosure application (依申请公开), as a pure fold over its clock events.

Periods of the 2019 Regulation (国务院令第711号), all in working days counted from the next day
(see ``gongkai.workdays``, the one working-day calendar):

- Art. 33: reply within **20** working days of receipt (``REPLY_DAYS``).  The period may be extended
  **once**, by at most **20** working days (``MAX_EXTENSION_DAYS``), with the approval of the head of the
  disclosure office and notice to the applicant.  Time spent consulting third parties or other agencies
  (Art. 32, the third party has 15 working days to answer) is not counted.
- Art. 30: an unclear application is answered by one notice listing every correction needed, sent within
  **7** working days of receipt (``CORRECTION_NOTICE_DAYS``).  The reply period starts again, from the next
  day, when the corrected application arrives.  While the applicant has not corrected, no reply period
  runs.  No correction in time without good reason: the application counts as withdrawn
  (``other_no_correction``).
- Fee (国办函〔2020〕109号 as implemented locally): the applicant pays within **20** working days of the fee
  notice, counted from the next day (``PAYMENT_DAYS``); otherwise the application counts as withdrawn
  (``other_fee_unpaid``).

Two choices are ours, because the sources do not settle them (both UNCONFIRMED):

- ``correction_window_days`` (default ``DEFAULT_CORRECTION_WINDOW_DAYS`` = 15 working days): the Regulation
  only says the agency sets a "reasonable" period in its correction notice.  It is a parameter of ``clock``:
  pass the period the agency's notice actually states.
- ``FEE_PAUSES_REPLY_CLOCK = True``: whether the days between a fee notice and the payment are excluded from
  the reply period is UNCONFIRMED.  We treat an unpaid fee notice like a consultation: the reply clock
  pauses from the notice to the payment, and the due date moves by the working days paused.

Pauses.  A pause from ``start`` to ``end`` (consultation started/ended, fee notified/paid) excludes
``working_days_between(start, end)`` working days: the start day still counts, the days after it up to and
including the end day do not.  The due date moves by that many working days.  Pauses that overlap (a fee
notice during a consultation) are merged, so no day is excluded twice.  While a pause is running,
``reply_due_on`` is None (the due date is not known yet) and ``remaining_working_days`` tells how many
working days of the reply period were left when the pause began.

The fold refuses impossible histories with ``ClockError`` (Chinese and English message): events out of date
order, not starting with exactly one "received", an end without a start, a second correction request
(Art. 30 asks for every correction at once), a correction request after the substance was handled, an
extension outside 1..20 days or a second extension.  Acts that are possible but late (a correction notice
after 7 working days, a correction or payment after its window, an extension or pause after the reply
period ran out) are kept and reported in ``warnings``.  A day no holiday schedule covers gives a warning and
None dates (``CalendarUnknown``): a deadline is never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from gongkai.workdays import Calendar, CalendarUnknown, Deadline, default_calendar

__all__ = [
    "CORRECTION_NOTICE_DAYS", "DEFAULT_CORRECTION_WINDOW_DAYS", "FEE_PAUSES_REPLY_CLOCK", "MAX_EXTENSION_DAYS",
    "PAYMENT_DAYS", "REPLY_DAYS", "ClockError", "ClockEvent", "ClockEventKind", "ClockState", "clock", "expired",
    "reply_due_on",
]

#: Art. 33: reply within 20 working days of receipt (or of the corrected application)
REPLY_DAYS = 20
#: Art. 33: one extension of at most 20 working days
MAX_EXTENSION_DAYS = 20
#: Art. 30: the correction notice goes out within 7 working days of receipt
CORRECTION_NOTICE_DAYS = 7
#: The applicant's correction window.  UNCONFIRMED: the Regulation says only "a reasonable period" set by the
#: agency in its notice, so ``clock(..., correction_window_days=...)`` takes the period the notice states.
DEFAULT_CORRECTION_WINDOW_DAYS = 15
#: Payment within 20 working days of the fee notice, counted from the next day (local implementations).
PAYMENT_DAYS = 20
#: UNCONFIRMED choice: the reply clock pauses from a fee notice until the payment, like a consultation.
FEE_PAUSES_REPLY_CLOCK = True

ClockEventKind = Literal["received", "correction_requested", "corrected", "consultation_started",
                         "consultation_ended", "extended", "fee_notified", "fee_paid"]

_CONSULTATION = "征求第三方或其他机关意见（第32条、第33条）"
_FEE = "收费通知待缴费"

_T = TypeVar("_T")


class ClockError(ValueError):
    """A clock history the Regulation does not allow (message in Chinese and English)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")


class ClockEvent(BaseModel):
    """One step of the legal clock.  ``days`` is given for "extended" only: the extension in working days
    (1..20); ``clock`` refuses it on any other kind."""

    model_config = ConfigDict(frozen=True)

    kind: ClockEventKind
    on: date
    days: int | None = None


class ClockState(BaseModel):
    """Where the legal clock of one application stands after its events."""

    model_config = ConfigDict(frozen=True)

    received_on: date
    #: the day the reply period counts from (next day): receipt, or the day the corrected application arrived;
    #: None while a correction is awaited
    started_on: date | None = None
    #: Art. 33 due date (pauses and extension included); None while paused, while a correction is awaited, or
    #: when the calendar does not cover the days needed (see warnings)
    reply_due_on: date | None = None
    #: step by step, in Chinese
    explanation: str = ""
    #: Art. 30: last day to send the correction notice, while none was sent and the substance is not yet handled
    correction_due_on: date | None = None
    #: last day for the applicant to correct, while a requested correction has not arrived
    correction_window_due_on: date | None = None
    #: last day to pay, while a fee notice is unpaid
    payment_due_on: date | None = None
    #: a consultation is running, or (FEE_PAUSES_REPLY_CLOCK) a fee notice is unpaid
    paused: bool = False
    #: while paused: working days of the reply period left when the pause began (negative: it had run out)
    remaining_working_days: int | None = None
    #: working days excluded by pauses that have ended
    paused_working_days: int = 0
    #: 0, or the one extension's working days
    extended_by: int = 0
    warnings: list[str] = []


class _Fold:
    """The structure of the history, checked event by event; dates are computed afterwards."""

    def __init__(self) -> None:
        self.received_on: date | None = None
        self.correction_requested_on: date | None = None
        self.corrected_on: date | None = None
        self.handled = False  # consultation, extension or fee: the application was clear enough to work on
        self.extension: tuple[date, int] | None = None
        self.consulting_since: date | None = None
        self.fee_since: date | None = None  # unpaid fee notice
        self.fees: list[tuple[date, date | None]] = []  # (notified, paid)
        # merged pauses: (start, end, reasons); the open one has end None
        self.pauses: list[tuple[date, date | None, list[str]]] = []

    @property
    def correction_pending(self) -> bool:
        return self.correction_requested_on is not None and self.corrected_on is None

    def _pause(self, on: date, reason: str) -> None:
        if self.pauses and self.pauses[-1][1] is None:
            self.pauses[-1][2].append(reason)
        else:
            self.pauses.append((on, None, [reason]))

    def _resume(self, on: date) -> None:
        if self.consulting_since is None and (self.fee_since is None or not FEE_PAUSES_REPLY_CLOCK):
            start, _, reasons = self.pauses[-1]
            self.pauses[-1] = (start, on, reasons)

    def apply(self, ev: ClockEvent) -> None:
        kind, on = ev.kind, ev.on
        if kind != "extended" and ev.days is not None:
            raise ClockError(f"只有延期事件（extended）可以带天数，{kind} 不可以",
                             f"only an 'extended' event carries days, not {kind!r}")
        if self.received_on is None:
            if kind != "received":
                raise ClockError(f"申请的计时须从收到申请（received）开始，第一个事件却是 {kind}",
                                 f"the clock must start with 'received', the first event is {kind!r}")
            self.received_on = on
            return
        if kind == "received":
            raise ClockError("一件申请只能有一个收到日期（received）", "an application has only one 'received' event")
        if self.correction_pending and kind != "corrected":
            raise ClockError(f"已要求补正，在收到补正后的申请之前不能记录 {kind}（第30条）",
                             f"a correction was requested: nothing but 'corrected' may follow until it arrives, got {kind!r}")
        match kind:
            case "correction_requested":
                if self.correction_requested_on is not None:
                    raise ClockError("补正须一次性告知，不能再次要求补正（第30条）；补正后仍不明确的，按“申请内容不明确”答复",
                                     "Art. 30: all corrections are requested at once, a second request is not allowed; "
                                     "an application still unclear after correction is answered as unclear")
                if self.handled:
                    raise ClockError("已开始征求意见、延期或收费后不能再要求补正（第30条：收到申请之日起7个工作日内）",
                                     "a correction can no longer be requested after consultation, extension or a fee "
                                     "notice (Art. 30: within 7 working days of receipt)")
                self.correction_requested_on = on
            case "corrected":
                if not self.correction_pending:
                    raise ClockError("没有待补正的通知，不能记录补正（corrected）",
                                     "'corrected' without a pending correction request")
                self.corrected_on = on
            case "consultation_started":
                if self.consulting_since is not None:
                    raise ClockError(f"征求意见已于{self.consulting_since.isoformat()}开始，尚未结束",
                                     f"a consultation started on {self.consulting_since.isoformat()} has not ended")
                self.handled = True
                self.consulting_since = on
                self._pause(on, _CONSULTATION)
            case "consultation_ended":
                if self.consulting_since is None:
                    raise ClockError("没有正在进行的征求意见，不能结束", "'consultation_ended' without a running consultation")
                self.consulting_since = None
                self._resume(on)
            case "extended":
                days = ev.days
                if self.extension is not None:
                    raise ClockError(f"答复期限只能延长一次（第33条），已于{self.extension[0].isoformat()}延长"
                                     f"{self.extension[1]}个工作日",
                                     f"Art. 33 allows one extension only; the period was already extended on "
                                     f"{self.extension[0].isoformat()} by {self.extension[1]} working days")
                if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_EXTENSION_DAYS:
                    raise ClockError(f"延长答复期限须为1至{MAX_EXTENSION_DAYS}个工作日（第33条），收到的是 {days!r}",
                                     f"Art. 33: an extension is 1 to {MAX_EXTENSION_DAYS} working days, got {days!r}")
                self.handled = True
                self.extension = (on, days)
            case "fee_notified":
                if self.fee_since is not None:
                    raise ClockError(f"{self.fee_since.isoformat()}的收费通知尚未缴费，不能再发收费通知",
                                     f"the fee notice of {self.fee_since.isoformat()} is still unpaid")
                self.handled = True
                self.fee_since = on
                self.fees.append((on, None))
                if FEE_PAUSES_REPLY_CLOCK:
                    self._pause(on, _FEE)
            case "fee_paid":
                if self.fee_since is None:
                    raise ClockError("没有未缴费的收费通知，不能记录缴费", "'fee_paid' without an unpaid fee notice")
                self.fees[-1] = (self.fee_since, on)
                self.fee_since = None
                if FEE_PAUSES_REPLY_CLOCK:
                    self._resume(on)


def _folded(events: Sequence[ClockEvent]) -> _Fold:
    """The history checked (it starts with "received", in date order; `_Fold` checks each step) and folded."""
    if not events:
        raise ClockError("没有事件：计时须从收到申请（received）开始", "no events: the clock must start with 'received'")
    for prev, ev in pairwise(events):
        if ev.on < prev.on:
            raise ClockError(f"事件须按日期先后排列：{ev.kind}（{ev.on.isoformat()}）在 {prev.kind}（{prev.on.isoformat()}）之后",
                             f"events must be in date order: {ev.kind} on {ev.on.isoformat()} comes after "
                             f"{prev.kind} on {prev.on.isoformat()}")
    f = _Fold()
    for ev in events:
        f.apply(ev)
    assert f.received_on is not None
    return f


def clock(events: Sequence[ClockEvent], *, calendar: Calendar | None = None,
          correction_window_days: int = DEFAULT_CORRECTION_WINDOW_DAYS) -> ClockState:
    """The state of an application's legal clock after ``events`` (in date order, starting with "received").

    ``correction_window_days`` is the applicant's correction period in working days as the agency's notice
    states it (UNCONFIRMED default 15).  Raises ``ClockError`` for a history the Regulation does not allow;
    see the module docstring for the rules.
    """
    if not isinstance(correction_window_days, int) or isinstance(correction_window_days, bool) \
            or correction_window_days < 1:
        raise ValueError(f"correction_window_days must be a positive int, got {correction_window_days!r}")
    cal = calendar or default_calendar()
    f = _folded(events)

    warnings: list[str] = []
    unknown: list[int] = []
    lines: list[str] = [f"{f.received_on.isoformat()}收到申请（收到日期按第31条确定）。"]

    def attempt(fn: Callable[[], _T]) -> _T | None:
        try:
            return fn()
        except CalendarUnknown as e:
            unknown.append(e.year)
            if str(e) not in warnings:
                warnings.append(str(e))
            return None

    def add(start: date, n: int) -> Deadline | None:
        return attempt(lambda: cal.add_working_days(start, n))

    # -- Art. 30: correction ------------------------------------------------------------------------------
    correction_due_on = correction_window_due_on = None
    notice_limit = add(f.received_on, CORRECTION_NOTICE_DAYS)
    if f.correction_requested_on is None:
        if not f.handled:
            correction_due_on = notice_limit.due_on if notice_limit else None
            if notice_limit:
                lines.append(f"如申请内容不明确，应一次性告知补正（第30条）：{notice_limit.explain()}。")
    else:
        req = f.correction_requested_on
        lines.append(f"{req.isoformat()}发出补正通知（第30条），补正期间不计算答复期限。")
        if notice_limit and req > notice_limit.due_on:
            warnings.append(f"补正通知晚于第30条的期限：应在收到申请之日起{CORRECTION_NOTICE_DAYS}个工作日内"
                            f"（{notice_limit.due_on.isoformat()}前）发出，实际{req.isoformat()} / the correction notice "
                            f"was sent on {req.isoformat()}, after the Art. 30 limit {notice_limit.due_on.isoformat()}")
        window = add(req, correction_window_days)
        if window:
            lines.append(f"申请人的补正期限（{correction_window_days}个工作日，由补正通知确定，法定表述未确认）："
                         f"{window.explain()}。")
        if f.corrected_on is None:
            correction_window_due_on = window.due_on if window else None
            lines.append("逾期无正当理由不补正的，视为放弃申请（other_no_correction）；收到补正后的申请之日次日起重新计算答复期限。")
        else:
            lines.append(f"{f.corrected_on.isoformat()}收到补正后的申请，答复期限自次日起重新计算（第30条）。")
            if window and f.corrected_on > window.due_on:
                warnings.append(f"补正晚于补正期限{window.due_on.isoformat()}：无正当理由的，视为放弃申请 / the correction "
                                f"arrived on {f.corrected_on.isoformat()}, after its window ended on "
                                f"{window.due_on.isoformat()}; without good reason the application counts as withdrawn")

    # -- fee: payment window --------------------------------------------------------------------------------
    payment_due_on = None
    for notified, paid in f.fees:
        pay = add(notified, PAYMENT_DAYS)
        if pay:
            lines.append(f"{notified.isoformat()}发出收费通知，申请人应在{PAYMENT_DAYS}个工作日内缴费：{pay.explain()}；"
                         "逾期未缴视为放弃申请（other_fee_unpaid）。")
        if paid is None:
            payment_due_on = pay.due_on if pay else None
        else:
            lines.append(f"{paid.isoformat()}缴费。")
            if pay and paid > pay.due_on:
                warnings.append(f"缴费晚于缴费期限{pay.due_on.isoformat()}：逾期未缴视为放弃申请 / paid on {paid.isoformat()}, "
                                f"after the payment window ended on {pay.due_on.isoformat()}")
    if f.fees:
        lines.append("收费通知至缴费期间答复期限暂停计算（FEE_PAUSES_REPLY_CLOCK，此规则未经确认）。"
                     if FEE_PAUSES_REPLY_CLOCK else "收费通知至缴费期间照常计算答复期限（FEE_PAUSES_REPLY_CLOCK 为 False）。")

    # -- Art. 33: the reply period, step by step ---------------------------------------------------------
    started_on = None if f.correction_pending else (f.corrected_on or f.received_on)
    reply_due_on = remaining = None
    paused_days = 0
    paused = bool(f.pauses) and f.pauses[-1][1] is None
    if started_on is not None:
        base = add(started_on, REPLY_DAYS)
        due: date | None = None
        if base:
            due = base.due_on
            what = "收到补正后的申请" if f.corrected_on else "收到申请"
            lines.append(f"答复期限（第33条，{what}后{REPLY_DAYS}个工作日）：{base.explain()}。")
        # closed pauses and the extension in date order (a pause starting on the day of the extension first);
        # the open pause, if any, is the last pause and only shapes what is left
        order = sorted([(start, 0, i) for i, (start, _, _) in enumerate(f.pauses)]
                       + ([(f.extension[0], 1, -1)] if f.extension else []))
        open_since: date | None = None
        for _, is_ext, i in order:
            if due is None:
                break
            if is_ext and f.extension:
                on, n = f.extension
                if on > due and (open_since is None or open_since > due):
                    warnings.append(f"延期晚于答复期限{due.isoformat()}：延期应在期限内决定（第33条） / the extension of "
                                    f"{on.isoformat()} came after the reply period ended on {due.isoformat()}")
                ext = add(due, n)
                due = ext.due_on if ext else None
                if ext:
                    lines.append(f"{on.isoformat()}经批准延长答复期限{n}个工作日（第33条，至多{MAX_EXTENSION_DAYS}个工作日，"
                                 f"只能延长一次）：{ext.explain()}。")
                continue
            s, e, reasons = f.pauses[i]
            if s > due:
                warnings.append(f"{s.isoformat()}开始暂停时答复期限已于{due.isoformat()}届满 / the pause starting on "
                                f"{s.isoformat()} began after the reply period ended on {due.isoformat()}")
            if e is None:
                open_since = s
                continue
            n = attempt(lambda s=s, e=e: cal.working_days_between(s, e))
            if n is None:
                due = None
                break
            paused_days += n
            label = "、".join(reasons)
            if n == 0:
                lines.append(f"{s.isoformat()}至{e.isoformat()}{label}，其间没有工作日，期限不变。")
                continue
            moved = add(due, n)
            due = moved.due_on if moved else None
            if moved:
                lines.append(f"{s.isoformat()}至{e.isoformat()}{label}，其间{n}个工作日不计入答复期限，"
                             f"期限顺延{n}个工作日：{moved.explain()}。")
        if due is None:
            lines.append("答复期限：无法计算（工作日历缺少所需年份，见警告），不作推测。")
        elif open_since is not None:
            label = "、".join(f.pauses[-1][2])
            left = attempt(lambda s=open_since, due=due: cal.working_days_between(s, due))
            if left is not None:
                remaining = left
                lines.append(f"自{open_since.isoformat()}起{label}，答复期限暂停计算；暂停时尚余{left}个工作日"
                             f"（不暂停时将于{due.isoformat()}届满），暂停结束之日次日起继续计算。")
            else:
                lines.append("答复期限：暂停中，剩余工作日无法计算（见警告）。")
        else:
            reply_due_on = due
            lines.append(f"答复期限：{due.isoformat()}。")
    if unknown and started_on is None:
        lines.append("工作日历缺少所需年份的节假日安排，相关期限无法计算，不作推测。")

    return ClockState(
        received_on=f.received_on, started_on=started_on, reply_due_on=reply_due_on, explanation="\n".join(lines),
        correction_due_on=correction_due_on, correction_window_due_on=correction_window_due_on,
        payment_due_on=payment_due_on, paused=paused, remaining_working_days=remaining,
        paused_working_days=paused_days, extended_by=f.extension[1] if f.extension else 0, warnings=warnings,
    )


def reply_due_on(events: Sequence[ClockEvent], *, calendar: Calendar | None = None) -> date | None:
    """``clock(events, calendar=calendar).reply_due_on``, computing that date alone: the same checks (raises
    ``ClockError`` alike), without the explanation, the other windows and the `Deadline` objects, and with each
    working-day sum remembered per calendar. Folding the log computes it for every clock event."""
    cal = calendar or default_calendar()
    f = _folded(events)
    if f.correction_pending:
        return None
    # as `clock` walks the reply period: an unknown calendar year, or a pause still running, leaves no date
    due = _due_on(cal, f.corrected_on or f.received_on, REPLY_DAYS)
    order = sorted([(start, 0, i) for i, (start, _, _) in enumerate(f.pauses)]
                   + ([(f.extension[0], 1, -1)] if f.extension else []))
    open_pause = False
    for _, is_ext, i in order:
        if due is None:
            return None
        if is_ext and f.extension:
            due = _due_on(cal, due, f.extension[1])
            continue
        s, e, _ = f.pauses[i]
        if e is None:
            open_pause = True
            continue
        n = _between(cal, s, e)
        if n is None:
            return None
        if n:
            due = _due_on(cal, due, n)
    return None if open_pause else due


@lru_cache(maxsize=1 << 14)
def _due_on(cal: Calendar, start: date, n: int) -> date | None:
    """The due day of `n` working days after `start` (`Calendar.add_working_days(start, n).due_on`, counted
    from the next day, without building its `Deadline`), or None where the calendar does not know the days."""
    day, counted = start, 0
    try:
        while counted < n:
            day += _DAY
            counted += cal.is_working_day(day)
    except CalendarUnknown:
        return None
    return day


_DAY = timedelta(days=1)


@lru_cache(maxsize=1 << 14)
def _between(cal: Calendar, a: date, b: date) -> int | None:
    try:
        return cal.working_days_between(a, b)
    except CalendarUnknown:
        return None


def expired(state: ClockState, today: date) -> Literal["correction", "payment"] | None:
    """Which applicant window ran out before ``today``: "correction" (→ ``other_no_correction``) or "payment"
    (→ ``other_fee_unpaid``); None if neither.  A window is still open on its due day."""
    if state.correction_window_due_on is not None and today > state.correction_window_due_on:
        return "correction"
    if state.payment_due_on is not None and today > state.payment_due_on:
        return "payment"
    return None
