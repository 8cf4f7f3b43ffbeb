"""Observability end to end, on a stack of its own started with the traces file, the worker's metrics port and
JSON logs: one trace follows an item's last decision from the reviews request through the workflow, its
activity and NATS command, the items service's append, to the reports projection that counts it; every service
shows its counters on `/metrics`; every line of the worker's log is JSON."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts import subjects
from gongkai.eventlog import EventLog
from tests.e2e.conftest import Api, People
from tests.servers import StackProcess, free_port

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year
DECISIONS_ROUTE = "/items/{item_id}/decisions"


@dataclass
class TracedStack(StackProcess):
    """`gongkai up` whose processes all append their spans to one file, log JSON, and whose worker serves
    its metrics."""

    traces: Path | None = None
    worker_metrics_port: int = field(default_factory=free_port)

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        env["GONGKAI_TRACES_FILE"] = str(self.traces)
        env["GONGKAI_WORKER_METRICS_PORT"] = str(self.worker_metrics_port)
        env["GONGKAI_LOG_FORMAT"] = "json"
        return env


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    root = tmp_path_factory.mktemp("observed")
    s = TracedStack(root / "data", traces=root / "traces.jsonl")
    s.start()
    yield s
    s.stop()


def spans(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def test_one_trace_follows_an_item_from_the_decision_to_the_count_and_every_service_has_metrics(traced):
    api, people = Api(traced), People(traced, f"org-{uuid.uuid4().hex[:8]}")
    r = api.http.post(api.items("/items"), headers={**people.author, "X-Correlation-Id": "obs-create-1"},
                      json={"kind": "proactive", "category": "meetings", "title": "观测", "body": "正文"})
    assert r.status_code == 201, r.text
    assert r.headers["x-correlation-id"] == "obs-create-1"
    item_id = r.json()["id"]
    assert api.submit(people.author, item_id).status_code == 202
    assert api.decide(people.officer, item_id, "initial").status_code == 200
    r = api.http.post(api.reviews(f"/items/{item_id}/decisions"), headers={**people.head, "X-Correlation-Id": "obs-decide-1"},
                      json={"stage": "recheck", "outcome": "approve", "comment": "同意"})
    assert r.status_code == 200 and r.json()["status"] == "published", r.text
    assert r.headers["x-correlation-id"] == "obs-decide-1"
    version = api.item(people.viewer, item_id)["version"]
    t = api.totals_after(people.viewer, version, year=YEAR, org=people.org)
    assert t["position"] >= version and t["proactive"]["by_category"]["meetings"] == 1

    # the events carry the request's correlation id and its trace context
    history = asyncio.run(_load(traced, item_id))
    drafted = history[0]
    assert drafted.envelope.correlation_id == "obs-create-1"
    assert drafted.headers and drafted.headers["traceparent"].startswith("00-")

    # the decision request's trace reaches every process: reviews → worker → items → reports
    by_service: dict[str, list[dict]] = {}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        all_spans = spans(traced.traces)
        roots = [s for s in all_spans if s["service"] == "gongkai-reviews" and s["name"] == f"POST {DECISIONS_ROUTE}"
                 and s["attributes"].get("gongkai.correlation_id") == "obs-decide-1"]
        if roots:
            trace_id = roots[0]["trace_id"]
            by_service = {}
            for s in all_spans:
                if s["trace_id"] == trace_id:
                    by_service.setdefault(s["service"], []).append(s)
            if {"gongkai-reviews", "gongkai-worker", "gongkai-items", "gongkai-reports"} <= set(by_service):
                break
        time.sleep(0.2)
    assert set(by_service) >= {"gongkai-reviews", "gongkai-worker", "gongkai-items", "gongkai-reports"}, \
        {k: [s["name"] for s in v] for k, v in by_service.items()}
    names = {k: {s["name"] for s in v} for k, v in by_service.items()}
    assert f"{subjects.CMD_PUBLISH} send" in names["gongkai-worker"]
    assert any(n.startswith("RunActivity:") for n in names["gongkai-worker"])
    assert f"{subjects.CMD_PUBLISH} process" in names["gongkai-items"]
    assert any("item.published" in n and n.startswith("append ") for n in names["gongkai-items"])
    assert any(n.startswith("project ") for n in names["gongkai-reports"])
    assert len({s["span_id"] for v in by_service.values() for s in v}) == sum(len(v) for v in by_service.values())

    # metrics: no token needed, counters moved, no ids in labels
    with httpx.Client(timeout=10) as http:
        items = http.get(api.items("/metrics")).text
        reviews = http.get(api.reviews("/metrics")).text
        reports = http.get(api.reports("/metrics")).text
        worker = http.get(f"http://127.0.0.1:{traced.worker_metrics_port}/metrics").text
    assert metric(items, "gongkai_events_appended_total", type="item.drafted") >= 1
    assert metric(items, "gongkai_events_appended_total", type="item.published") >= 1
    assert metric(items, "gongkai_commands_handled_total", subject=subjects.CMD_PUBLISH, outcome="ok") >= 1
    assert metric(items, "gongkai_http_requests_total", method="POST", route="/items", status="201") >= 1
    assert metric(reviews, "gongkai_http_requests_total", method="POST", route=DECISIONS_ROUTE, status="200") >= 2
    assert metric(reports, "gongkai_projection_events_applied_total") >= 5
    assert metric(reports, "gongkai_projection_lag_seconds_count") == 0  # a gauge, not a histogram
    assert metric(reports, "gongkai_projection_apply_lag_seconds_count") >= 1
    assert metric(worker, "gongkai_workflow_decisions_total", aggregate="item", stage="recheck", outcome="approve") >= 1
    assert metric(worker, "gongkai_workflow_published_total", aggregate="item") >= 1
    assert metric(worker, "gongkai_worker_commands_total", subject=subjects.CMD_RECORD_DECISION, outcome="ok") >= 2
    for text in (items, reviews, reports, worker):
        assert item_id not in text and people.org not in text

    # JSON logs: every line of the worker's log is one object with the service's name
    lines = (traced.data_dir / "logs" / "worker.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    assert records and {r["service"] for r in records} == {"gongkai-worker"}
    assert any("worker ready" in r["message"] for r in records)


async def _load(stack, item_id: str):
    log = await EventLog.connect(stack.nats_url)
    try:
        return await log.load(subjects.event_subject("item", item_id))
    finally:
        await log.close()
