"""The annual-report workflow: a report whose table rules fail is never filed; one that holds is filed and
submitted; and the January schedule really starts it (on the dev server, which has schedules)."""

import asyncio
import shutil
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts import subjects
from contracts.reviews import AnnualReportInput, AnnualReportResult, CommandReply, FileReport, GeneratedReport
from gongkai.deployment import Deployment, OrgConfig
from workflows.annual_report import AnnualReportWorkflow
from workflows.schedules import ensure_schedules


class Doubles:
    def __init__(self, blocking: list[str]):
        self.blocking, self.filed = blocking, []

    @activity.defn(name="generate_report")
    async def generate(self, inp: AnnualReportInput) -> GeneratedReport:
        return GeneratedReport(org=inp.org, year=inp.year, template=inp.template, title="年报", body="# 年报",
                               blocking=self.blocking)

    @activity.defn(name="file_report")
    async def file_report(self, cmd: FileReport) -> CommandReply:
        self.filed.append(cmd)
        return CommandReply(ok=True, item_id="item-1")


async def run(client: Client, doubles: Doubles, inp: AnnualReportInput) -> AnnualReportResult:
    queue = f"q-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[AnnualReportWorkflow],
                      activities=[doubles.generate, doubles.file_report], activity_executor=ThreadPoolExecutor(2)):
        return await client.execute_workflow(AnnualReportWorkflow.run, inp, id=f"wf-{uuid.uuid4()}", task_queue=queue)


@pytest.fixture(scope="module")
async def env(time_skipping_path):
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=time_skipping_path,
                                                        data_converter=pydantic_data_converter)
    yield env
    await env.shutdown()


async def test_a_report_that_breaks_a_table_rule_is_not_submitted(env):
    doubles = Doubles(["T3-1 applications[*][total]: 第一项加第二项（3）不等于第三项加第四项（2）"])
    result = await run(env.client, doubles, AnnualReportInput(org="o", year=2025))
    assert result.status == "refused" and "T3-1" in result.blocking[0] and doubles.filed == []


async def test_a_sound_report_is_filed_and_submitted_for_last_year_by_default(time_skipping_path):
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=time_skipping_path,
                                                        data_converter=pydantic_data_converter)
    try:
        before = await env.get_current_time()
        doubles = Doubles([])
        result = await run(env.client, doubles, AnnualReportInput(org="o"))
    finally:
        await env.shutdown()
    assert result.status == "submitted" and result.item_id == "item-1"
    assert doubles.filed[0].year == result.year == before.year - 1  # a schedule passes no year: the year before


async def test_the_january_schedule_starts_the_workflow_on_the_dev_server():
    temporal = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal, ui=False,
                                                data_converter=pydantic_data_converter)
    try:
        doubles = Doubles([])
        queue = f"q-{uuid.uuid4()}"
        deployment = Deployment(orgs={"zd": OrgConfig(code="zd")})
        async with Worker(env.client, task_queue=queue, workflows=[AnnualReportWorkflow],
                          activities=[doubles.generate, doubles.file_report], activity_executor=ThreadPoolExecutor(2)):
            assert await ensure_schedules(env.client, deployment, task_queue=queue) == ["zd"]
            assert await ensure_schedules(env.client, deployment, task_queue=queue) == []  # once
            handle = env.client.get_schedule_handle(subjects.annual_report_schedule_id("zd"))
            desc = await handle.describe()
            assert desc.info.next_action_times[0].month == 1
            await handle.trigger()
            for _ in range(100):
                if doubles.filed:
                    break
                await asyncio.sleep(0.1)
        assert doubles.filed and doubles.filed[0].org == "zd"
    finally:
        await env.shutdown()
