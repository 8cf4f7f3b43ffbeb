"""Activities of the publishing workflow: commands to the items service over NATS, and the deadline clock.

The commands are idempotent: the items service records a decision once per request id, publishes a
submission once, and records a reminder once per deadline, so Temporal may retry them freely (a lost
reply, the items service restarting).
"""

from __future__ import annotations

from typing import Literal

import httpx
import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel
from temporalio import activity

from contracts import subjects
from contracts.application_events import ApplicantWindows, ApplicationRef
from contracts.reviews import (
    AnnualReportInput,
    CommandReply,
    DeadlineRequest,
    FileReport,
    GeneratedReport,
    PublishItem,
    RecordDecision,
    Reminder,
)
from gongkai import observability
from gongkai.deadlines import DeadlineInfo, deadline
from gongkai.deployment import Duration


class ReviewStep(BaseModel):
    """One decision of the review as one local activity: record it, publish after the final approval, and,
    when the chain moves on, compute the next stage's deadline (the same commands as the two activities
    before it, so the items service checks and counts them as it always did)."""

    decision: RecordDecision
    publish: bool = False
    deadline: DeadlineRequest | None = None


class ReviewStepResult(BaseModel):
    reply: CommandReply
    refused: Literal["decision", "publish"] | None = None  # which command the items service refused
    deadline: DeadlineInfo | None = None


class ItemCommands:
    def __init__(self, nc: nats.NATS, timeout: float = 10.0):
        self.nc, self.timeout = nc, timeout

    async def _send(self, subject: str, cmd: BaseModel, reply_type: type[BaseModel]):
        """Send the command with the trace context in its headers; count it by its reply."""
        headers: dict[str, str] = {}
        try:
            with observability.client_span(f"{subject} send", headers, **{"messaging.destination.name": subject}):
                msg = await self.nc.request(subject, cmd.model_dump_json().encode(), timeout=self.timeout,
                                            headers=headers or None)
            reply = reply_type.model_validate_json(msg.data)
        except BaseException as e:
            observability.command_sent(subject, error=e)
            raise
        observability.command_sent(subject, reply)
        return reply

    async def _request(self, subject: str, cmd: BaseModel) -> CommandReply:
        try:
            return await self._send(subject, cmd, CommandReply)
        except (NoRespondersError, NatsTimeout) as e:  # items service down or busy: Temporal retries
            raise RuntimeError(f"items service did not answer {subject}: {type(e).__name__}") from e

    @activity.defn(name="record_decision")
    async def record_decision(self, cmd: RecordDecision) -> CommandReply:
        reply = await self._request(subjects.CMD_RECORD_DECISION, cmd)
        if reply.ok:
            observability.decision_recorded(cmd.aggregate, cmd.stage, cmd.outcome)
        return reply

    @activity.defn(name="publish_item")
    async def publish(self, cmd: PublishItem) -> CommandReply:
        reply = await self._request(subjects.CMD_PUBLISH, cmd)
        if reply.ok:
            observability.published(cmd.aggregate)
        return reply

    @activity.defn(name="review_step")
    async def review_step(self, step: ReviewStep) -> ReviewStepResult:
        reply = await self.record_decision(step.decision)
        if not reply.ok:
            return ReviewStepResult(reply=reply, refused="decision")
        cmd = step.decision
        if step.publish:
            reply = await self.publish(PublishItem(aggregate=cmd.aggregate, aggregate_id=cmd.aggregate_id, org=cmd.org,
                                                   submission=cmd.submission, workflow_id=cmd.workflow_id))
            if not reply.ok:
                return ReviewStepResult(reply=reply, refused="publish")
        info = compute_deadline(step.deadline) if step.deadline is not None else None
        return ReviewStepResult(reply=reply, deadline=info)

    @activity.defn(name="application_windows")
    async def windows(self, ref: ApplicationRef) -> ApplicantWindows:
        return await self._send(subjects.CMD_APPLICATION_WINDOWS, ref, ApplicantWindows)

    @activity.defn(name="application_expire")
    async def expire(self, ref: ApplicationRef) -> CommandReply:
        return await self._request(subjects.CMD_APPLICATION_EXPIRE, ref)

    @activity.defn(name="file_report")
    async def file_report(self, cmd: FileReport) -> CommandReply:
        return await self._request(subjects.CMD_FILE_REPORT, cmd)

    @activity.defn(name="remind")
    async def remind(self, cmd: Reminder) -> CommandReply:
        return await self._request(subjects.CMD_REMIND, cmd)


@activity.defn(name="deadline")
def compute_deadline(req: DeadlineRequest) -> DeadlineInfo:
    """The working-day calendar is configuration that can change (next year's schedule is added each
    winter): computing the deadline here records it in the history, so a replay never recomputes it."""
    return deadline(req.rule, req.start, Duration.parse(req.duration))


class ReportActivities:
    """Reads the report from the reports service, as any client does, with a token of this deployment."""

    def __init__(self, reports_url: str, token_for):
        self.reports_url, self.token_for = reports_url, token_for

    @activity.defn(name="generate_report")
    async def generate(self, inp: AnnualReportInput) -> GeneratedReport:
        headers = observability.inject({"Authorization": f"Bearer {self.token_for(inp.org)}"})
        url = f"{self.reports_url}/reports/{inp.year}"
        params = {"org": inp.org, "template": inp.template}
        async with httpx.AsyncClient(timeout=60) as client:
            checked = (await client.get(url, params={**params, "format": "json"}, headers=headers)).raise_for_status()
            md = (await client.get(url, params={**params, "format": "md"}, headers=headers)).raise_for_status()
        data = checked.json()
        blocking = [f"{r['rule']} {r['cell']}: {r['message']}" for r in data["rules"] if r["hard"] and not r["ok"]]
        name = data["org_name"]
        return GeneratedReport(org=inp.org, year=inp.year, template=inp.template, body=md.text, blocking=blocking,
                               title=f"{name}{inp.year}年政府信息公开工作年度报告")
