"""Observability without servers: JSON logs with the correlation id, the trace context through event headers,
projection spans and metrics, the command metrics middleware, and `/metrics` of an HTTP service."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.msg import Msg
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from contracts.envelope import Actor, Envelope
from contracts.items import ItemWithdrawn
from contracts.reviews import CommandReply
from gongkai import observability
from gongkai.config import Settings
from gongkai.eventlog import Stored, stored
from gongkai.http import install


@pytest.fixture
def spans(monkeypatch) -> InMemorySpanExporter:
    """Tracing on for this test only, with a provider of its own (the process's global one is untouched)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setitem(observability._state, "tracing", True)
    monkeypatch.setitem(observability._state, "provider", provider)
    return exporter


def envelope() -> Envelope:
    return Envelope.wrap(ItemWithdrawn(reason="x"), aggregate_id="i1", org="o", actor=Actor(user="u"))


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_json_log_line_carries_service_correlation_id_and_trace_id(spans):
    formatter = observability.JsonFormatter("gongkai-items")
    record = logging.LogRecord("services.items", logging.WARNING, __file__, 1, "item %s 已保存", ("i1",), None)
    token = observability.CORRELATION.set("req-42")
    try:
        with observability.tracer().start_as_current_span("work") as span:
            line = formatter.format(record)
            trace_id = f"{span.get_span_context().trace_id:032x}"
    finally:
        observability.CORRELATION.reset(token)
    out = json.loads(line)
    assert out["message"] == "item i1 已保存" and out["level"] == "WARNING" and out["logger"] == "services.items"
    assert out["service"] == "gongkai-items" and out["correlation_id"] == "req-42" and out["trace_id"] == trace_id
    assert datetime.fromisoformat(out["time"]).tzinfo is not None
    assert "\n" not in line


def test_without_a_request_or_span_the_log_line_has_no_ids():
    out = json.loads(observability.JsonFormatter("gongkai-worker").format(
        logging.LogRecord("w", logging.INFO, __file__, 1, "ready", (), None)))
    assert out["correlation_id"] is None and out["trace_id"] is None and out["service"] == "gongkai-worker"


def test_setup_logging_is_off_unless_asked(monkeypatch):
    monkeypatch.delenv("GONGKAI_LOG_FORMAT", raising=False)
    assert not observability.setup_logging("gongkai-items")


def test_the_trace_context_goes_into_event_headers_and_comes_back_from_the_log(spans):
    with observability.tracer().start_as_current_span("request") as span:
        headers = observability.inject({"Nats-Msg-Id": "e1"})
    assert headers["Nats-Msg-Id"] == "e1" and headers["traceparent"].startswith("00-")
    sent = span.get_span_context()

    # as a consumer delivers it: the stored event keeps the headers, and its trace context is the sender's
    msg = Msg(None, subject="gongkai.events.item.i1", reply="$JS.ACK.GONGKAI.c.1.7.1.1700000000000000000.3",
              data=envelope().model_dump_json().encode(), headers=headers)
    st = stored(msg)
    assert st.seq == 7 and st.pending == 3 and st.headers["traceparent"] == headers["traceparent"]
    assert observability.batch_head([st]) == 10
    got = observability.trace.get_current_span(observability.extract(st.headers)).get_span_context()
    assert (got.trace_id, got.span_id) == (sent.trace_id, sent.span_id)
    assert Stored(7, st.envelope) == st  # headers do not change what an event is


def test_without_tracing_nothing_is_injected():
    assert observability.inject({"a": "b"}) == {"a": "b"}


def test_the_projection_span_joins_the_trace_of_each_event_of_the_batch(spans):
    traced = []
    for name in ("first", "second"):
        with observability.tracer().start_as_current_span(name) as span:
            traced.append((span.get_span_context(), observability.inject({})))
    batch = [Stored(1, envelope(), headers=traced[0][1]), Stored(2, envelope(), headers=traced[1][1]),
             Stored(3, envelope())]
    spans.clear()
    with observability.projection_span("reports.totals", batch):
        pass
    got = spans.get_finished_spans()
    assert len(got) == 3 and {s.name for s in got} == {"project reports.totals"}
    children = {s.parent.span_id: s for s in got if s.parent}
    for ctx, _ in traced:
        child = children[ctx.span_id]
        assert child.context.trace_id == ctx.trace_id and child.attributes["gongkai.batch.events"] == 3
    assert len([s for s in got if s.parent is None]) == 1  # the untraced event's span


def test_a_failing_batch_marks_its_spans(spans):
    with observability.tracer().start_as_current_span("r"):
        headers = observability.inject({})
    with pytest.raises(RuntimeError), observability.projection_span("p", [Stored(1, envelope(), headers=headers)]):
        raise RuntimeError("boom")
    (span,) = [s for s in spans.get_finished_spans() if s.name == "project p"]
    assert span.status.status_code.name == "ERROR"


def test_the_traces_file_gets_one_json_line_per_span(tmp_path):
    path = tmp_path / "traces.jsonl"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(observability.JsonLinesSpanExporter(path, "gongkai-items")))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("outer") as outer, tracer.start_as_current_span("inner", attributes={"k": (1, 2)}):
        pass
    provider.shutdown()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["name"] for x in lines] == ["inner", "outer"]
    assert {x["trace_id"] for x in lines} == {f"{outer.get_span_context().trace_id:032x}"}
    assert lines[0]["parent_span_id"] == lines[1]["span_id"] and lines[0]["attributes"] == {"k": [1, 2]}


def test_projection_metrics_count_events_and_lag():
    before = sample("gongkai_projection_events_applied_total", projection="unit.p")
    observability.projection_applied("unit.p", 4, 120, 125, datetime.now(UTC) - timedelta(seconds=3))
    assert sample("gongkai_projection_events_applied_total", projection="unit.p") == before + 4
    assert sample("gongkai_projection_position", projection="unit.p") == 120
    assert sample("gongkai_projection_behind_events", projection="unit.p") == 5
    assert 3 <= sample("gongkai_projection_lag_seconds", projection="unit.p") < 60


async def test_commands_are_counted_by_subject_and_outcome():
    from faststream.nats import NatsBroker, TestNatsBroker

    broker = NatsBroker(middlewares=observability.command_middlewares())

    @broker.subscriber("unit.commands.refuse")
    async def refuse(body: dict) -> CommandReply:
        return CommandReply(ok=False, error="no")

    @broker.subscriber("unit.commands.accept")
    async def accept(body: dict) -> CommandReply:
        return CommandReply(ok=True)

    async with TestNatsBroker(broker) as br:
        await br.request({"a": 1}, "unit.commands.refuse")
        await br.request({"a": 1}, "unit.commands.accept")
    assert sample("gongkai_commands_handled_total", subject="unit.commands.refuse", outcome="refused") == 1
    assert sample("gongkai_commands_handled_total", subject="unit.commands.accept", outcome="ok") == 1


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app_with_routes()), base_url="http://test")


def app_with_routes() -> FastAPI:
    app = FastAPI()
    install(app, Settings())

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict:
        return {"id": thing_id, "correlation_id": observability.correlation_id()}

    return app


async def test_metrics_count_requests_by_route_template_never_by_raw_path():
    http = client()
    for i in range(3):
        assert (await http.get(f"/things/secret-{i}")).status_code == 200
    assert (await http.get("/nowhere/else")).status_code == 404
    r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'gongkai_http_requests_total{method="GET",route="/things/{thing_id}",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "secret-" not in text and "/nowhere" not in text
    assert sample("gongkai_http_request_duration_seconds_count", method="GET", route="/things/{thing_id}") >= 3
    assert "/metrics" not in (await http.get("/openapi.json")).json()["paths"]


async def test_the_correlation_id_comes_in_goes_out_and_is_made_when_missing():
    http = client()
    r = await http.get("/things/a", headers={"X-Correlation-Id": "abc-123"})
    assert r.headers["x-correlation-id"] == "abc-123" and r.json()["correlation_id"] == "abc-123"
    made = await http.get("/things/a")
    assert len(made.headers["x-correlation-id"]) == 36
    assert made.json()["correlation_id"] == made.headers["x-correlation-id"]
    # anything but a short token is replaced (it ends up in logs and events)
    odd = (await http.get("/things/a", headers={"X-Correlation-Id": "x" * 500})).headers["x-correlation-id"]
    assert odd != "x" * 500 and len(odd) == 36


async def test_an_http_request_makes_a_server_span_named_by_its_route(spans):
    http = client()
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await http.get("/things/x1", headers={"traceparent": parent})
    await http.get("/metrics")
    (span,) = spans.get_finished_spans()
    assert span.name == "GET /things/{thing_id}" and span.attributes["http.response.status_code"] == 200
    assert f"{span.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"


def test_json_logging_takes_over_every_logger_even_uvicorns(monkeypatch, capsys):
    monkeypatch.setenv("GONGKAI_LOG_FORMAT", "json")
    root, uv = logging.getLogger(), logging.getLogger("uvicorn.error")
    saved = (root.handlers[:], root.level, uv.handlers[:], uv.propagate)
    try:
        assert observability.setup_logging("gongkai-reports")
        uv.warning("port %d busy", 8003)
        logging.getLogger("services.reports").info("totals read")
    finally:
        root.handlers[:], uv.handlers[:] = saved[0], saved[2]
        root.setLevel(saved[1])
        uv.propagate = saved[3]
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert [(x["logger"], x["message"], x["service"]) for x in lines] == [
        ("uvicorn.error", "port 8003 busy", "gongkai-reports"), ("services.reports", "totals read", "gongkai-reports")]
