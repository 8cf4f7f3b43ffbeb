"""The dashboard's only source: the reports service's HTTP API."""

from __future__ import annotations

import os

import httpx


class ReportsUnavailable(Exception):
    pass


def reports_url() -> str:
    host = os.environ.get("GONGKAI_HOST", "127.0.0.1")
    return os.environ.get("GONGKAI_REPORTS_URL") or f"http://{host}:{os.environ.get('GONGKAI_REPORTS_PORT', '8003')}"


def fetch_totals(token: str, year: int, org: str | None = None) -> dict:
    params: dict = {"year": year}
    if org:
        params["org"] = org
    try:
        r = httpx.get(f"{reports_url()}/totals", params=params, headers={"Authorization": f"Bearer {token}"},
                      timeout=3.0)
    except httpx.HTTPError as e:
        raise ReportsUnavailable(str(e)) from e
    if r.status_code >= 500:
        raise ReportsUnavailable(f"HTTP {r.status_code}")
    if r.status_code != 200:
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        raise PermissionError(body.get("message", f"HTTP {r.status_code}"))
    return r.json()
