"""Traces, metrics and structured logs for every gongkai process.

- **Traces** (OpenTelemetry) are off unless `GONGKAI_TRACES_FILE` (one JSON line per finished span, appended
  to a file every process may share) or `OTEL_EXPORTER_OTLP_ENDPOINT` (OTLP over HTTP) is set; off, nothing is
  recorded and the SDK is not even imported. One trace follows an item: the HTTP request (`install_http`), the
  Temporal update and the workflow's activities (temporalio's `OpenTelemetryPlugin`, `temporal_plugins`), the
  NATS command to the items service (`command_headers` on the sender, FastStream's `NatsTelemetryMiddleware`
  on the receiver), the event appended to the log (`traceparent` in the message headers, `inject`) and the
  projection that folds it (`projection_span`).
- **Metrics** (Prometheus, `prometheus_client`): each HTTP service serves `GET /metrics`; the worker serves
  them on `GONGKAI_WORKER_METRICS_PORT` when set. Labels are route templates, event types, projection names,
  command subjects and outcomes only: bounded, and never personal data.
- **Logs**: `GONGKAI_LOG_FORMAT=json` makes each process write one JSON object per line (time, level, logger,
  message, service, correlation_id, trace_id). The correlation id is the request's `X-Correlation-Id` (or a new
  one), kept in a context variable, answered in the response header and written into the events' envelopes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gongkai.eventlog import Stored

TRACES_FILE_ENV = "GONGKAI_TRACES_FILE"
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
LOG_FORMAT_ENV = "GONGKAI_LOG_FORMAT"
WORKER_METRICS_PORT_ENV = "GONGKAI_WORKER_METRICS_PORT"

CORRELATION_HEADER = "X-Correlation-Id"
_BAGGAGE_KEY = "gongkai.correlation_id"
_CORRELATION_OK = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

#: the correlation id of the request being handled (HTTP), None elsewhere
CORRELATION: ContextVar[str | None] = ContextVar("gongkai_correlation_id", default=None)

#: the process's service name, whether it records spans and the provider it records them with
_state: dict[str, Any] = {"service": "gongkai", "tracing": False, "provider": None}
_lock = threading.Lock()

# ---------------------------------------------------------------------------------------------- metrics

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

HTTP_REQUESTS = Counter("gongkai_http_requests_total", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("gongkai_http_request_duration_seconds", "Time to answer an HTTP request",
                         ["method", "route"], buckets=_LATENCY_BUCKETS)
EVENTS_APPENDED = Counter("gongkai_events_appended_total", "Events stored in the log by this process", ["type"])
EVENTS_APPLIED = Counter("gongkai_projection_events_applied_total", "Events folded into a projection",
                         ["projection"])
PROJECTION_POSITION = Gauge("gongkai_projection_position", "Last stream sequence a projection applied",
                            ["projection"])
PROJECTION_BEHIND = Gauge("gongkai_projection_behind_events",
                          "Stream sequences between the log's head and a projection's position", ["projection"])
PROJECTION_LAG = Gauge("gongkai_projection_lag_seconds",
                       "Age of the oldest event of the last batch when it was applied", ["projection"])
PROJECTION_LAG_HIST = Histogram("gongkai_projection_apply_lag_seconds",
                                "Seconds from an event's occurred_at to its being applied (oldest of each batch)",
                                ["projection"], buckets=_LAG_BUCKETS)
COMMANDS_HANDLED = Counter("gongkai_commands_handled_total", "NATS commands answered by the items service",
                           ["subject", "outcome"])
COMMAND_LATENCY = Histogram("gongkai_command_duration_seconds", "Time to answer a NATS command", ["subject"],
                            buckets=_LATENCY_BUCKETS)
COMMANDS_SENT = Counter("gongkai_worker_commands_total", "NATS commands the workflow activities sent",
                        ["subject", "outcome"])
REVIEW_DECISIONS = Counter("gongkai_workflow_decisions_total", "Review decisions the workflows recorded",
                           ["aggregate", "stage", "outcome"])
REVIEWS_PUBLISHED = Counter("gongkai_workflow_published_total",
                            "Reviews the workflows completed by publishing (an item, an answer, a record)",
                            ["aggregate"])


def metrics_text() -> tuple[bytes, str]:
    """The process's metrics in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def start_worker_metrics(host: str) -> int | None:
    """Serve the metrics on `GONGKAI_WORKER_METRICS_PORT` (unset or 0: not at all); returns the port."""
    port = int(os.environ.get(WORKER_METRICS_PORT_ENV) or 0)
    if not port:
        return None
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)
    return port


def _label(value: Any) -> str:
    return str(getattr(value, "value", value))


def event_appended(event_type: str) -> None:
    EVENTS_APPENDED.labels(event_type).inc()


def command_sent(subject: str, reply: Any = None, error: BaseException | None = None) -> None:
    """Count one command a workflow activity sent, by its reply; and the review outcomes it recorded."""
    COMMANDS_SENT.labels(subject, _outcome(reply, error)).inc()


def decision_recorded(aggregate: str, stage: Any, outcome: Any) -> None:
    REVIEW_DECISIONS.labels(_label(aggregate), _label(stage), _label(outcome)).inc()


def published(aggregate: str) -> None:
    REVIEWS_PUBLISHED.labels(_label(aggregate)).inc()


def _outcome(reply: Any, error: BaseException | None) -> str:
    if error is not None:
        return "error"
    ok = getattr(reply, "ok", None)
    return "refused" if ok is False else "ok"


def batch_head(batch: Sequence[Stored]) -> int | None:
    """The log's head as the batch's last event saw it (its sequence plus the consumer's pending count), or
    None when the events did not come from a consumer."""
    if not batch or batch[-1].pending is None:
        return None
    return batch[-1].seq + batch[-1].pending


def projection_applied(name: str, count: int, position: int, head_seq: int | None,
                       oldest_occurred_at: datetime | None) -> None:
    """Record a committed projection batch: `count` events applied, now at `position`; `head_seq` the log's
    head if known (see `batch_head`); `oldest_occurred_at` the first applied event's `occurred_at`."""
    if count <= 0:
        return
    EVENTS_APPLIED.labels(name).inc(count)
    PROJECTION_POSITION.labels(name).set(position)
    if head_seq is not None:
        PROJECTION_BEHIND.labels(name).set(max(0, head_seq - position))
    if oldest_occurred_at is not None:
        if oldest_occurred_at.tzinfo is None:
            oldest_occurred_at = oldest_occurred_at.replace(tzinfo=UTC)
        lag = max(0.0, (datetime.now(UTC) - oldest_occurred_at).total_seconds())
        PROJECTION_LAG.labels(name).set(lag)
        PROJECTION_LAG_HIST.labels(name).observe(lag)


# ---------------------------------------------------------------------------------------------- tracing


def tracing() -> bool:
    """Whether this process records spans (set up by `setup` from the environment)."""
    return _state["tracing"]


def tracer() -> trace.Tracer:
    return trace.get_tracer("gongkai", tracer_provider=_state["provider"])


class JsonLinesSpanExporter:
    """Appends each finished span as one JSON line to a file that several processes may share: the file is
    opened with O_APPEND and each line is written with one `write`."""

    def __init__(self, path: str | os.PathLike, service: str):
        self.path, self.service = str(path), service
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def export(self, spans):
        from opentelemetry.sdk.trace.export import SpanExportResult

        if self._fd is None:
            return SpanExportResult.FAILURE
        for span in spans:
            os.write(self._fd, (json.dumps(span_record(span, self.service), ensure_ascii=False, default=str)
                                + "\n").encode())
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_record(span, service: str) -> dict:
    """A finished SDK span as a plain dict (the traces file's line)."""
    ctx = span.get_span_context()
    parent = span.parent
    resource_service = span.resource.attributes.get("service.name") if span.resource else None
    return {
        "service": resource_service or service,
        "name": span.name,
        "kind": span.kind.name if span.kind else None,
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_span_id": f"{parent.span_id:016x}" if parent else None,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name if span.status else None,
        "attributes": {k: (list(v) if isinstance(v, tuple) else v) for k, v in (span.attributes or {}).items()},
        "links": [{"trace_id": f"{lk.context.trace_id:032x}", "span_id": f"{lk.context.span_id:016x}"}
                  for lk in (span.links or ())],
    }


def setup_tracing(service: str) -> bool:
    """Record spans if the environment asks for an exporter; returns whether it does. Once per process."""
    path = os.environ.get(TRACES_FILE_ENV)
    endpoint = os.environ.get(OTLP_ENDPOINT_ENV) or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    with _lock:
        if _state["tracing"] or not (path or endpoint):
            return _state["tracing"]
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from temporalio.contrib.opentelemetry import create_tracer_provider

        # replay-safe (required by temporalio's plugin in the worker), and an ordinary provider elsewhere
        provider = create_tracer_provider(resource=Resource.create({"service.name": service}))
        if path:
            provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path, service)))
        if endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        _state["tracing"], _state["provider"] = True, provider
        return True


def temporal_plugins() -> list:
    """Plugins for `Client.connect`: temporalio's OpenTelemetry plugin when tracing, so that the trace context
    travels in the headers of workflow starts, signals and updates, into the workflow and its activities
    (a worker built on the client gets the plugin too)."""
    if not tracing():
        return []
    from temporalio.contrib.opentelemetry import OpenTelemetryPlugin

    return [OpenTelemetryPlugin(add_temporal_spans=True)]


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (W3C `traceparent`, `tracestate`, `baggage`) to message headers."""
    if tracing():
        propagate.inject(headers)
    return headers


def extract(headers: Mapping[str, str] | None) -> context.Context:
    """The trace context carried by message or request headers (an empty context if none)."""
    if not headers:
        return context.Context()
    return propagate.extract({k.lower(): v for k, v in headers.items()})


@contextlib.contextmanager
def client_span(name: str, headers: dict[str, str], **attributes: Any) -> Iterator[Any]:
    """A CLIENT span around a request sent over NATS; its context goes into `headers`."""
    if not tracing():
        yield None
        return
    with tracer().start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
        propagate.inject(headers)
        yield span


@contextlib.contextmanager
def producer_span(name: str, **attributes: Any) -> Iterator[Any]:
    """A PRODUCER span around storing an event; inject inside it so the event carries this span."""
    if not tracing():
        yield None
        return
    with tracer().start_as_current_span(name, kind=SpanKind.PRODUCER, attributes=attributes) as span:
        yield span


#: at most this many traces of one batch get a projection span of their own
MAX_TRACES_PER_BATCH = 32


@contextlib.contextmanager
def projection_span(name: str, batch: Sequence[Stored]) -> Iterator[None]:
    """Spans for one projection batch, to wrap around applying and committing it.

    Each trace the batch's events belong to gets a span `project <name>` as a child of the (last) event of
    that trace, so the trace of a request shows where its events were counted; the span links the other
    events of its trace. A batch without trace context (or the part beyond `MAX_TRACES_PER_BATCH` traces) gets
    one span of its own, linked to those events. Nothing happens when tracing is off.
    """
    if not tracing() or not batch:
        yield
        return
    by_trace: dict[int, list[trace.SpanContext]] = {}
    untraced = 0
    for st in batch:
        sc = trace.get_current_span(extract(st.headers)).get_span_context() if st.headers else None
        if sc is None or not sc.is_valid:
            untraced += 1
            continue
        by_trace.setdefault(sc.trace_id, []).append(sc)
    common = {"gongkai.projection": name, "gongkai.batch.events": len(batch),
              "gongkai.batch.first_seq": batch[0].seq, "gongkai.batch.last_seq": batch[-1].seq}
    t = tracer()
    spans = []
    groups = list(by_trace.values())
    for contexts in groups[:MAX_TRACES_PER_BATCH]:
        parent = trace.set_span_in_context(trace.NonRecordingSpan(contexts[-1]))
        spans.append(t.start_span(f"project {name}", context=parent, kind=SpanKind.CONSUMER,
                                  links=[Link(c) for c in contexts[:-1]],
                                  attributes={**common, "gongkai.trace.events": len(contexts)}))
    rest = [c for contexts in groups[MAX_TRACES_PER_BATCH:] for c in contexts]
    if untraced or rest:
        spans.append(t.start_span(f"project {name}", context=context.Context(), kind=SpanKind.CONSUMER,
                                  links=[Link(c) for c in rest[:128]],
                                  attributes={**common, "gongkai.trace.events": untraced + len(rest)}))
    token = context.attach(trace.set_span_in_context(spans[0]))
    try:
        yield
    except BaseException as e:
        for span in spans:
            span.record_exception(e)
            span.set_status(Status(StatusCode.ERROR, f"{type(e).__name__}: {e}"))
        raise
    finally:
        context.detach(token)
        for span in spans:
            span.end()


# ------------------------------------------------------------------------------------------------- HTTP


def correlation_id() -> str | None:
    """The correlation id of the HTTP request being handled here, if any (for the events' envelopes)."""
    return CORRELATION.get()


def _log_correlation_id() -> str | None:
    """For logs, also the id that came along in the trace's baggage (a workflow's activity, a NATS command)."""
    cid = CORRELATION.get()
    if cid is None:
        value = baggage.get_baggage(_BAGGAGE_KEY)
        cid = str(value) if value is not None else None
    return cid


def _incoming_correlation_id(value: str | None) -> str:
    return value if value and _CORRELATION_OK.match(value) else str(uuid.uuid4())


class HttpObservability:
    """ASGI middleware: correlation id in and out, a SERVER span per request (when tracing) and the request
    metrics, labelled with the route template (`/items/{item_id}`), never the raw path."""

    UNTRACED = frozenset({"/metrics", "/health"})

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        cid = _incoming_correlation_id(raw.get("x-correlation-id"))
        cid_token = CORRELATION.set(cid)
        method = scope.get("method", "GET")
        method = method if method in _METHODS else "OTHER"
        span = ctx_token = None
        if tracing() and scope.get("path") not in self.UNTRACED:
            parent = propagate.extract(raw)
            span = tracer().start_span(method, context=parent, kind=SpanKind.SERVER,
                                       attributes={"http.request.method": method, "gongkai.correlation_id": cid})
            ctx = baggage.set_baggage(_BAGGAGE_KEY, cid, trace.set_span_in_context(span, parent))
            ctx_token = context.attach(ctx)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-correlation-id", cid.encode("latin-1"))]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as e:
            if span is not None:
                span.record_exception(e)
            raise
        finally:
            route = getattr(scope.get("route"), "path", None) or "<unmatched>"
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
            if span is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                span.end()
                context.detach(ctx_token)
            CORRELATION.reset(cid_token)


def install_http(app: FastAPI) -> None:
    """Add the middleware and `GET /metrics` (no token: Prometheus scrapes it; not in the OpenAPI)."""
    from fastapi import Response

    app.add_middleware(HttpObservability)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = metrics_text()
        return Response(body, media_type=content_type)


# ------------------------------------------------------------------------------------- NATS commands


@functools.cache
def command_metrics_middleware() -> type:
    """FastStream middleware for the items service's command subscribers: counts each command by subject and
    outcome (ok; refused: the reply says `ok: false`; error: the handler raised) and times it. It also brings
    the correlation id in the message's baggage into this process's logs. (A class made on first use, so that
    processes without FastStream need not import it.)"""
    from faststream import BaseMiddleware
    from faststream.message import StreamMessage

    class CommandMetrics(BaseMiddleware):
        async def consume_scope(self, call_next, msg):
            raw = getattr(msg, "raw_message", None)
            subject = getattr(raw, "subject", None) or "unknown"
            token = None
            if tracing() and msg.headers:
                token = context.attach(W3CBaggagePropagator().extract(dict(msg.headers), context.get_current()))
            started = time.perf_counter()
            outcome: str | None = "error"
            try:
                result = await call_next(msg)
                # a reply this broker got to its own request passes here too: not a command it handled
                outcome = None if isinstance(result, StreamMessage) else _outcome(result, None)
                return result
            finally:
                if outcome is not None:
                    COMMAND_LATENCY.labels(subject).observe(time.perf_counter() - started)
                    COMMANDS_HANDLED.labels(subject, outcome).inc()
                if token is not None:
                    context.detach(token)

    return CommandMetrics


def command_middlewares() -> list:
    """Middlewares for the items service's NATS broker: FastStream's OpenTelemetry middleware when tracing
    (a consumer span per command, child of the sender's span), and the command metrics."""
    out: list = []
    if tracing():
        from faststream.nats.opentelemetry import NatsTelemetryMiddleware

        out.append(NatsTelemetryMiddleware())
    out.append(command_metrics_middleware())
    return out


# ---------------------------------------------------------------------------------------------- logging


def current_trace_id() -> str | None:
    sc = trace.get_current_span().get_span_context()
    return f"{sc.trace_id:032x}" if sc.is_valid else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, service, correlation_id, trace_id."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "correlation_id": _log_correlation_id(),
            "trace_id": current_trace_id(),
        }
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def json_logs() -> bool:
    return os.environ.get(LOG_FORMAT_ENV, "").strip().lower() == "json"


def setup_logging(service: str, level: int = logging.INFO) -> bool:
    """With `GONGKAI_LOG_FORMAT=json`, send every logger's records to stderr as JSON lines; returns whether it
    did (else the process keeps its own logging setup)."""
    if not json_logs():
        return False
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn's own handlers would print text
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    return True


def setup(service: str) -> None:
    """Everything a process does at start, from the environment: `service` is `gongkai-items` …"""
    _state["service"] = service
    setup_logging(service)
    setup_tracing(service)
