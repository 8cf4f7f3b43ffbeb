"""Deadlines of the review chain, from the deployment's durations and the one working-day calendar.

The worker (for its timers, through an activity so that a replay sees the same instant), the items service
(to show each deadline and how it was computed) and the reviews service (for the inbox) all call this.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel

from contracts.lifecycle import SHANGHAI
from gongkai import workdays
from gongkai.deployment import Duration


class DeadlineInfo(BaseModel):
    rule: str  # what the deadline is for, e.g. "stage initial: 3 working days"
    due_at: datetime | None = None  # None: no calendar knows the days it would need (see warning)
    due_on: date | None = None
    explanation: str = ""
    warning: str | None = None

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and now > self.due_at


def deadline(rule: str, start: datetime | date, duration: Duration,
             calendar: workdays.Calendar | None = None) -> DeadlineInfo:
    """`duration` after `start`: working days counted from the next day, ending at the end of the due day in
    Asia/Shanghai; or plain seconds (drills and tests)."""
    if isinstance(start, datetime) and start.tzinfo is None:  # SQLite gives back naive UTC timestamps
        start = start.replace(tzinfo=UTC)
    if duration.unit == "s":
        begin = start if isinstance(start, datetime) else datetime.combine(start, datetime.min.time(), SHANGHAI)
        due = begin + timedelta(seconds=duration.amount)
        return DeadlineInfo(rule=rule, due_at=due, due_on=due.astimezone(SHANGHAI).date(),
                            explanation=f"按配置以秒计：{duration.amount:g} 秒 / {duration.amount:g} seconds by configuration")
    day = start.astimezone(SHANGHAI).date() if isinstance(start, datetime) else start
    try:
        d = workdays.add_working_days(day, int(duration.amount), calendar=calendar)
    except workdays.CalendarUnknown as e:
        return DeadlineInfo(rule=rule, warning=str(e))
    return DeadlineInfo(rule=rule, due_at=d.due_at(), due_on=d.due_on, explanation=d.explain())


def stage_deadline(stage: str, started_at: datetime, duration: Duration,
                   calendar: workdays.Calendar | None = None) -> DeadlineInfo:
    return deadline(f"{stage}: {duration}", started_at, duration, calendar)


def publication_deadline(formed_on: date, duration: Duration,
                         calendar: workdays.Calendar | None = None) -> DeadlineInfo:
    """Art. 26: proactive information goes out within 20 working days of being formed or changed."""
    return deadline(f"publication (Art. 26): {duration} after formed_on", formed_on, duration, calendar)


def report_deadline(year: int, month_day: tuple[int, int]) -> DeadlineInfo:
    """Art. 49: the annual report of `year` is published by a fixed day of the next year (end of that day)."""
    day = date(year + 1, *month_day)
    due = datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI) - timedelta(microseconds=1)
    return DeadlineInfo(rule=f"annual report (Art. 49): published by {day}", due_at=due, due_on=day,
                        explanation=f"第四十九条：{year}年度报告应于{day.year}年{day.month}月{day.day}日前公布")
