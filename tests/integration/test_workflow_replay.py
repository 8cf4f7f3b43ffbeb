"""Versioning guard: the publishing workflow must replay every stored history (tests/histories/*.json).

A change to workflows/publishing.py that would break submissions already under review (another order of
activities, timers or local activities, one more or one less of them) fails here. Intentional changes go
behind `workflow.patched(...)`; re-record the histories only when no old run can remain
(`python -m tests.histories.record`, see tests/histories/README.md).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

with workflow.unsafe.imports_passed_through():  # the sandbox re-imports this module for ChangedPublishingWorkflow
    import pytest

    from contracts import subjects
    from contracts.reviews import DeadlineRequest, ReviewState, SubmissionInput
    from workflows.activities import compute_deadline
    from workflows.publishing import ONE_STEP, PublishingWorkflow

HISTORIES = Path(__file__).parents[1] / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def history(path: Path) -> WorkflowHistory:
    """The recorder uses the scenario's name, which is the file's, as the workflow id."""
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


def test_the_histories_are_there():
    assert len(FILES) >= 5, f"expected at least 5 stored histories in {HISTORIES}, found {[f.name for f in FILES]}"


def test_both_generations_are_kept():
    """Runs started before the one-step patch may still be open: their histories (`*.before-<patch>.json`)
    stay beside the ones recorded since, which take the patched path."""
    before = {f.name.split(".")[0] for f in FILES if f".before-{ONE_STEP}." in f.name}
    current = {f.stem for f in FILES if ".before-" not in f.name}
    assert before and before <= current, (before, current)
    for path in FILES:
        assert ("core_patch" in path.read_text(encoding="utf-8")) == (".before-" not in path.name), path.name


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
async def test_the_workflow_replays_the_stored_history(path):
    replayer = Replayer(workflows=[PublishingWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history(path))


@workflow.defn(name=subjects.PUBLISHING_WORKFLOW)
class ChangedPublishingWorkflow(PublishingWorkflow):
    """The workflow as a careless change would leave it: one more local activity before the review starts."""

    @workflow.run
    async def run(self, sub: SubmissionInput) -> ReviewState:
        await workflow.execute_local_activity(
            compute_deadline, DeadlineRequest(rule="changed", start=workflow.now(), duration="1wd"),
            start_to_close_timeout=timedelta(seconds=10))
        return await super().run(sub)


async def test_the_guard_fails_on_a_changed_workflow():
    """The replay above can fail: a changed workflow under the same name is nondeterministic on every history."""
    replayer = Replayer(workflows=[ChangedPublishingWorkflow], data_converter=pydantic_data_converter)
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(history(FILES[0]))

    async def histories():
        for path in FILES:
            yield history(path)

    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    failures = results.replay_failures
    assert len(failures) == len(FILES)
    assert all(isinstance(e, workflow.NondeterminismError) for e in failures.values()), failures
