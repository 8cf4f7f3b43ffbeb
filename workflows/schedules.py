"""The year-end schedule: one Temporal schedule per configured org starts, each January (default 5 January,
`[report] generate_on = "01-05"`), the annual-report workflow for the year before."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)

from contracts import subjects
from contracts.reviews import AnnualReportInput
from gongkai.deployment import Deployment


def annual_report_schedule(org: str, template: str, month: int, day: int, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(subjects.ANNUAL_REPORT_WORKFLOW, AnnualReportInput(org=org, template=template),
                                           id=f"annual-report-{org}", task_queue=task_queue),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(month=[ScheduleRange(month)], day_of_month=[ScheduleRange(day)],
                                                          hour=[ScheduleRange(9)])],
                          time_zone_name="Asia/Shanghai"),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))


async def ensure_schedules(client: Client, deployment: Deployment, task_queue: str = subjects.TASK_QUEUE) -> list[str]:
    """Create the schedule of each configured org that has none; existing ones are left as they are."""
    created = []
    month, day = deployment.report_day
    for org in deployment.orgs.values():
        try:
            await client.create_schedule(subjects.annual_report_schedule_id(org.code),
                                         annual_report_schedule(org.code, org.report_template, month, day, task_queue))
            created.append(org.code)
        except ScheduleAlreadyRunningError:
            pass
    return created
