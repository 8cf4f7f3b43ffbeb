"""The application's clock watch on the time-skipping server: a window that runs out ends the application;
a correction or payment that arrives in time stops the watch from ending it."""

import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts import subjects
from contracts.application_events import ApplicantWindows, ApplicationRef
from contracts.reviews import CommandReply
from workflows.application_clock import ApplicationClockWorkflow


@pytest.fixture
async def env(time_skipping_path):
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=time_skipping_path,
                                                        data_converter=pydantic_data_converter)
    yield env
    await env.shutdown()


class ApplicationDouble:
    """The items service's answers, as a list the test changes: windows, then whether expiry is allowed."""

    def __init__(self, env):
        self.env, self.expired, self.windows_calls = env, 0, 0
        self.expires_in: timedelta | None = timedelta(days=2)
        self.finished = False

    @activity.defn(name="application_windows")
    async def windows(self, ref: ApplicationRef) -> ApplicantWindows:
        self.windows_calls += 1
        if self.finished:
            return ApplicantWindows(finished=True)
        if self.expires_in is None:
            return ApplicantWindows(finished=False)
        return ApplicantWindows(finished=False, which="correction",
                                expires_at=await self.env.get_current_time() + self.expires_in)

    @activity.defn(name="application_expire")
    async def expire(self, ref: ApplicationRef) -> CommandReply:
        self.expired += 1
        return CommandReply(ok=True, status="closed")


async def run_with(env, double, body):
    queue = f"q-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[ApplicationClockWorkflow],
                      activities=[double.windows, double.expire]):
        handle = await env.client.start_workflow(ApplicationClockWorkflow.run, ApplicationRef(aggregate_id="a1"),
                                                 id=f"clock-{uuid.uuid4()}", task_queue=queue)
        return await body(handle)


async def test_a_window_that_runs_out_ends_the_application(env):
    double = ApplicationDouble(env)

    async def body(handle):
        return await handle.result()  # time skips to the end of the window

    assert await run_with(env, double, body) == "closed"
    assert double.expired == 1


async def test_a_correction_in_time_stops_the_clock_from_ending_it(env):
    double = ApplicationDouble(env)

    async def body(handle):
        await env.sleep(timedelta(days=1))
        double.expires_in = None  # the corrected application arrived: no applicant window is open
        await handle.signal(subjects.CLOCK_CHANGED_SIGNAL)
        await env.sleep(timedelta(days=5))
        assert double.expired == 0
        double.finished = True  # later answered
        await handle.signal(subjects.CLOCK_CHANGED_SIGNAL)
        return await handle.result()

    assert await run_with(env, double, body) == "finished"
    assert double.expired == 0 and double.windows_calls >= 3
