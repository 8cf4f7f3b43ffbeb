"""The legal clock of one application, watched for its whole life: when the applicant lets the 补正 (correction)
or 缴费 (payment) window run out, the application ends as other_no_correction / other_fee_unpaid, recorded by
the items service as an event. The items service signals every change of the clock; the windows themselves
are computed there (gongkai/appclock.py), never here."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import subjects
    from contracts.application_events import ApplicationRef
    from workflows.activities import ItemCommands
    from workflows.publishing import COMMAND_RETRY, COMMAND_TIMEOUT


@workflow.defn(name=subjects.APPLICATION_CLOCK_WORKFLOW)
class ApplicationClockWorkflow:
    def __init__(self) -> None:
        self.changed = False

    @workflow.signal(name=subjects.CLOCK_CHANGED_SIGNAL)
    def clock_changed(self) -> None:
        self.changed = True

    @workflow.run
    async def run(self, ref: ApplicationRef) -> str:
        while True:
            self.changed = False
            windows = await workflow.execute_activity_method(
                ItemCommands.windows, ref, start_to_close_timeout=COMMAND_TIMEOUT, retry_policy=COMMAND_RETRY)
            if windows.finished:
                return "finished"
            if windows.expires_at is None:
                await workflow.wait_condition(lambda: self.changed)
                continue
            try:
                await workflow.wait_condition(lambda: self.changed,
                                              timeout=max(windows.expires_at - workflow.now(), timedelta(0)))
            except TimeoutError:
                reply = await workflow.execute_activity_method(
                    ItemCommands.expire, ref, start_to_close_timeout=COMMAND_TIMEOUT, retry_policy=COMMAND_RETRY)
                if reply.ok:
                    return reply.status or "closed"
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(ref)
