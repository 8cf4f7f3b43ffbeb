"""The bare workflow of the review's shape, for the Temporal ceiling (bench/ceilings.py): started, two
decisions as updates, the last one running one activity, then done. A module of its own, with nothing but
temporalio imported, because the workflow sandbox imports it again for every run."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_publish")
async def bench_publish(item: str) -> str:
    return item


@workflow.defn(name="BenchReview")
class BenchReview:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, item: str) -> str:
        await workflow.wait_condition(lambda: self.done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return item

    @workflow.update
    async def decide(self, stage: str) -> str:
        if stage == "recheck":
            await workflow.execute_activity(bench_publish, stage, start_to_close_timeout=timedelta(seconds=30))
            self.done = True
        return stage
