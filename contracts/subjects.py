"""NATS names: the event stream, the subject of each aggregate, the command subjects."""

from __future__ import annotations

STREAM = "GONGKAI"
EVENTS = "gongkai.events"
STREAM_SUBJECTS = [f"{EVENTS}.>"]

#: commands the items service answers (request/reply on core NATS, never stored in the stream)
CMD_RECORD_DECISION = "gongkai.commands.items.record_decision"
CMD_PUBLISH = "gongkai.commands.items.publish"
CMD_REMIND = "gongkai.commands.items.remind"
CMD_FILE_REPORT = "gongkai.commands.items.file_report"
CMD_CLOSE_YEAR = "gongkai.commands.items.close_year"
CMD_APPLICATION_WINDOWS = "gongkai.commands.items.application_windows"
CMD_APPLICATION_EXPIRE = "gongkai.commands.items.application_expire"

#: Temporal names shared by the services and the worker
TASK_QUEUE = "gongkai-reviews"
PUBLISHING_WORKFLOW = "PublishingWorkflow"
DECIDE_UPDATE = "decide"
STATE_QUERY = "state"
APPLICATION_CLOCK_WORKFLOW = "ApplicationClockWorkflow"
ANNUAL_REPORT_WORKFLOW = "AnnualReportWorkflow"


def annual_report_workflow_id(org: str, year: int) -> str:
    return f"annual-report-{org}-{year}"


def annual_report_schedule_id(org: str) -> str:
    return f"annual-report-{org}"
CLOCK_CHANGED_SIGNAL = "clock_changed"


def application_clock_id(application_id: str) -> str:
    """One clock-watching workflow per application, for its whole life."""
    return f"clock-application-{application_id}"


def event_subject(aggregate: str, aggregate_id: str) -> str:
    """One subject per aggregate instance: gongkai.events.item.<id>."""
    if not aggregate_id or any(c in aggregate_id for c in ".*> \t"):
        raise ValueError(f"invalid aggregate id {aggregate_id!r}")
    return f"{EVENTS}.{aggregate}.{aggregate_id}"


def index_subject(org: str, year: int) -> str:
    """The counter of an org's 索引号 in one year."""
    return event_subject("index", f"{org}-{year}")


def review_workflow_id(aggregate: str, aggregate_id: str, submission: int) -> str:
    """One publishing workflow per submission."""
    return f"review-{aggregate}-{aggregate_id}-{submission}"
