"""The legal clock of an application, against calendars worked out by hand.

Official schedules used (chinese_calendar 1.11 data, checked day by day):
- National Day 2025: Wed 2025-10-01 to Wed 10-08 off (10-06 is 中秋节); make-up Sun 09-28 and Sat 10-11.
- Spring Festival 2026: Sun 2026-02-15 to Mon 02-23 off; make-up Sat 02-14 and Sat 02-28.
- Tomb-sweeping 2026: Sat 04-04 to Mon 04-06 off (not reached by these tests).
- 2027 is beyond chinese_calendar 1.11.

Every period counts from the day after its start (民法典 Art. 201).
"""

from datetime import date

import pytest
from pydantic import ValidationError

from gongkai import appclock
from gongkai.appclock import (
    CORRECTION_NOTICE_DAYS,
    DEFAULT_CORRECTION_WINDOW_DAYS,
    FEE_PAUSES_REPLY_CLOCK,
    MAX_EXTENSION_DAYS,
    PAYMENT_DAYS,
    REPLY_DAYS,
    ClockError,
    ClockEvent,
    ClockState,
    clock,
    expired,
)
from gongkai.workdays import Calendar, YearSchedule

CAL = Calendar()


def d(s: str) -> date:
    return date.fromisoformat(s)


def ev(kind: str, on: str, days: int | None = None) -> ClockEvent:
    return ClockEvent(kind=kind, on=d(on), days=days)


def run(*events: ClockEvent, **kw) -> ClockState:
    return clock(list(events), calendar=CAL, **kw)


# Fri 2025-09-26, just before National Day
RECEIVED_ND = ev("received", "2025-09-26")
# Mon 2026-02-02, two weeks before Spring Festival
RECEIVED_SF = ev("received", "2026-02-02")


def test_constants():
    assert (REPLY_DAYS, MAX_EXTENSION_DAYS, CORRECTION_NOTICE_DAYS, PAYMENT_DAYS) == (20, 20, 7, 20)
    assert DEFAULT_CORRECTION_WINDOW_DAYS == 15
    assert FEE_PAUSES_REPLY_CLOCK is True


# -- Art. 33: plain reply period ------------------------------------------------------------------------

def test_plain_reply_across_national_day_2025():
    # from Fri 09-26: Sat 09-27 off, Sun 09-28 1 (调休), 09-29 2, 09-30 3, 10-01..10-08 off, 10-09 4, 10-10 5,
    # Sat 10-11 6 (调休), 10-13..17 7-11, 10-20..24 12-16, 10-27 17, 10-28 18, 10-29 19, Thu 10-30 20
    st = run(RECEIVED_ND)
    assert st.reply_due_on == d("2025-10-30")
    assert st.started_on == st.received_on == d("2025-09-26")
    # Art. 30 notice: 09-28 1, 09-29 2, 09-30 3, 10-09 4, 10-10 5, 10-11 6, Mon 10-13 7
    assert st.correction_due_on == d("2025-10-13")
    assert st.correction_window_due_on is None and st.payment_due_on is None
    assert not st.paused and st.remaining_working_days is None
    assert (st.extended_by, st.paused_working_days, st.warnings) == (0, 0, [])
    lines = st.explanation.splitlines()
    assert lines[0] == "2025-09-26收到申请（收到日期按第31条确定）。"
    assert any(line.startswith("答复期限（第33条，收到申请后20个工作日）：自2025-09-26次日起算20个工作日，至2025-10-30届满；")
               and "2025-10-01至2025-10-05（国庆节 National Day）" in line
               and "调休上班：2025-09-28（国庆节 National Day）、2025-10-11（国庆节 National Day）" in line for line in lines)
    assert lines[-1] == "答复期限：2025-10-30。"


def test_same_day_events_are_in_order():
    st = run(RECEIVED_ND, ev("consultation_started", "2025-09-26"), ev("consultation_ended", "2025-09-26"))
    assert st.reply_due_on == d("2025-10-30")  # no working day paused
    assert st.paused_working_days == 0
    assert "其间没有工作日，期限不变" in st.explanation


def test_the_clock_uses_the_given_calendar():
    # a made-up 2027 schedule without holidays: from Mon 2027-03-01, 03-02..05 1-4, 03-08..12 5-9,
    # 03-15..19 10-14, 03-22..26 15-19, Mon 03-29 20
    cal = Calendar(extra={2027: YearSchedule()})
    st = clock([ev("received", "2027-03-01")], calendar=cal)
    assert st.reply_due_on == d("2027-03-29")
    assert st.warnings == []


# -- Art. 30: correction --------------------------------------------------------------------------------

def test_correction_requested_stops_the_reply_clock_and_opens_the_applicants_window():
    # window 15 working days from Mon 09-29: 09-30 1, 10-01..08 off, 10-09 2, 10-10 3, Sat 10-11 4 (调休),
    # 10-13..17 5-9, 10-20..24 10-14, Mon 10-27 15
    st = run(RECEIVED_ND, ev("correction_requested", "2025-09-29"))
    assert st.correction_window_due_on == d("2025-10-27")
    assert st.reply_due_on is None and st.started_on is None
    assert st.correction_due_on is None  # the notice went out
    assert not st.paused
    assert "other_no_correction" in st.explanation
    assert st.warnings == []


def test_correction_window_is_configurable():
    # 10 working days from Mon 09-29: 09-30 1, 10-09 2, 10-10 3, 10-11 4, 10-13..17 5-9, Mon 10-20 10
    st = run(RECEIVED_ND, ev("correction_requested", "2025-09-29"), correction_window_days=10)
    assert st.correction_window_due_on == d("2025-10-20")
    with pytest.raises(ValueError):
        run(RECEIVED_ND, correction_window_days=0)


def test_corrected_application_restarts_the_reply_clock():
    # corrected Fri 10-10: Sat 10-11 1 (调休), 10-13..17 2-6, 10-20..24 7-11, 10-27..31 12-16,
    # 11-03 17, 11-04 18, 11-05 19, Thu 11-06 20  (the first receipt would have given 10-30)
    st = run(RECEIVED_ND, ev("correction_requested", "2025-09-29"), ev("corrected", "2025-10-10"))
    assert st.reply_due_on == d("2025-11-06")
    assert st.started_on == d("2025-10-10")
    assert st.correction_window_due_on is None and st.correction_due_on is None
    assert "2025-10-10收到补正后的申请，答复期限自次日起重新计算（第30条）。" in st.explanation
    assert "答复期限（第33条，收到补正后的申请后20个工作日）：自2025-10-10次日起算20个工作日，至2025-11-06届满" in st.explanation
    assert st.warnings == []


def test_late_correction_notice_and_late_correction_are_warned():
    # notice limit 10-13 (see above), sent Tue 10-14; window 15 from 10-14: 10-15..17 1-3, 10-20..24 4-8,
    # 10-27..31 9-13, 11-03 14, Tue 11-04 15; corrected Wed 11-05, restart: 11-06, 07 1-2, 11-10..14 3-7,
    # 11-17..21 8-12, 11-24..28 13-17, 12-01 18, 12-02 19, Wed 12-03 20
    st = run(RECEIVED_ND, ev("correction_requested", "2025-10-14"), ev("corrected", "2025-11-05"))
    assert st.reply_due_on == d("2025-12-03")
    assert len(st.warnings) == 2
    assert "2025-10-13" in st.warnings[0] and "Art. 30" in st.warnings[0]
    assert "2025-11-04" in st.warnings[1] and "withdrawn" in st.warnings[1]


# -- Art. 32/33: consultation pause ---------------------------------------------------------------------

def test_reply_across_spring_festival_2026():
    # from Mon 02-02: 02-03..06 1-4, 02-09..13 5-9, Sat 02-14 10 (调休), 02-15..23 off, 02-24..27 11-14,
    # Sat 02-28 15 (调休), 03-02..05 16-19, Fri 03-06 20
    assert run(RECEIVED_SF).reply_due_on == d("2026-03-06")


def test_running_consultation_pauses_the_clock():
    # used before the pause: 02-03..06, 02-09, 02-10 = 6, so 14 left (= working days after 02-10 up to 03-06)
    st = run(RECEIVED_SF, ev("consultation_started", "2026-02-10"))
    assert st.paused
    assert st.reply_due_on is None
    assert st.remaining_working_days == 14
    assert "自2026-02-10起征求第三方或其他机关意见（第32条、第33条），答复期限暂停计算；暂停时尚余14个工作日" in st.explanation


def test_consultation_pause_of_n_working_days_moves_the_due_date_by_n():
    # paused: after Tue 02-10 up to Thu 02-26: 02-11, 02-12, 02-13, Sat 02-14 (调休), 02-24, 02-25, 02-26 = 7
    # 03-06 + 7: 03-09..13 1-5, 03-16 6, Tue 03-17 7
    st = run(RECEIVED_SF, ev("consultation_started", "2026-02-10"), ev("consultation_ended", "2026-02-26"))
    assert st.paused_working_days == 7
    assert st.reply_due_on == d("2026-03-17")
    assert CAL.working_days_between(d("2026-03-06"), st.reply_due_on) == 7
    assert not st.paused and st.remaining_working_days is None
    assert ("2026-02-10至2026-02-26征求第三方或其他机关意见（第32条、第33条），其间7个工作日不计入答复期限，"
            "期限顺延7个工作日：自2026-03-06次日起算7个工作日，至2026-03-17届满") in st.explanation


def test_two_consultations_add_up():
    # 02-03..02-05: 02-04, 02-05 = 2; 02-24..02-27: 02-25, 02-26, 02-27 = 3; 03-06 + 5: 03-09..13 → Fri 03-13
    st = run(RECEIVED_SF, ev("consultation_started", "2026-02-03"), ev("consultation_ended", "2026-02-05"),
             ev("consultation_started", "2026-02-24"), ev("consultation_ended", "2026-02-27"))
    assert st.paused_working_days == 5
    assert st.reply_due_on == d("2026-03-13")


def test_consultation_after_the_due_date_is_warned():
    # due 03-06; consultation Mon 03-09 to Wed 03-11 = 03-10, 03-11 = 2 → 03-09, Tue 03-10
    st = run(RECEIVED_SF, ev("consultation_started", "2026-03-09"), ev("consultation_ended", "2026-03-11"))
    assert st.reply_due_on == d("2026-03-10")
    assert len(st.warnings) == 1 and "2026-03-06" in st.warnings[0]


# -- Art. 33: extension ---------------------------------------------------------------------------------

def test_extension_by_20():
    # 10-30 + 20: 10-31 1, 11-03..07 2-6, 11-10..14 7-11, 11-17..21 12-16, 11-24..27 17-20 → Thu 11-27
    st = run(RECEIVED_ND, ev("extended", "2025-10-28", 20))
    assert st.extended_by == 20
    assert st.reply_due_on == d("2025-11-27")
    assert "2025-10-28经批准延长答复期限20个工作日" in st.explanation
    assert st.warnings == []


def test_extension_by_5():
    # 10-30 + 5: Fri 10-31 1, 11-03 2, 11-04 3, 11-05 4, Thu 11-06 5
    st = run(RECEIVED_ND, ev("extended", "2025-10-28", 5))
    assert (st.extended_by, st.reply_due_on) == (5, d("2025-11-06"))


def test_extension_after_the_due_date_is_warned():
    st = run(RECEIVED_ND, ev("extended", "2025-10-31", 5))
    assert st.reply_due_on == d("2025-11-06")
    assert len(st.warnings) == 1 and "2025-10-30" in st.warnings[0]


def test_consultation_then_extension():
    # 03-17 after the 7-day pause (above), + 5: 03-18, 03-19, 03-20, 03-23, Tue 03-24
    st = run(RECEIVED_SF, ev("consultation_started", "2026-02-10"), ev("consultation_ended", "2026-02-26"),
             ev("extended", "2026-03-10", 5))
    assert st.reply_due_on == d("2026-03-24")
    assert (st.paused_working_days, st.extended_by, st.warnings) == (7, 5, [])


def test_extension_during_a_running_consultation_counts_in_what_is_left():
    # 14 left at the pause (above) + 5 = 19; extended after 03-06, but the clock was stopped: no warning
    st = run(RECEIVED_SF, ev("consultation_started", "2026-02-10"), ev("extended", "2026-03-09", 5))
    assert st.paused and st.reply_due_on is None
    assert st.remaining_working_days == 19
    assert st.warnings == []


def test_second_extension_is_refused():
    with pytest.raises(ClockError, match="只能延长一次") as e:
        run(RECEIVED_ND, ev("extended", "2025-10-20", 5), ev("extended", "2025-10-28", 5))
    assert "one extension only" in str(e.value)


@pytest.mark.parametrize("days", [21, 0, -1, None])
def test_extension_outside_1_to_20_is_refused(days):
    with pytest.raises(ClockError, match="1至20个工作日") as e:
        run(RECEIVED_ND, ev("extended", "2025-10-28", days))
    assert "1 to 20 working days" in str(e.value)


# -- fee ------------------------------------------------------------------------------------------------

def test_unpaid_fee_notice_opens_the_payment_window_and_pauses_the_reply():
    # payment from Thu 02-05: 02-06 1, 02-09..13 2-6, Sat 02-14 7 (调休), 02-24..27 8-11, Sat 02-28 12 (调休),
    # 03-02..06 13-17, 03-09 18, 03-10 19, Wed 03-11 20
    # reply left at the notice: after 02-05 up to 03-06: 02-06, 02-09..14 (6), 02-24..28 (5), 03-02..06 (5) = 17
    st = run(RECEIVED_SF, ev("fee_notified", "2026-02-05"))
    assert st.payment_due_on == d("2026-03-11")
    assert st.paused and st.reply_due_on is None
    assert st.remaining_working_days == 17
    assert "other_fee_unpaid" in st.explanation and "FEE_PAUSES_REPLY_CLOCK" in st.explanation


def test_paid_fee_moves_the_reply_by_the_working_days_unpaid():
    # unpaid after 02-05 up to Thu 02-12: 02-06, 02-09, 02-10, 02-11, 02-12 = 5; 03-06 + 5 → Fri 03-13
    st = run(RECEIVED_SF, ev("fee_notified", "2026-02-05"), ev("fee_paid", "2026-02-12"))
    assert st.payment_due_on is None
    assert st.paused_working_days == 5
    assert st.reply_due_on == d("2026-03-13")
    assert not st.paused and st.warnings == []


def test_late_payment_is_warned():
    # paid Thu 03-12, after 03-11; unpaid after 02-05 up to 03-12 = 17 (to 03-06) + 03-09..12 = 21
    # 03-06 + 21: 03-09..13 1-5, 03-16..20 6-10, 03-23..27 11-15, 03-30..04-03 16-20, (04-04..06 off) Tue 04-07 21
    st = run(RECEIVED_SF, ev("fee_notified", "2026-02-05"), ev("fee_paid", "2026-03-12"))
    assert st.paused_working_days == 21
    assert st.reply_due_on == d("2026-04-07")
    assert len(st.warnings) == 1 and "2026-03-11" in st.warnings[0]


def test_overlapping_consultation_and_fee_are_one_pause():
    # consultation 02-10..02-24, fee 02-12..02-26: paused after 02-10 up to 02-26 = 7 (not 7 + 4)
    st = run(RECEIVED_SF, ev("consultation_started", "2026-02-10"), ev("fee_notified", "2026-02-12"),
             ev("consultation_ended", "2026-02-24"), ev("fee_paid", "2026-02-26"))
    assert st.paused_working_days == 7
    assert st.reply_due_on == d("2026-03-17")
    assert "征求第三方或其他机关意见（第32条、第33条）、收费通知待缴费" in st.explanation


def test_fee_pause_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(appclock, "FEE_PAUSES_REPLY_CLOCK", False)
    st = run(RECEIVED_SF, ev("fee_notified", "2026-02-05"))
    assert not st.paused
    assert st.reply_due_on == d("2026-03-06")
    assert st.payment_due_on == d("2026-03-11")
    st = run(RECEIVED_SF, ev("fee_notified", "2026-02-05"), ev("fee_paid", "2026-02-12"))
    assert (st.reply_due_on, st.paused_working_days) == (d("2026-03-06"), 0)


# -- expired() ------------------------------------------------------------------------------------------

def test_expired_correction_window():
    st = run(RECEIVED_ND, ev("correction_requested", "2025-09-29"))  # window ends Mon 10-27
    assert expired(st, d("2025-10-27")) is None
    assert expired(st, d("2025-10-28")) == "correction"
    corrected = run(RECEIVED_ND, ev("correction_requested", "2025-09-29"), ev("corrected", "2025-10-10"))
    assert expired(corrected, d("2026-01-01")) is None


def test_expired_payment_window():
    st = run(RECEIVED_SF, ev("fee_notified", "2026-02-05"))  # payment window ends Wed 03-11
    assert expired(st, d("2026-03-11")) is None
    assert expired(st, d("2026-03-12")) == "payment"
    paid = run(RECEIVED_SF, ev("fee_notified", "2026-02-05"), ev("fee_paid", "2026-02-12"))
    assert expired(paid, d("2026-12-31")) is None


def test_nothing_expires_for_the_applicant_on_a_plain_application():
    assert expired(run(RECEIVED_ND), d("2030-01-01")) is None  # an overdue reply is the agency's fault


# -- unknown calendar -----------------------------------------------------------------------------------

def test_unknown_year_gives_warnings_and_no_dates():
    st = run(ev("received", "2027-03-01"))
    assert st.reply_due_on is None and st.correction_due_on is None
    assert len(st.warnings) == 1 and "2027" in st.warnings[0]
    assert "不作推测" in st.explanation


def test_period_running_into_an_unknown_year_is_not_guessed():
    # Art. 30 notice from Tue 2026-12-15 stays in 2026: 12-16..18 1-3, 12-21..24 4-7 → Thu 12-24;
    # the 20-day reply would need January 2027
    st = run(ev("received", "2026-12-15"))
    assert st.correction_due_on == d("2026-12-24")
    assert st.reply_due_on is None
    assert len(st.warnings) == 1 and "2027" in st.warnings[0]


# -- refused histories ----------------------------------------------------------------------------------

def test_events_out_of_order_are_refused():
    with pytest.raises(ClockError, match="date order"):
        run(RECEIVED_ND, ev("consultation_started", "2025-10-09"), ev("consultation_ended", "2025-10-08"))


@pytest.mark.parametrize("events", [
    [],
    [ev("consultation_started", "2025-09-26")],
    [RECEIVED_ND, ev("received", "2025-09-29")],
])
def test_history_must_start_with_one_received(events):
    with pytest.raises(ClockError, match="received"):
        run(*events)


@pytest.mark.parametrize("events", [
    [RECEIVED_ND, ev("corrected", "2025-09-29")],
    [RECEIVED_ND, ev("correction_requested", "2025-09-29"), ev("corrected", "2025-10-09"),
     ev("correction_requested", "2025-10-10")],
    [RECEIVED_ND, ev("consultation_started", "2025-09-29"), ev("correction_requested", "2025-09-30")],
    [RECEIVED_ND, ev("correction_requested", "2025-09-29"), ev("consultation_started", "2025-09-30")],
    [RECEIVED_ND, ev("consultation_ended", "2025-09-29")],
    [RECEIVED_ND, ev("consultation_started", "2025-09-29"), ev("consultation_started", "2025-09-30")],
    [RECEIVED_ND, ev("fee_paid", "2025-09-29")],
    [RECEIVED_ND, ev("fee_notified", "2025-09-29"), ev("fee_notified", "2025-09-30")],
    [RECEIVED_ND, ev("consultation_started", "2025-09-29", 5)],
], ids=["corrected-without-request", "second-correction", "correction-after-consultation",
        "event-while-correction-pending", "end-without-start", "nested-consultation", "paid-without-notice",
        "second-unpaid-notice", "days-on-non-extension"])
def test_impossible_histories_are_refused(events):
    with pytest.raises(ClockError) as e:
        run(*events)
    assert " / " in str(e.value)  # Chinese / English


def test_clock_event_is_validated_and_frozen():
    with pytest.raises(ValidationError):
        ClockEvent(kind="answered", on=d("2025-09-26"))
    e = ev("received", "2025-09-26")
    with pytest.raises(ValidationError):
        e.on = d("2025-09-27")
    assert ClockEvent.model_validate({"kind": "extended", "on": "2025-10-28", "days": 5}).days == 5


def _random_history(rng, start: date) -> list[ClockEvent]:
    steps = [("correction_requested", "corrected"), ("consultation_started", "consultation_ended"),
             ("fee_notified", "fee_paid"), ("extended",), ("consultation_started",), ("fee_notified",),
             ("correction_requested",), ("corrected",), ("fee_paid",), ("consultation_ended",)]
    on, out = start, [ClockEvent(kind="received", on=start)]
    for _ in range(rng.randrange(4)):
        for kind in rng.choice(steps):
            on = date.fromordinal(on.toordinal() + rng.choice([0, 1, 3, 9, 25]))
            out.append(ClockEvent(kind=kind, on=on, days=rng.choice([5, 20]) if kind == "extended" else None))
    return out


@pytest.mark.parametrize("calendar", [CAL, Calendar(extra={2027: YearSchedule()})])
def test_reply_due_on_is_the_clocks_reply_due_date(calendar):
    """`reply_due_on`, which folding the log calls, gives what `clock` gives (or refuses what it refuses), for
    histories of every kind: pauses, extensions, corrections, unknown years, impossible orders."""
    import random

    rng = random.Random(7)
    starts = [d("2025-09-20"), d("2026-02-06"), d("2026-12-10"), d("2027-03-01")]
    for _ in range(1500):
        events = _random_history(rng, rng.choice(starts))
        try:
            want = clock(events, calendar=calendar).reply_due_on
        except ClockError:
            with pytest.raises(ClockError):
                appclock.reply_due_on(events, calendar=calendar)
            continue
        assert appclock.reply_due_on(events, calendar=calendar) == want, events
