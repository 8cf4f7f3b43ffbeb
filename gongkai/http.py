"""What every HTTP service shares: JSON errors in Chinese and English, the bearer-token dependency, /health,
observability (correlation id, request span and metrics, `GET /metrics`: `gongkai/observability.py`), and the
limits that keep one caller from exhausting a service: request body size (413), page size (422) and the rate
of requests per token (429, with `Retry-After`). Every refusal is a JSON error and changes nothing."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.errors import DomainError, Unavailable
from contracts.roles import Principal
from gongkai import observability
from gongkai.auth import Verifier
from gongkai.config import Settings
from gongkai.deployment import ORG_CODE

# --------------------------------------------------------------------------------------------------- limits

KIB = 1024
MIB = 1024 * KIB
#: largest JSON request body: an item's longest body (200,000 characters) fits even when the client escapes
#: every Chinese character as \uXXXX (6 bytes; 3 in plain UTF-8)
BODY_LIMIT = 2 * MIB
#: largest body of `POST /import` (up to 5,000 earlier records in one batch)
IMPORT_BODY_LIMIT = 64 * MIB
#: largest page of a list route (`limit`) and the furthest one may page (`offset`)
MAX_PAGE = 500
MAX_OFFSET = 1_000_000
#: requests per second per token (user and org), and the burst a token may spend at once
RATE_LIMIT_ENV = "GONGKAI_RATE_LIMIT"
DEFAULT_RATE, DEFAULT_BURST = 50.0, 200

PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")]
PageOffset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
#: an org named in a query: its code, as `gongkai token --org` takes it
OrgQuery = Annotated[str | None, Query(max_length=64, pattern=ORG_CODE.pattern, description="an org's code")]


class PayloadTooLarge(DomainError):
    status = 413
    code = "body_too_large"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: float):
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"请求过于频繁，请 {self.retry_after} 秒后重试",
                         f"too many requests for this token; retry after {self.retry_after} s")

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def too_large(limit: int) -> PayloadTooLarge:
    size = f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit} bytes"
    return PayloadTooLarge(f"请求内容过大，上限为 {size}", f"the request body is larger than {size}")


class _BodyTooLarge(StarletteHTTPException):
    """Raised while a route reads a body past its limit; rendered as `PayloadTooLarge`."""

    def __init__(self, limit: int):
        super().__init__(413, "request body too large")
        self.error = too_large(limit)


class BodyLimit:
    """ASGI middleware: refuse a request body over its route's limit with 413, before the route runs when
    Content-Length says so, and as soon as the bytes read pass it otherwise (chunked uploads)."""

    def __init__(self, app: ASGIApp, default: int = BODY_LIMIT, per_path: dict[str, int] | None = None):
        self.app, self.default, self.per_path = app, default, dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _json(too_large(limit))(scope, receive, send)
            return
        read = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except _BodyTooLarge as e:  # read where no exception handler turned it into a response
            if started:
                raise
            await _json(e.error)(scope, receive, send)


class TokenBuckets:
    """A token bucket per key (user and org): `rate` requests per second, `burst` at once. Per process: with
    several replicas each allows the rate, which keeps one client from starving the others on a replica."""

    MAX_KEYS = 10_000

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key → (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: tuple[str, str]) -> float:
        """Spend one token: 0 when allowed, else the seconds until the next token."""
        with self._lock:
            now = self.clock()
            tokens, when = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - when) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                if len(self._buckets) > self.MAX_KEYS:
                    self._prune(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget the buckets that have filled up again: they are what a new bucket would be."""
        full = [k for k, (t, w) in self._buckets.items() if t + (now - w) * self.rate >= self.burst]
        for k in full:
            del self._buckets[k]


def rate_limit_from_env(value: str | None = None) -> TokenBuckets | None:
    """`GONGKAI_RATE_LIMIT`: `RATE` or `RATE/BURST` requests per second per token (default 50/200);
    `0` or `off` turns the limit off."""
    value = (os.environ.get(RATE_LIMIT_ENV) if value is None else value) or ""
    value = value.strip().lower()
    if not value:
        return TokenBuckets(DEFAULT_RATE, DEFAULT_BURST)
    if value in ("0", "off", "none", "false"):
        return None
    try:
        rate_s, _, burst_s = value.partition("/")
        rate = float(rate_s)
        burst = int(burst_s) if burst_s else max(1, math.ceil(rate * 4))
        if rate <= 0:
            return None
        return TokenBuckets(rate, burst)
    except ValueError:
        raise ValueError(f"{RATE_LIMIT_ENV}={value!r}: expected RATE or RATE/BURST, e.g. 50/200, or off") from None


# ---------------------------------------------------------------------------------------------- install


def _json(e: DomainError) -> JSONResponse:
    return JSONResponse(e.to_json(), status_code=e.status, headers=getattr(e, "headers", None))


def install(app: FastAPI, settings: Settings, *, body_limits: dict[str, int] | None = None) -> None:
    """Errors, auth, limits, /health and observability. `body_limits`: paths that take a larger body than
    `BODY_LIMIT` (an import file), with their own limit."""
    app.state.settings = settings
    app.state.verifier = Verifier(settings)
    app.state.rate_limit = rate_limit_from_env()
    app.add_middleware(BodyLimit, default=BODY_LIMIT, per_path=body_limits)
    observability.install_http(app)  # outermost: refusals are measured and carry the correlation id too

    @app.exception_handler(DomainError)
    async def _domain(_: Request, e: DomainError) -> JSONResponse:
        return _json(e)

    @app.exception_handler(NatsError)
    async def _log_unreachable(_: Request, e: NatsError) -> JSONResponse:
        # the event log is restarting or out of reach: nothing was recorded, and the client may try again
        refusal = Unavailable("事件日志暂时不可用，请稍后重试", f"the event log is unavailable ({type(e).__name__}); "
                              "nothing was recorded, retry shortly", code="log_unavailable")
        refusal.headers = {"Retry-After": "2"}
        return _json(refusal)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(err.get("loc", [])), "msg": err.get("msg")} for err in e.errors()]
        return JSONResponse({"error": "invalid", "message": "请求内容不合法 / the request is malformed",
                             "details": details}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        if isinstance(e, _BodyTooLarge):
            return _json(e.error)
        zh = {400: "请求错误", 404: "资源不存在", 405: "不支持该请求方法", 413: "请求内容过大"}.get(e.status_code, "请求错误")
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(e.status_code, "http_error")
        return JSONResponse({"error": code, "message": f"{zh} / {e.detail}"}, status_code=e.status_code,
                            headers=getattr(e, "headers", None))

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, e: ValidationError) -> JSONResponse:
        details = [{"loc": list(err.get("loc", [])), "msg": err.get("msg")} for err in e.errors()]
        return JSONResponse({"error": "invalid", "message": "请求内容不合法 / the request is malformed",
                             "details": details}, status_code=422)

    @app.get("/health", tags=["health"])
    async def health() -> dict:
        return {"status": "ok", "service": app.title}


def caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The verified caller; refused with 401 without a valid token, with 429 past the token's rate."""
    who = request.app.state.verifier.principal(authorization)
    buckets: TokenBuckets | None = getattr(request.app.state, "rate_limit", None)
    if buckets is not None and (wait := buckets.take((who.user, who.org))):
        raise RateLimited(wait)
    return who


Caller = Annotated[Principal, Depends(caller)]
