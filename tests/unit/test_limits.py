"""The limits every HTTP service applies (gongkai/http.py): request body size (413), page size (422), the rate
of requests per token (429 with Retry-After), and the length of texts in the request models. Each refusal is a
JSON error in Chinese and English, and the route behind it never runs."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from contracts.items import ItemContent
from contracts.reviews import DecisionRequest
from gongkai import http
from gongkai.auth import mint
from gongkai.config import Settings
from gongkai.http import BODY_LIMIT, IMPORT_BODY_LIMIT, MAX_PAGE, Caller, PageLimit, PageOffset, TokenBuckets


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path)


def make_app(settings: Settings, monkeypatch, rate: str | None = None) -> tuple[FastAPI, list]:
    if rate is None:
        monkeypatch.delenv(http.RATE_LIMIT_ENV, raising=False)
    else:
        monkeypatch.setenv(http.RATE_LIMIT_ENV, rate)
    app = FastAPI()
    http.install(app, settings, body_limits={"/big": 8 * 1024})
    ran: list = []

    @app.post("/small")
    async def small(body: dict, who: Caller) -> dict:
        ran.append(("small", len(json.dumps(body))))
        return {"ok": True}

    @app.post("/big")
    async def big(body: dict, who: Caller) -> dict:
        ran.append(("big", len(json.dumps(body))))
        return {"ok": True}

    @app.get("/list")
    async def listing(who: Caller, limit: PageLimit = 100, offset: PageOffset = 0) -> dict:
        ran.append(("list", limit, offset))
        return {"limit": limit, "offset": offset}

    return app, ran


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def auth(settings: Settings, user: str = "u1", org: str = "o1") -> dict:
    return {"Authorization": f"Bearer {mint(settings, user=user, org=org, roles=['author'])}"}


def assert_json_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == code and " / " in body["message"]
    zh, en = body["message"].split(" / ", 1)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and en.isascii()
    return body


# --------------------------------------------------------------------------------------------- body size


async def test_a_body_over_the_limit_is_refused_with_413_before_the_route_runs(settings, monkeypatch):
    app, ran = make_app(settings, monkeypatch)
    async with client(app) as c:
        r = await c.post("/small", headers=auth(settings), json={"text": "正" * (BODY_LIMIT // 3 + 10)})
        body = assert_json_error(r, 413, "body_too_large")
        assert "2 MiB" in body["message"]
        r = await c.post("/small", headers=auth(settings), json={"text": "正" * 1000})
        assert r.status_code == 200
    assert ran == [("small", len(json.dumps({"text": "正" * 1000})))]


async def test_a_chunked_body_without_content_length_is_cut_off_at_the_limit(settings, monkeypatch):
    app, ran = make_app(settings, monkeypatch)

    async def chunks():
        yield b'{"text": "'
        for _ in range(BODY_LIMIT // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    async with client(app) as c:
        r = await c.post("/small", headers={**auth(settings), "Content-Type": "application/json"}, content=chunks())
        assert "content-length" not in r.request.headers
        assert_json_error(r, 413, "body_too_large")
    assert ran == []


async def test_a_route_with_its_own_limit_takes_more_and_refuses_past_it(settings, monkeypatch):
    app, ran = make_app(settings, monkeypatch)
    async with client(app) as c:
        # /big's own limit (8 KiB) applies, not the default
        assert (await c.post("/big", headers=auth(settings), json={"t": "x" * 4000})).status_code == 200
        assert_json_error(await c.post("/big", headers=auth(settings), json={"t": "x" * 9000}), 413, "body_too_large")
    assert ran == [("big", len(json.dumps({"t": "x" * 4000})))]


async def test_the_items_service_takes_a_large_import_file_but_no_large_item(settings):
    """The real app: the default limit on `POST /items`, the import route's own (larger) limit on `/import`."""
    from services.items.app import create_app

    assert IMPORT_BODY_LIMIT > BODY_LIMIT
    app = create_app(settings)  # no lifespan: the limit and the token are checked before any route needs it
    payload = json.dumps({"items": [{"title": "x" * 1000}] * (BODY_LIMIT // 1000 + 10)}).encode()
    assert BODY_LIMIT < len(payload) < IMPORT_BODY_LIMIT
    async with client(app) as c:
        headers = {"Content-Type": "application/json"}
        assert_json_error(await c.post("/items", content=payload, headers=headers), 413, "body_too_large")
        # past the body limit check: refused only for want of a token
        assert_json_error(await c.post("/import", content=payload, headers=headers), 401, "missing_token")


# --------------------------------------------------------------------------------------------- page size


async def test_a_page_larger_than_the_maximum_is_a_clear_422(settings, monkeypatch):
    app, ran = make_app(settings, monkeypatch)
    async with client(app) as c:
        ok = await c.get("/list", headers=auth(settings), params={"limit": MAX_PAGE})
        assert ok.json() == {"limit": MAX_PAGE, "offset": 0}
        body = assert_json_error(await c.get("/list", headers=auth(settings), params={"limit": MAX_PAGE + 1}),
                                 422, "invalid")
        assert body["details"][0]["loc"] == ["query", "limit"] and str(MAX_PAGE) in body["details"][0]["msg"]
        assert_json_error(await c.get("/list", headers=auth(settings), params={"limit": 0}), 422, "invalid")
        assert_json_error(await c.get("/list", headers=auth(settings), params={"offset": -1}), 422, "invalid")
        assert_json_error(await c.get("/list", headers=auth(settings), params={"offset": 10**30}), 422, "invalid")
    assert ran == [("list", MAX_PAGE, 0)]


def test_every_list_route_of_every_service_bounds_its_page():
    """Read from the committed OpenAPI documents (test_contracts keeps them equal to the apps')."""
    from contracts.generate import SCHEMAS_DIR, SERVICES

    seen = 0
    for service in SERVICES:
        doc = json.loads((SCHEMAS_DIR / f"openapi-{service}.json").read_text(encoding="utf-8"))
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                for p in op.get("parameters", []):
                    if p["in"] == "query" and p["name"] == "limit":
                        seen += 1
                        schema = p["schema"]
                        assert schema.get("maximum", 10**9) <= MAX_PAGE, f"{service} {method} {path}"
                        assert schema.get("minimum") == 1, f"{service} {method} {path}"
                    if p["in"] == "query" and p["name"] == "offset":
                        assert "maximum" in p["schema"], f"{service} {method} {path}"
    assert seen >= 2  # GET /items and GET /applications


# ---------------------------------------------------------------------------------------------- rate


def test_a_token_bucket_allows_its_burst_then_its_rate():
    now = [0.0]
    b = TokenBuckets(rate=2, burst=3, clock=lambda: now[0])
    assert [b.take(("u", "o")) for _ in range(3)] == [0, 0, 0]
    assert b.take(("u", "o")) == pytest.approx(0.5)
    assert b.take(("v", "o")) == 0  # another user's bucket is full
    now[0] += 0.5
    assert b.take(("u", "o")) == 0
    assert b.take(("u", "o")) > 0
    now[0] += 100  # refills to the burst, never beyond
    assert [b.take(("u", "o")) for _ in range(4)][:3] == [0, 0, 0] and b.take(("u", "o")) > 0


def test_idle_buckets_are_forgotten_so_many_tokens_do_not_grow_memory(monkeypatch):
    monkeypatch.setattr(TokenBuckets, "MAX_KEYS", 100)
    now = [0.0]
    b = TokenBuckets(rate=10, burst=5, clock=lambda: now[0])
    for i in range(100):
        b.take((f"u{i}", "o"))
    now[0] += 10
    b.take(("late", "o"))
    assert len(b._buckets) <= 2


def test_the_rate_limit_is_configured_by_the_environment():
    default = http.rate_limit_from_env("")
    assert (default.rate, default.burst) == (http.DEFAULT_RATE, http.DEFAULT_BURST)
    assert (b := http.rate_limit_from_env("5/7")) and (b.rate, b.burst) == (5, 7)
    assert (b := http.rate_limit_from_env("2")) and (b.rate, b.burst) == (2, 8)
    assert http.rate_limit_from_env("off") is None and http.rate_limit_from_env("0") is None
    with pytest.raises(ValueError, match="GONGKAI_RATE_LIMIT"):
        http.rate_limit_from_env("fast")


async def test_past_its_rate_a_token_gets_429_with_retry_after_and_others_are_served(settings, monkeypatch):
    app, ran = make_app(settings, monkeypatch, rate="1/3")
    async with client(app) as c:
        me = auth(settings, "u1")
        assert [(await c.get("/list", headers=me)).status_code for _ in range(3)] == [200, 200, 200]
        r = await c.get("/list", headers=me)
        assert_json_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
        assert (await c.post("/small", headers=me, json={"a": 1})).status_code == 429
        # another user of the org, the same user in another org: buckets of their own
        assert (await c.get("/list", headers=auth(settings, "u2"))).status_code == 200
        assert (await c.get("/list", headers=auth(settings, "u1", "o2"))).status_code == 200
        # without a valid token: 401, not 429
        assert_json_error(await c.get("/list"), 401, "missing_token")
        assert (await c.get("/health")).status_code == 200
    assert len(ran) == 5


async def test_the_rate_limit_can_be_turned_off(settings, monkeypatch):
    app, _ = make_app(settings, monkeypatch, rate="off")
    async with client(app) as c:
        me = auth(settings)
        assert {(await c.get("/list", headers=me)).status_code for _ in range(300)} == {200}


# ------------------------------------------------------------------------------------------ text lengths


def test_request_texts_are_bounded_where_a_real_department_text_still_fits():
    long_regulation = "第一条 为了规范……。" * 15_000  # 165,000 characters
    assert ItemContent(kind="proactive", title="标" * 500, body=long_regulation)
    with pytest.raises(ValidationError):
        ItemContent(kind="proactive", title="标" * 501)
    with pytest.raises(ValidationError):
        ItemContent(kind="proactive", title="t", body="x" * 200_001)
    with pytest.raises(ValidationError):
        ItemContent(kind="proactive", title="t", channels=["c" * 101])
    with pytest.raises(ValidationError):
        ItemContent(kind="proactive", title="t", channels=["web"] * 51)
    assert DecisionRequest(stage="initial", outcome="return", comment="意" * 5000)
    with pytest.raises(ValidationError):
        DecisionRequest(stage="initial", outcome="return", comment="意" * 5001)
    with pytest.raises(ValidationError):
        DecisionRequest(stage="initial", outcome="approve", acknowledged=["x" * 101])


def test_the_longest_item_fits_the_body_limit_whatever_the_json_encoding():
    """A 200,000-character body escaped as \\uXXXX is still under the JSON body limit: the text limit, with its
    clear 422, is the one a user meets."""
    item = {"kind": "proactive", "title": "标" * 500, "body": "正" * 200_000, "metadata": {"summary": "概" * 500}}
    assert len(json.dumps(item, ensure_ascii=True).encode()) < BODY_LIMIT


async def test_an_unreachable_event_log_is_503_with_retry_after(settings):
    """NATS restarting: the request is refused as unavailable (the client retries), never a bare 500."""
    import nats.errors

    app = FastAPI()
    http.install(app, settings)

    @app.get("/needs-the-log")
    async def needs_the_log() -> dict:
        raise nats.errors.TimeoutError

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/needs-the-log")
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    assert r.json()["error"] == "log_unavailable" and "事件日志" in r.json()["message"]
