"""The dashboard's only source: the reports service's HTTP API (no Streamlit here, no NATS, no database).

Every call raises `ReportsUnavailable` when the service cannot be reached or fails (5xx), `PermissionError`
when the token is refused (401/403), and `NotProvided` when this reports service has no such endpoint,
resource or key (404 and other 4xx) — the page shows the rest and says what is missing.
"""

from __future__ import annotations

import base64
import json
import os

import httpx

TIMEOUT = httpx.Timeout(2.0, connect=1.0)  # a live page: better a warning now than a stalled refresh
_http = httpx.Client(timeout=TIMEOUT)  # shared: keep-alive across the page's once-a-second refreshes


class ReportsUnavailable(Exception):
    pass


class NotProvided(Exception):
    pass


def _url(url: str | None, port: str) -> str:
    host = os.environ.get("GONGKAI_HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::"):  # a bind address, not one to connect to
        host = "127.0.0.1"
    return (url or f"http://{host}:{port}").rstrip("/")


def reports_url() -> str:
    return _url(os.environ.get("GONGKAI_REPORTS_URL"), os.environ.get("GONGKAI_REPORTS_PORT", "8003"))


def items_url() -> str:
    """Where an item's or an application's full history lives (links only: the dashboard never calls it)."""
    return _url(os.environ.get("GONGKAI_ITEMS_URL"), os.environ.get("GONGKAI_ITEMS_PORT", "8001"))


def history_url(aggregate: str, id_: str) -> str | None:
    path = {"item": "items", "application": "applications"}.get(aggregate)
    return f"{items_url()}/{path}/{id_}" if path else None


def token_claims(token: str) -> dict:
    """The token's claims, unverified — only to say on the page who is looking (the services verify it)."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}


def _get(path: str, token: str, params: dict) -> dict:
    params = {k: v for k, v in params.items() if v not in (None, "")}
    try:
        r = _http.get(f"{reports_url()}{path}", params=params, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as e:
        raise ReportsUnavailable(str(e) or type(e).__name__) from e
    if r.status_code >= 500:
        raise ReportsUnavailable(f"HTTP {r.status_code}")
    if r.status_code == 200:
        return r.json()
    try:
        message = r.json().get("message", "")
    except ValueError:
        message = ""
    if r.status_code in (401, 403):
        raise PermissionError(message or f"HTTP {r.status_code}")
    raise NotProvided(message or f"{path}: HTTP {r.status_code}")


def fetch_totals(token: str, year: int, org: str | None = None) -> dict:
    return _get("/totals", token, {"year": year, "org": org})


def fetch_pipeline(token: str, org: str | None = None) -> dict:
    return _get("/pipeline", token, {"org": org})


def fetch_report_status(token: str, year: int, org: str | None = None) -> dict:
    return _get(f"/reports/{year}/status", token, {"org": org})


def fetch_history(token: str, aggregate: str, id_: str) -> dict:
    return _get(f"/history/{aggregate}/{id_}", token, {})


def fetch_explain(token: str, year: int, key: str, org: str | None = None) -> dict:
    return _get("/totals/explain", token, {"year": year, "org": org, "key": key})
