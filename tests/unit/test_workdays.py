"""The working-day calendar, against schedules worked out by hand.

Official schedules used (chinese_calendar 1.11 data, checked day by day):
- National Day 2025: 2025-10-01 (Wed) to 10-08 (Wed) off, 10-06 is 中秋节; make-up Sun 09-28 and Sat 10-11.
- Spring Festival 2026: 2026-02-15 (Sun) to 02-23 (Mon) off; make-up Sat 02-14 and Sat 02-28.
- National Day 2026: 2026-10-01 (Thu) to 10-07 (Wed) off; make-up Sun 09-20 and Sat 10-10.
- 2027 is beyond chinese_calendar 1.11; the 2027 schedule below is a made-up test fixture, not the official one.
"""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from gongkai.workdays import (
    WEEKEND,
    Calendar,
    CalendarConfigError,
    CalendarUnknown,
    Deadline,
    MakeUpDay,
    SkippedDay,
    YearSchedule,
    add_working_days,
    calendar_from_env,
    default_calendar,
    due_at,
    is_working_day,
    working_days_between,
)

CAL = Calendar()
ND = "国庆节 National Day"
MA = "中秋节 Mid-autumn Festival"
SF = "春节 Spring Festival"
NY = "元旦 New Year's Day"


def d(s: str) -> date:
    return date.fromisoformat(s)


def skipped(*pairs: tuple[str, str]) -> list[SkippedDay]:
    return [SkippedDay(d(day), reason) for day, reason in pairs]


NATIONAL_DAY_2025 = [("2025-10-01", ND), ("2025-10-02", ND), ("2025-10-03", ND), ("2025-10-04", ND),
                     ("2025-10-05", ND), ("2025-10-06", MA), ("2025-10-07", ND), ("2025-10-08", ND)]
SPRING_FESTIVAL_2026 = [(f"2026-02-{day}", SF) for day in range(15, 24)]


# -- National Day 2025 ---------------------------------------------------------------------------------

def test_three_days_before_national_day_count_the_make_up_sunday():
    # Fri 09-26 → Sat 09-27 off, Sun 09-28 (调休) 1, Mon 09-29 2, Tue 09-30 3
    dl = CAL.add_working_days(d("2025-09-26"), 3)
    assert dl.due_on == d("2025-09-30")
    assert (dl.start, dl.working_days, dl.from_next_day) == (d("2025-09-26"), 3, True)
    assert dl.skipped == skipped(("2025-09-27", WEEKEND))
    assert dl.make_up_days == [MakeUpDay(d("2025-09-28"), ND)]
    assert dl.explain() == ("自2025-09-26次日起算3个工作日，至2025-09-30届满；跳过：2025-09-27（周末 weekend）；"
                            "调休上班：2025-09-28（国庆节 National Day）")


def test_three_days_across_national_day_end_on_the_make_up_saturday():
    # Tue 09-30 → 10-01..10-08 off, Thu 10-09 1, Fri 10-10 2, Sat 10-11 (调休) 3
    dl = CAL.add_working_days(d("2025-09-30"), 3)
    assert dl.due_on == d("2025-10-11")
    assert dl.due_on.weekday() == 5
    assert dl.skipped == skipped(*NATIONAL_DAY_2025)
    assert dl.make_up_days == [MakeUpDay(d("2025-10-11"), ND)]


def test_twenty_days_across_national_day_2025():
    # 10-09 1, 10-10 2, 10-11 3 (Sat, 调休), 10-13..17 4-8, 10-20..24 9-13, 10-27..31 14-18, 11-03 19, 11-04 20
    dl = CAL.add_working_days(d("2025-09-30"), 20)
    assert dl.due_on == d("2025-11-04")
    assert dl.skipped == skipped(*NATIONAL_DAY_2025, ("2025-10-12", WEEKEND), ("2025-10-18", WEEKEND),
                                 ("2025-10-19", WEEKEND), ("2025-10-25", WEEKEND), ("2025-10-26", WEEKEND),
                                 ("2025-11-01", WEEKEND), ("2025-11-02", WEEKEND))
    assert dl.make_up_days == [MakeUpDay(d("2025-10-11"), ND)]
    assert dl.explain() == (
        "自2025-09-30次日起算20个工作日，至2025-11-04届满；跳过：2025-10-01至2025-10-05（国庆节 National Day）、"
        "2025-10-06（中秋节 Mid-autumn Festival）、2025-10-07至2025-10-08（国庆节 National Day）、2025-10-12（周末 weekend）、"
        "2025-10-18至2025-10-19（周末 weekend）、2025-10-25至2025-10-26（周末 weekend）、2025-11-01至2025-11-02（周末 weekend）；"
        "调休上班：2025-10-11（国庆节 National Day）")


# -- Spring Festival 2026 ------------------------------------------------------------------------------

def test_three_days_across_spring_festival_2026():
    # Fri 02-13 → Sat 02-14 (调休) 1, 02-15..23 off, Tue 02-24 2, Wed 02-25 3
    dl = CAL.add_working_days(d("2026-02-13"), 3)
    assert dl.due_on == d("2026-02-25")
    assert dl.skipped == skipped(*SPRING_FESTIVAL_2026)
    assert dl.make_up_days == [MakeUpDay(d("2026-02-14"), SF)]


def test_twenty_days_across_spring_festival_2026():
    # Thu 02-12 → 02-13 1, 02-14 2 (调休), 02-24..27 3-6, Sat 02-28 7 (调休), 03-02..06 8-12, 03-09..13 13-17,
    # 03-16 18, 03-17 19, 03-18 20
    dl = CAL.add_working_days(d("2026-02-12"), 20)
    assert dl.due_on == d("2026-03-18")
    assert dl.skipped == skipped(*SPRING_FESTIVAL_2026, ("2026-03-01", WEEKEND), ("2026-03-07", WEEKEND),
                                 ("2026-03-08", WEEKEND), ("2026-03-14", WEEKEND), ("2026-03-15", WEEKEND))
    assert dl.make_up_days == [MakeUpDay(d("2026-02-14"), SF), MakeUpDay(d("2026-02-28"), SF)]


def test_art26_publication_period_from_2026_09_30():
    # 10-01..07 off, 10-08 1, 10-09 2, Sat 10-10 3 (调休), 10-12..16 4-8, 10-19..23 9-13, 10-26..30 14-18,
    # 11-02 19, 11-03 20
    dl = CAL.add_working_days(d("2026-09-30"), 20)
    assert dl.due_on == d("2026-11-03")
    assert dl.explain().startswith(
        "自2026-09-30次日起算20个工作日，至2026-11-03届满；跳过：2026-10-01至2026-10-07（国庆节 National Day）、")
    assert dl.explain().endswith("；调休上班：2026-10-10（国庆节 National Day）")


# -- single days, counting variants, between -----------------------------------------------------------

@pytest.mark.parametrize(("day", "working"), [
    ("2025-09-28", True),   # Sunday, 调休
    ("2025-10-11", True),   # Saturday, 调休
    ("2025-10-12", False),  # Sunday
    ("2025-10-06", False),  # Monday, 中秋节
    ("2025-10-09", True),   # Thursday
    ("2026-02-23", False),  # Monday, 春节
    ("2026-02-28", True),   # Saturday, 调休
    ("2026-01-04", True),   # Sunday, 元旦调休
])
def test_is_working_day(day, working):
    assert CAL.is_working_day(d(day)) is working
    assert is_working_day(d(day), calendar=CAL) is working


def test_classify_reasons():
    assert CAL.classify(d("2025-10-06")) == (False, MA)
    assert CAL.classify(d("2025-10-04")) == (False, ND)       # a Saturday inside the holiday: the holiday, not 周末
    assert CAL.classify(d("2025-10-12")) == (False, WEEKEND)
    assert CAL.classify(d("2025-10-11")) == (True, ND)
    assert CAL.classify(d("2025-10-09")) == (True, None)


def test_counting_from_the_start_day_itself():
    assert CAL.add_working_days(d("2025-10-09"), 3, from_next_day=False).due_on == d("2025-10-11")
    dl = CAL.add_working_days(d("2025-10-01"), 1, from_next_day=False)
    assert dl.due_on == d("2025-10-09")
    assert dl.skipped == skipped(*NATIONAL_DAY_2025)
    assert dl.explain().startswith("自2025-10-01当日起算1个工作日，至2025-10-09届满")


def test_zero_and_negative():
    dl = CAL.add_working_days(d("2025-10-01"), 0)
    assert (dl.due_on, dl.skipped, dl.make_up_days) == (d("2025-10-01"), [], [])
    assert dl.explain() == "自2025-10-01次日起算0个工作日，至2025-10-01届满；跳过：无；调休上班：无"
    with pytest.raises(ValueError):
        CAL.add_working_days(d("2025-10-01"), -1)


def test_working_days_between():
    assert CAL.working_days_between(d("2025-09-30"), d("2025-11-04")) == 20
    assert CAL.working_days_between(d("2025-11-04"), d("2025-09-30")) == -20
    assert CAL.working_days_between(d("2025-09-30"), d("2025-10-08")) == 0
    assert CAL.working_days_between(d("2025-09-30"), d("2025-10-11")) == 3
    assert CAL.working_days_between(d("2025-10-09"), d("2025-10-09")) == 0
    assert working_days_between(d("2026-02-12"), d("2026-03-18"), calendar=CAL) == 20


@pytest.mark.parametrize("start", ["2025-09-20", "2025-09-26", "2025-12-20", "2026-02-10", "2026-09-18"])
@pytest.mark.parametrize("n", [1, 3, 7, 15, 20, 40])
def test_add_and_between_agree(start, n):
    dl = CAL.add_working_days(d(start), n)
    assert CAL.is_working_day(dl.due_on)
    assert CAL.working_days_between(d(start), dl.due_on) == n
    assert len(dl.skipped) + n == (dl.due_on - d(start)).days


def test_datetimes_are_refused():
    with pytest.raises(TypeError):
        CAL.is_working_day(datetime(2025, 10, 1, 12, tzinfo=UTC))


# -- due_at and serialisation ---------------------------------------------------------------------------

def test_due_at_is_end_of_the_local_day_in_utc():
    dl = CAL.add_working_days(d("2025-09-26"), 3)
    expected = datetime(2025, 9, 30, 15, 59, 59, 999999, tzinfo=UTC)
    assert due_at(dl) == expected
    assert dl.due_at() == expected
    assert due_at(d("2025-09-30")) == expected
    assert due_at(dl, tz="UTC") == datetime(2025, 9, 30, 23, 59, 59, 999999, tzinfo=UTC)
    assert due_at(dl).tzinfo is UTC


def test_deadline_round_trips_through_json():
    dl = CAL.add_working_days(d("2025-09-30"), 20)
    again = Deadline.model_validate_json(dl.model_dump_json())
    assert again == dl
    assert again.skipped[0] == SkippedDay(d("2025-10-01"), ND)
    with pytest.raises(ValidationError):
        dl.due_on = d("2030-01-01")  # frozen


# -- unknown years ------------------------------------------------------------------------------------

def test_unknown_year_is_an_error_not_a_guess():
    with pytest.raises(CalendarUnknown) as e:
        CAL.is_working_day(d("2027-03-01"))
    assert e.value.year == 2027
    msg = str(e.value)
    assert "2027年" in msg and "2027" in msg and "GONGKAI_CALENDAR_FILE" in msg and "State Council" in msg
    with pytest.raises(CalendarUnknown):
        CAL.is_working_day(d("2003-06-02"))
    assert not CAL.knows(2027) and CAL.knows(2026)


def test_a_period_running_into_an_unknown_year_fails():
    # Tue 2026-12-15: 12 working days left in 2026 (12-16..18, 21..25, 28..31), the 13th would be in 2027
    assert CAL.add_working_days(d("2026-12-15"), 12).due_on == d("2026-12-31")
    with pytest.raises(CalendarUnknown) as e:
        CAL.add_working_days(d("2026-12-15"), 20)
    assert e.value.year == 2027


# -- schedules from configuration ----------------------------------------------------------------------

TOML_2027 = """
# made-up 2027 schedule, for the tests only
[2027]
holidays = { 2027-01-01 = "元旦", 2027-01-02 = "元旦", 2027-01-03 = "New Year's Day" }
workdays = { 2027-02-13 = "春节调休" }
"""


def test_extra_year_from_a_toml_file(tmp_path):
    path = tmp_path / "calendar.toml"
    path.write_text(TOML_2027, encoding="utf-8")
    cal = Calendar.from_file(path)
    assert cal.extra_years == [2027] and cal.knows(2027)
    # Tue 2026-12-15: 12-16..18 1-3, 12-21..25 4-8, 12-28..31 9-12, 2027-01-01..03 off (元旦), 01-04..08 13-17,
    # 01-11 18, 01-12 19, 01-13 20
    dl = cal.add_working_days(d("2026-12-15"), 20)
    assert dl.due_on == d("2027-01-13")
    assert dl.skipped == skipped(("2026-12-19", WEEKEND), ("2026-12-20", WEEKEND), ("2026-12-26", WEEKEND),
                                 ("2026-12-27", WEEKEND), ("2027-01-01", NY), ("2027-01-02", NY), ("2027-01-03", NY),
                                 ("2027-01-09", WEEKEND), ("2027-01-10", WEEKEND))
    assert cal.is_working_day(d("2027-02-13"))            # Saturday, 调休 from the file
    assert cal.classify(d("2027-02-13")) == (True, "春节调休")
    assert not cal.is_working_day(d("2027-02-14"))        # an ordinary Sunday
    assert cal.is_working_day(d("2027-03-01"))            # an ordinary Monday
    assert cal.is_working_day(d("2025-09-28"))            # built-in years are untouched


def test_json_file_and_section_form(tmp_path):
    j = tmp_path / "calendar.json"
    j.write_text('{"2027": {"holidays": {"2027-01-01": "元旦"}}}', encoding="utf-8")
    assert Calendar.from_file(j).classify(d("2027-01-01")) == (False, NY)
    t = tmp_path / "calendar.toml"
    t.write_text('[2027.holidays]\n2027-01-01 = "元旦"\n2027-10-01 = "国庆节"\n', encoding="utf-8")
    cal = Calendar.from_file(t)
    assert cal.classify(d("2027-10-01")) == (False, ND)
    assert cal.is_working_day(d("2027-01-04"))


def test_an_extra_schedule_replaces_the_built_in_year():
    # a 2026 with one more day off (10-08) and no make-up days: built-in 调休 days become ordinary weekend days
    national_day = {date(2026, 10, day): "国庆节" for day in range(1, 8)}
    cal = Calendar(extra={2026: YearSchedule(holidays={**national_day, date(2026, 10, 8): "地方假日"})})
    assert CAL.is_working_day(d("2026-10-08")) and not cal.is_working_day(d("2026-10-08"))
    assert cal.classify(d("2026-10-08")) == (False, "地方假日")
    assert CAL.is_working_day(d("2026-10-10")) and not cal.is_working_day(d("2026-10-10"))
    assert CAL.is_working_day(d("2026-02-14")) and not cal.is_working_day(d("2026-02-14"))
    assert not CAL.is_working_day(d("2026-02-16")) and cal.is_working_day(d("2026-02-16"))
    # Wed 09-30: 10-01..08 off, Fri 10-09 1, Sat 10-10 now off, 10-12..16 2-6, 10-19..23 7-11, 10-26..30 12-16,
    # 11-02..05 17-20: one day later than with the official schedule (11-03)
    dl = cal.add_working_days(d("2026-09-30"), 20)
    assert dl.due_on == d("2026-11-05")
    assert dl.make_up_days == []
    assert CAL.is_working_day(d("2025-10-11")) == cal.is_working_day(d("2025-10-11"))  # other years untouched


@pytest.mark.parametrize("text", [
    '[2027]\nworkdays = { 2027-01-04 = "x" }\n',           # a Monday cannot be a make-up day
    '[2027]\nholidays = { 2028-01-01 = "元旦" }\n',          # wrong year
    '[2027]\nholidays = { 2027-01-02 = "元旦" }\nworkdays = { 2027-01-02 = "x" }\n',  # both
    '[2027]\nholiday = { 2027-01-01 = "元旦" }\n',           # typo in the table name
    '[27]\nholidays = { 2027-01-01 = "元旦" }\n',            # not a year
    '[2027]\nholidays = { 2027-13-01 = "元旦" }\n',          # not a date
    '[2027]\nholidays = { 2027-01-01 = "" }\n',              # no name
    '[2027\n',                                                # not TOML
])
def test_malformed_files_are_refused(tmp_path, text):
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarConfigError):
        Calendar.from_file(path)


def test_missing_file_and_wrong_suffix(tmp_path):
    with pytest.raises(CalendarConfigError):
        Calendar.from_file(tmp_path / "nope.toml")
    other = tmp_path / "calendar.yaml"
    other.write_text("2027: {}\n", encoding="utf-8")
    with pytest.raises(CalendarConfigError):
        Calendar.from_file(other)


def test_calendar_from_env(tmp_path, monkeypatch):
    assert calendar_from_env({}).extra_years == []
    assert calendar_from_env({"GONGKAI_CALENDAR_FILE": ""}).extra_years == []
    path = tmp_path / "calendar.toml"
    path.write_text(TOML_2027, encoding="utf-8")
    assert calendar_from_env({"GONGKAI_CALENDAR_FILE": str(path)}).knows(2027)
    with pytest.raises(CalendarConfigError):
        calendar_from_env({"GONGKAI_CALENDAR_FILE": str(tmp_path / "missing.toml")})

    monkeypatch.setenv("GONGKAI_CALENDAR_FILE", str(path))
    default_calendar.cache_clear()
    try:
        assert is_working_day(d("2027-02-13"))
        assert add_working_days(d("2026-12-15"), 20).due_on == d("2027-01-13")
    finally:
        monkeypatch.delenv("GONGKAI_CALENDAR_FILE")
        default_calendar.cache_clear()
    with pytest.raises(CalendarUnknown):
        is_working_day(d("2027-02-13"))


def test_classify_remembers_each_day_but_never_an_unknown_year():
    cal = Calendar()
    days = [d("2025-09-27"), d("2025-09-28"), d("2025-10-01"), d("2025-10-06"), d("2025-10-09"), d("2025-10-12")]
    first = [cal.classify(day) for day in days]
    assert [cal.classify(day) for day in days] == first == [Calendar().classify(day) for day in days]
    for _ in range(2):  # a year without a schedule is refused every time, not remembered as some answer
        with pytest.raises(CalendarUnknown):
            cal.classify(date(2099, 1, 5))
    with pytest.raises(TypeError):  # a datetime is not a day, even once its date has been classified
        cal.classify(datetime(2025, 10, 1, 12, tzinfo=UTC))


def test_the_next_years_missing_schedule_is_noticed_a_quarter_ahead(tmp_path):
    """`gongkai up` and `gongkai status` warn while a deadline started today could reach an unscheduled year."""
    from gongkai.workdays import unscheduled_years

    assert unscheduled_years(d("2026-09-30"), calendar=CAL) == []  # 2027 is more than a quarter away
    assert unscheduled_years(d("2026-10-01"), calendar=CAL) == [2027]
    assert unscheduled_years(d("2027-01-04"), calendar=CAL) == [2027]
    path = tmp_path / "calendar.toml"
    path.write_text(TOML_2027, encoding="utf-8")
    assert unscheduled_years(d("2026-12-01"), calendar=Calendar.from_file(path)) == []
