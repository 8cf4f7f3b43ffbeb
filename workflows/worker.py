"""The Temporal worker: runs the publishing workflow and its activities."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor

import nats
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from contracts import subjects
from gongkai import natsauth, observability
from gongkai.auth import mint
from gongkai.config import Settings
from gongkai.pull import servers
from gongkai.runtime import connect_temporal
from workflows.activities import ItemCommands, ReportActivities, compute_deadline
from workflows.annual_report import AnnualReportWorkflow
from workflows.application_clock import ApplicationClockWorkflow
from workflows.publishing import PublishingWorkflow
from workflows.schedules import ensure_schedules


def workflow_runner() -> UnsandboxedWorkflowRunner:
    """The workflows run without the sandbox here: it imported and compiled workflows/publishing.py again for
    every run (no bytecode is written in our images), a third of this worker's CPU. Its determinism checks still
    guard every change: the tests and the recorded-history replays run the same workflows in the sandbox."""
    return UnsandboxedWorkflowRunner()


def build_worker(client: Client, nc: nats.NATS, settings: Settings, task_queue: str = subjects.TASK_QUEUE) -> Worker:
    commands = ItemCommands(nc)
    reports = ReportActivities(settings.reports_url, lambda org: mint(settings, user="annual-report", org=org,
                                                                      roles=["office"], ttl_s=600))
    return Worker(client, task_queue=task_queue,
                  workflows=[PublishingWorkflow, ApplicationClockWorkflow, AnnualReportWorkflow],
                  activities=[commands.record_decision, commands.publish, commands.remind, commands.review_step,
                              compute_deadline, commands.windows, commands.expire, commands.file_report,
                              reports.generate],
                  workflow_runner=workflow_runner(),
                  activity_executor=ThreadPoolExecutor(4))


async def main() -> None:
    observability.setup("gongkai-worker")  # JSON logs, tracing: from the environment
    if not observability.json_logs():
        logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    settings = Settings()
    if port := observability.start_worker_metrics(settings.host):
        logging.info("worker metrics on http://%s:%d/metrics", settings.host, port)
    client = await connect_temporal(settings)
    nc = await nats.connect(servers(natsauth.url(settings, "worker")), name="gongkai-worker", max_reconnect_attempts=-1,
                            inbox_prefix=natsauth.inbox_prefix("worker"))
    worker = build_worker(client, nc, settings)
    created = await ensure_schedules(client, settings.deployment())
    if created:
        logging.info("annual-report schedules created for %s", ", ".join(created))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        logging.info("worker ready on task queue %s", subjects.TASK_QUEUE)
        await stop.wait()
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
