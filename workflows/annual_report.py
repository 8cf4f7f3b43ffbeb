"""The annual-report workflow: each January (a Temporal schedule per org) it generates last year's report from
the recorded events, and — only if every table rule holds — files it as an item of kind `annual_report` and
submits it through the review chain, so that it can be published before the statutory date. A report whose
rules fail is not submitted; the result says which cells, and the office sees it on the report."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts import subjects
    from contracts.lifecycle import SHANGHAI
    from contracts.reviews import AnnualReportInput, AnnualReportResult, FileReport
    from workflows.activities import ItemCommands, ReportActivities
    from workflows.publishing import COMMAND_RETRY, COMMAND_TIMEOUT, refused


@workflow.defn(name=subjects.ANNUAL_REPORT_WORKFLOW)
class AnnualReportWorkflow:
    @workflow.run
    async def run(self, inp: AnnualReportInput) -> AnnualReportResult:
        year = inp.year or workflow.now().astimezone(SHANGHAI).year - 1
        report = await workflow.execute_activity_method(
            ReportActivities.generate, AnnualReportInput(org=inp.org, year=year, template=inp.template),
            start_to_close_timeout=timedelta(minutes=2), retry_policy=COMMAND_RETRY)
        if report.blocking:
            return AnnualReportResult(org=inp.org, year=year, status="refused", blocking=report.blocking)
        reply = await workflow.execute_activity_method(
            ItemCommands.file_report, FileReport(org=inp.org, year=year, template=report.template,
                                                 title=report.title, body=report.body),
            start_to_close_timeout=COMMAND_TIMEOUT, retry_policy=COMMAND_RETRY)
        if not reply.ok:
            raise refused(reply)
        return AnnualReportResult(org=inp.org, year=year, status="submitted", item_id=reply.item_id)
