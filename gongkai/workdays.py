"""The one working-day (工作日) calendar behind every clock of the system.

The 2019 Regulation (国务院令第711号) counts its periods in working days:

- Art. 26: proactive disclosure within 20 working days of the information being formed or changed;
- Art. 30: notice to correct (补正) an unclear application within 7 working days of receipt;
- Art. 32: a consulted third party has 15 working days to reply;
- Art. 33: reply within 20 working days of receipt, extendable by at most 20 working days;
- fee notices: payment within 20 working days (国办函〔2020〕109号, as implemented locally).

A working day is a day on which state organs work under the State Council's yearly schedule
(国务院办公厅关于某年部分节假日安排的通知): Monday to Friday, except statutory holidays, plus the
weekend days declared working days to make up for a holiday (调休上班).  Counting starts on the day
after the triggering event (民法典 Art. 201: 开始的当日不计入，自下一日开始计算).

The built-in schedules come from ``chinese_calendar``, which knows the years up to the one whose
schedule has been announced when the package was released.  A deployment adds a newly announced
year (or corrects one) with a TOML or JSON file named by ``GONGKAI_CALENDAR_FILE``::

    [2027]
    holidays = { 2027-01-01 = "元旦", 2027-02-06 = "春节" }
    workdays = { 2027-02-14 = "春节调休" }

    [2028.holidays]                 # the same, one day a line
    2028-01-01 = "元旦"

A year in that file replaces the built-in schedule for that whole year.  A day in a year no schedule
covers raises ``CalendarUnknown``: a deadline is never guessed.

Everything here is pure except ``Calendar.from_file`` / ``calendar_from_env`` / ``default_calendar``,
which read the file once.
"""

from __future__ import annotations

import functools
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import BaseModel, ConfigDict

__all__ = [
    "CALENDAR_FILE_ENV", "WEEKEND", "Calendar", "CalendarConfigError", "CalendarUnknown", "Deadline", "MakeUpDay",
    "SkippedDay", "YearSchedule", "add_working_days", "calendar_from_env", "default_calendar", "due_at",
    "is_working_day", "unscheduled_years", "working_days_between",
]

CALENDAR_FILE_ENV = "GONGKAI_CALENDAR_FILE"
DEFAULT_TZ = "Asia/Shanghai"
WEEKEND = "周末 weekend"

#: chinese_calendar's holiday names (``Holiday`` enum values) in Chinese
HOLIDAY_NAMES_ZH: Mapping[str, str] = MappingProxyType({
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
})
_HOLIDAY_NAMES_EN = {zh: en for en, zh in HOLIDAY_NAMES_ZH.items()}


def holiday_label(name: str) -> str:
    """"国庆节 National Day" from either "National Day" or "国庆节"; any other name unchanged."""
    if name in HOLIDAY_NAMES_ZH:
        return f"{HOLIDAY_NAMES_ZH[name]} {name}"
    if name in _HOLIDAY_NAMES_EN:
        return f"{name} {_HOLIDAY_NAMES_EN[name]}"
    return name


class CalendarUnknown(LookupError):
    """No schedule (neither chinese_calendar nor the deployment's file) covers ``year``."""

    def __init__(self, year: int, known: str = "") -> None:
        self.year = year
        known_zh = f"（已知年份：{known}）" if known else ""
        known_en = f" (known years: {known})" if known else ""
        super().__init__(
            f"工作日历中没有{year}年的节假日和调休安排{known_zh}，无法计算工作日期限。"
            f"请在国务院办公厅公布{year}年节假日安排后，将其写入日历文件（TOML或JSON，[{year}]表下的 holidays 和 workdays），"
            f"并用环境变量 {CALENDAR_FILE_ENV} 指向该文件，或升级 chinese-calendar。 / "
            f"The working-day calendar has no holiday schedule for {year}{known_en}, so no working-day deadline can be "
            f"computed. Once the State Council has announced the {year} schedule, put it in a TOML or JSON file "
            f"(a [{year}] table with holidays and workdays) and set {CALENDAR_FILE_ENV} to its path, "
            f"or upgrade chinese-calendar."
        )


class CalendarConfigError(ValueError):
    """A schedule given by the deployment is malformed (message in Chinese and English)."""


class SkippedDay(NamedTuple):
    """A day not counted: ``reason`` is ``WEEKEND`` or the holiday, e.g. "国庆节 National Day"."""

    day: date
    reason: str


class MakeUpDay(NamedTuple):
    """A weekend day counted as a working day (调休上班); ``name`` is the holiday it makes up for."""

    day: date
    name: str


def _check_date(d: object) -> date:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a datetime.date (the local Asia/Shanghai day), got {type(d).__name__}")
    return d


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: days off (``holidays``, weekend days inside a holiday block may be
    listed too) and weekend days worked (``workdays``, 调休), each mapped to a name such as "春节".

    It replaces the built-in schedule for its whole year: every other Monday–Friday is a working day,
    every other Saturday and Sunday is not.
    """

    holidays: Mapping[date, str] = field(default_factory=dict)
    workdays: Mapping[date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for d in (*self.holidays, *self.workdays):
            _check_date(d)
        weekday_workdays = sorted(d for d in self.workdays if d.weekday() < 5)
        if weekday_workdays:
            raise CalendarConfigError(
                f"调休上班日必须是周六或周日：{', '.join(map(str, weekday_workdays))} / "
                f"make-up working days must fall on a Saturday or Sunday: {', '.join(map(str, weekday_workdays))}")
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise CalendarConfigError(f"同一天既是假日又是调休上班日：{', '.join(map(str, both))} / "
                                      f"days listed both as holiday and as working day: {', '.join(map(str, both))}")
        object.__setattr__(self, "holidays", MappingProxyType(dict(self.holidays)))
        object.__setattr__(self, "workdays", MappingProxyType(dict(self.workdays)))


class Deadline(BaseModel):
    """A working-day period and how its last day was found, for timers and for showing to users."""

    model_config = ConfigDict(frozen=True)

    due_on: date
    start: date
    working_days: int
    from_next_day: bool = True
    skipped: list[SkippedDay] = []
    make_up_days: list[MakeUpDay] = []

    def explain(self) -> str:
        """E.g. "自2025-09-26次日起算3个工作日，至2025-09-30届满；跳过：2025-09-27（周末 weekend）；
        调休上班：2025-09-28（国庆节 National Day）"; consecutive days with the same reason are joined by "至"."""
        skipped = "、".join(_runs(self.skipped)) or "无"
        make_up = "、".join(_runs(self.make_up_days)) or "无"
        counted_from = "次日" if self.from_next_day else "当日"
        return (f"自{self.start.isoformat()}{counted_from}起算{self.working_days}个工作日，"
                f"至{self.due_on.isoformat()}届满；跳过：{skipped}；调休上班：{make_up}")

    def due_at(self, tz: str = DEFAULT_TZ) -> datetime:
        """The last instant of the due day in ``tz``, as an aware UTC datetime (see ``due_at``)."""
        return due_at(self, tz)


def _runs(days: list[SkippedDay] | list[MakeUpDay]) -> list[str]:
    """Consecutive days with the same reason as one "a至b（reason）" entry."""
    runs: list[list] = []  # [first, last, reason]
    for day, reason in days:
        if runs and runs[-1][2] == reason and runs[-1][1] + timedelta(days=1) == day:
            runs[-1][1] = day
        else:
            runs.append([day, day, reason])
    return [f"{a.isoformat()}{'' if a == b else '至' + b.isoformat()}（{reason}）" for a, b, reason in runs]


class Calendar:
    """The official working-day calendar: chinese_calendar's years, replaced or extended by ``extra``."""

    # `_classified` remembers each day's answer: chinese_calendar scans its whole table on every lookup, which
    # made classifying days the larger part of folding applications' clocks
    __slots__ = ("_classified", "_extra")

    def __init__(self, extra: Mapping[int, YearSchedule] | None = None) -> None:
        extra = dict(extra or {})
        for year, schedule in extra.items():
            if not isinstance(year, int) or isinstance(year, bool):
                raise CalendarConfigError(f"年份必须是整数 / year must be an int: {year!r}")
            if not isinstance(schedule, YearSchedule):
                raise CalendarConfigError(f"{year}: 需要 YearSchedule / expected a YearSchedule, got {type(schedule).__name__}")
            stray = sorted(d for d in (*schedule.holidays, *schedule.workdays) if d.year != year)
            if stray:
                raise CalendarConfigError(f"{year}年的安排中有其他年份的日期：{', '.join(map(str, stray))} / "
                                          f"the {year} schedule lists days of another year: {', '.join(map(str, stray))}")
        self._extra: Mapping[int, YearSchedule] = MappingProxyType(extra)
        self._classified: dict[date, tuple[bool, str | None]] = {}

    def __repr__(self) -> str:
        return f"Calendar(extra_years={sorted(self._extra)})"

    @property
    def extra_years(self) -> list[int]:
        """The years whose schedule comes from configuration rather than chinese_calendar."""
        return sorted(self._extra)

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Calendar:
        """Built-in schedules plus the years in a ``.toml`` or ``.json`` file::

            [2027]                                     # {"2027": {"holidays": {"2027-01-01": "元旦"},
            holidays = { 2027-01-01 = "元旦" }          #           "workdays": {"2027-02-14": "春节调休"}}}
            workdays = { 2027-02-14 = "春节调休" }

        (or ``[2027.holidays]`` sections, one day a line).  Both tables are optional; each year listed
        replaces the built-in schedule for that whole year.  Names of the statutory holidays, in Chinese or
        English, are shown bilingually ("元旦" → "元旦 New Year's Day"); other names as written.
        """
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as e:
            raise CalendarConfigError(f"无法读取工作日历文件 / cannot read the calendar file {p}: {e}") from e
        try:
            if p.suffix.lower() == ".toml":
                data = tomllib.loads(raw.decode("utf-8"))
            elif p.suffix.lower() == ".json":
                data = json.loads(raw.decode("utf-8"))
            else:
                raise CalendarConfigError(f"工作日历文件须为 .toml 或 .json / the calendar file must be .toml or .json: {p}")
        except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CalendarConfigError(f"工作日历文件格式错误 / malformed calendar file {p}: {e}") from e
        try:
            return cls(extra=_parse_schedules(data))
        except CalendarConfigError as e:
            raise CalendarConfigError(f"{p}: {e}") from e

    # -- the calendar --------------------------------------------------------------------------------

    def knows(self, year: int) -> bool:
        """Whether days of ``year`` can be classified (for a health check each November/December)."""
        if year in self._extra:
            return True
        try:
            chinese_calendar.get_holiday_detail(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def _known_years(self) -> str:
        lo, hi = min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year
        extra = [y for y in self._extra if not lo <= y <= hi]
        return f"{lo}–{hi}" + "".join(f", {y}" for y in sorted(extra))

    def classify(self, d: date) -> tuple[bool, str | None]:
        """``(working, name)``: ``name`` is the reason a day is off (``WEEKEND`` or a holiday label), the
        holiday a weekend working day makes up for, or None for an ordinary working day.

        Raises ``CalendarUnknown`` when no schedule covers ``d.year``.
        """
        d = _check_date(d)
        known = self._classified.get(d)
        if known is None:
            known = self._classified[d] = self._classify(d)
        return known

    def _classify(self, d: date) -> tuple[bool, str | None]:
        weekend = d.weekday() >= 5
        schedule = self._extra.get(d.year)
        if schedule is not None:
            if d in schedule.holidays:
                return False, holiday_label(schedule.holidays[d])
            if d in schedule.workdays:
                return True, holiday_label(schedule.workdays[d])
            return (False, WEEKEND) if weekend else (True, None)
        try:
            off, name = chinese_calendar.get_holiday_detail(d)
        except NotImplementedError:
            raise CalendarUnknown(d.year, self._known_years()) from None
        if off:
            return False, holiday_label(name) if name else WEEKEND
        return True, holiday_label(name) if name and weekend else None

    def is_working_day(self, d: date) -> bool:
        """Whether state organs work on ``d`` (weekday not a holiday, or a 调休 weekend day)."""
        return self.classify(d)[0]

    def add_working_days(self, start: date, n: int, *, from_next_day: bool = True) -> Deadline:
        """The ``n``-th working day after ``start``: counting starts the next day (``from_next_day``, as the
        Regulation's periods do: Art. 26 publication, Art. 30 correction notice, Art. 33 reply), or on
        ``start`` itself when ``from_next_day`` is False.  ``n == 0`` gives ``start``.
        """
        start = _check_date(start)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative int, got {n!r}")
        skipped: list[SkippedDay] = []
        make_up: list[MakeUpDay] = []
        day, counted = start, 0
        if n and not from_next_day:
            day = start - timedelta(days=1)
        while counted < n:
            day += timedelta(days=1)
            working, name = self.classify(day)
            if not working:
                skipped.append(SkippedDay(day, name or WEEKEND))
                continue
            counted += 1
            if name is not None:
                make_up.append(MakeUpDay(day, name))
        return Deadline(due_on=day, start=start, working_days=n, from_next_day=from_next_day,
                        skipped=skipped, make_up_days=make_up)

    def working_days_between(self, a: date, b: date) -> int:
        """Working days after ``a`` up to and including ``b`` (0 when equal; negative, -count, when b < a).

        So ``working_days_between(start, add_working_days(start, n).due_on) == n``, and
        ``working_days_between(due_on, today)`` is how many working days a period is overdue (Art. 33).
        """
        a, b = _check_date(a), _check_date(b)
        if b < a:
            return -self.working_days_between(b, a)
        return sum(self.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))


def _parse_schedules(data: object) -> dict[int, YearSchedule]:
    if not isinstance(data, dict):
        raise CalendarConfigError("顶层须为以年份为键的表 / the top level must be a table keyed by year")
    out: dict[int, YearSchedule] = {}
    for key, table in data.items():
        if not (isinstance(key, str) and len(key) == 4 and key.isdigit()):
            raise CalendarConfigError(f"键须为四位年份 / keys must be four-digit years, got {key!r}")
        if not isinstance(table, dict) or set(table) - {"holidays", "workdays"}:
            raise CalendarConfigError(f"[{key}] 只能包含 holidays 和 workdays 两个表 / "
                                      f"[{key}] may only contain the tables holidays and workdays")
        out[int(key)] = YearSchedule(holidays=_parse_days(key, "holidays", table.get("holidays", {})),
                                     workdays=_parse_days(key, "workdays", table.get("workdays", {})))
    return out


def _parse_days(year: str, kind: str, days: object) -> dict[date, str]:
    if not isinstance(days, dict):
        raise CalendarConfigError(f"[{year}] {kind} 须为“日期 = 名称”的表 / must be a table of date = name")
    out: dict[date, str] = {}
    for k, name in days.items():
        try:
            d = date.fromisoformat(k)
        except ValueError:
            raise CalendarConfigError(f"[{year}] {kind}: 日期须为 YYYY-MM-DD / dates must be YYYY-MM-DD, got {k!r}") from None
        if not isinstance(name, str) or not name.strip():
            raise CalendarConfigError(f"[{year}] {kind}: {k} 需要名称 / needs a name such as \"春节\"")
        out[d] = name.strip()
    return out


def calendar_from_env(environ: Mapping[str, str] | None = None) -> Calendar:
    """The calendar configured by ``GONGKAI_CALENDAR_FILE`` (unset or empty: built-in schedules only).

    A set but unreadable or malformed file raises ``CalendarConfigError``, so a deployment fails at start-up.
    """
    path = (os.environ if environ is None else environ).get(CALENDAR_FILE_ENV, "").strip()
    return Calendar.from_file(path) if path else Calendar()


@functools.cache
def default_calendar() -> Calendar:
    """The process-wide calendar (``calendar_from_env()``, read once; ``default_calendar.cache_clear()`` to reload)."""
    return calendar_from_env()


#: how far ahead a clock started today can reach: the longest, Art. 33's 20 + 20 working days, spans about two
#: months around the Spring Festival; three months leaves the office time to add next year's schedule
HORIZON = timedelta(days=92)


def unscheduled_years(today: date, *, calendar: Calendar | None = None) -> list[int]:
    """The years a deadline started today could reach that no schedule covers. The State Council announces a
    year's schedule in November or December; until a deployment adds it (``GONGKAI_CALENDAR_FILE``) or a newer
    ``chinese-calendar`` is installed, deadlines reaching into that year get no date, only a warning."""
    cal = calendar or default_calendar()
    return [y for y in range(today.year, (today + HORIZON).year + 1) if not cal.knows(y)]


def is_working_day(d: date, *, calendar: Calendar | None = None) -> bool:
    """``Calendar.is_working_day`` on ``calendar`` or the default calendar."""
    return (calendar or default_calendar()).is_working_day(d)


def add_working_days(start: date, n: int, *, from_next_day: bool = True, calendar: Calendar | None = None) -> Deadline:
    """``Calendar.add_working_days`` on ``calendar`` or the default calendar (Art. 26, 30, 33 periods)."""
    return (calendar or default_calendar()).add_working_days(start, n, from_next_day=from_next_day)


def working_days_between(a: date, b: date, *, calendar: Calendar | None = None) -> int:
    """``Calendar.working_days_between`` on ``calendar`` or the default calendar."""
    return (calendar or default_calendar()).working_days_between(a, b)


def due_at(deadline: Deadline | date, tz: str = DEFAULT_TZ) -> datetime:
    """End of the due day, 23:59:59.999999 local time in ``tz``, as an aware UTC datetime (for timers).

    A period in working days expires at the end of its last day: an act done at any time that day is in time.
    """
    day = deadline.due_on if isinstance(deadline, Deadline) else _check_date(deadline)
    return datetime.combine(day, time.max, tzinfo=ZoneInfo(tz)).astimezone(UTC)
