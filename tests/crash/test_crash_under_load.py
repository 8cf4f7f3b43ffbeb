"""Crash tests under load (issue 8): while client threads move items through the review chain, SIGKILL one at
a time each service, the worker, NATS, the Temporal server, and then the whole `gongkai up`; restart; then every
accepted item is there once, every approved one published once with one 索引号, the reports' `/totals` equal the
ground truth the load kept, and the reviews still open when the load stopped can still be approved.

The short version (~150 items) runs with the suite; the full one (1,000 items) is `slow`:
`GONGKAI_SLOW=1 pytest tests/crash` or `pytest -m slow tests/crash`. Add `-s` to see the report."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.crash import check
from tests.crash.load import Load, Restart, all_ready, kill_component, kill_everything, wait_until
from tests.servers import StackProcess

#: one at a time, in this order, each while the load runs; the last one kills everything at once
KILLS = ("items", "reviews", "reports", "worker", "nats", "temporal", "gongkai up")


@pytest.mark.parametrize("n,clients", [
    pytest.param(150, 12, id="ci"),
    pytest.param(1000, 16, id="full", marks=pytest.mark.slow),
])
def test_sigkill_of_each_component_under_load_loses_and_duplicates_nothing(tmp_path, n, clients):
    t_begin = time.monotonic()
    stack = StackProcess(tmp_path / "data")
    stack.start()
    phases = {"stack_start_s": time.monotonic() - t_begin}
    run = uuid.uuid4().hex[:8]
    load = Load(stack, f"load-{run}", n, clients, run)
    restarts: list[Restart] = []
    report: dict = {"items": n, "clients": clients, "phases": phases}
    try:
        # the items are let go in segments, one more per kill, so the load is still running at the last one
        seg = n // (len(KILLS) + 1)
        load.allow(2 * seg)
        load.start()
        for j, target in enumerate(KILLS):
            # kill when the previous segment is nearly done: in flight are items at every step of the chain
            wait_until(lambda j=j: load.done >= (j + 1) * seg - clients // 2, 600,
                       f"the load made no progress before killing {target} ({load.done} done)")
            r = kill_everything(stack) if target == "gongkai up" else kill_component(stack, target)
            load.allow((j + 3) * seg if j < len(KILLS) - 1 else n)
            restarts.append(r)
        phases["load_until_last_kill_s"] = time.monotonic() - load.started_at
        load.join(timeout=900)
        phases["load_s"] = load.finished_at - load.started_at
        # how long the load stood still around each kill: from the kill to 5 s after it served again
        for r, nxt in zip(restarts, [*restarts[1:], None], strict=True):
            r.stall_s = load.stalls(r.at, min(r.at + r.ready_s + 5, nxt.at if nxt else load.finished_at))
        failures = check.group_failures(load)
        assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)

        # every review still open when the load stopped can be finished after all those restarts
        wait_until(lambda: all_ready(stack), 120, "the stack is not up after the load")
        pending = load.by("submitted", "initial")
        report["pending_at_end"] = {"submitted": len(load.by("submitted")), "initial": len(load.by("initial"))}

        local = threading.local()

        def finish(item):
            if not hasattr(local, "http"):
                local.http = httpx.Client(timeout=30)
            try:
                load.run_item(local.http, item, "officer3", "head3", until="approved")
            except Exception as e:
                item.failure = f"approving after the restarts: {e}"

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(finish, pending))
        failures = check.group_failures(load)
        assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)

        phases["finish_open_reviews_s"] = time.monotonic() - load.finished_at
        t_check = time.monotonic()

        # the ground truth against the log, the API and the projections
        year = datetime.now(ZoneInfo("Asia/Shanghai")).year
        head, events, per_item, counter = asyncio.run(check.read_log(stack.nats_url, load, year))
        problems: list[str] = []
        report["log"] = check.check_log(load, events, per_item, counter, problems)
        index_no = report["log"].pop("index_no")
        phases["check_log_s"] = time.monotonic() - t_check
        check.check_api(load, index_no, problems)
        phases["check_api_s"] = time.monotonic() - t_check - phases["check_log_s"]
        report["projections"] = check.check_projections(load, head, year, problems)
        report["workflows"] = asyncio.run(check.check_workflows(stack.temporal_address, load, problems))
        report.update({
            "accepted": len(load.accepted), "approved": len(load.by("approved")),
            "rejected": len(load.by("rejected")), "drafts": len(load.by("accepted")),
            "lost_responses": {i.key: i.lost_responses for i in load.items if i.lost_responses},
            "retries": dict(load.retries.most_common()),
            "restarts": [{"target": r.target, "at_s": round(r.at - load.started_at, 1),
                          "respawned_s": round(r.respawned_s, 1), "ready_s": round(r.ready_s, 1),
                          "load_stalled_s": round(r.stall_s, 1)} for r in restarts],
            "log_head": head,
        })
        phases.update(check_s=time.monotonic() - t_check, total_s=time.monotonic() - t_begin)
        for k, v in phases.items():
            phases[k] = round(v, 1)
        print("\ncrash under load:", json.dumps(report, ensure_ascii=False, indent=1))
        (tmp_path / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
        assert not problems, "\n".join(problems[:100])
        assert report["approved"] == n - len([i for i in load.items if i.plan in ("draft", "reject")])
    finally:
        if "restarts" not in report:
            print("\ncrash under load (unfinished):", json.dumps({
                **report, "done": load.done, "retries": dict(load.retries.most_common(20)),
                "restarts": [r.__dict__ for r in restarts]}, ensure_ascii=False, indent=1))
        load.stopping = True
        stack.stop()
