"""Who may call what: every route of every service × every role × the org's own resources / another org's /
no token / a token with a bad signature, against the running stack.

Each route has a row: the roles it allows on the caller's own org, and the roles it allows on another org's
(`SAME` where the route acts on the caller's own org whatever it names). An allowed cell must not be refused
with 401/403 (nor fail with 5xx); a refused cell is a 403 JSON error; no token or a forged one is a 401 JSON
error; a public route answers everyone. The rows come from DESIGN.md ("HTTP") and the services' code; a route
without a row fails `test_every_route_has_a_row`.

Nothing here changes another test's state: the matrix uses orgs of its own. A request an allowed role may make
is, where it could, one that the service refuses *after* its access check (an unknown category, a date in the
future, an item in a state that does not allow it), so that cells do not depend on their order; the few that
do change something (a first decision, a proposal, the year's report) act on this module's own resources and
are asked after every refused cell of their row.
"""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import jwt
import pytest
from starlette.routing import Route

from contracts.roles import Role
from gongkai.auth import ALGORITHM, mint, signing_key
from gongkai.config import Settings

ROLES = [r.value for r in Role]
ALL = frozenset(ROLES)
NONE: frozenset[str] = frozenset()
#: roles that see every org's totals and reports (services/reports/app.py ALL_ORGS_ROLES)
CITY = frozenset({"viewer", "leader", "office"})
#: the roles that decide a stage of the review chain (and so may read an application under review)
REVIEWERS = frozenset({"officer", "section_head", "leader", "secrecy"})
#: the route acts on the caller's own org whatever org the caller is in: another org's caller is treated the same
SAME = "same"
#: the year the module's report rows use, and the year of its table-二 records (both far from any other test's)
REPORT_YEAR, RECORD_YEAR = 2001, 2002
TODAY = date.today()


@dataclass
class World:
    """The module's two orgs, its users' tokens, and one resource of each kind in org A."""

    a: str
    b: str
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)  # (org, role) → token
    forged: str = ""
    item: str = ""  # withdrawn: every change is refused after the access check (409)
    in_review: str = ""  # submitted, at stage initial
    application: str = ""  # its answer under review, at stage initial
    proposal: str = ""


@dataclass(frozen=True)
class Req:
    path: str
    params: dict | None = None
    json: Any = None


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    path: str
    own: frozenset[str] | None  # roles allowed on the caller's own org; None: a public route
    other: frozenset[str] | str  # roles allowed on another org's resources, or SAME
    request: Callable[[World], Req]
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.service} {self.method} {self.path}{f' ({self.variant})' if self.variant else ''}"


def public(service: str, path: str) -> Row:
    return Row(service, "GET", path, None, SAME, lambda w: Req(path))


def item_(path: str) -> Callable[[World], Req]:
    return lambda w: Req(path.format(id=w.item))


def app_(path: str, json: Any = None) -> Callable[[World], Req]:
    return lambda w: Req(path.format(id=w.application), json=json)


NEW_ITEM_BAD_CATEGORY = {"kind": "proactive", "category": "no_such_category", "title": "权限矩阵", "body": "正文"}
APPROVE_INITIAL = {"stage": "initial", "outcome": "approve"}

ROWS: list[Row] = [
    # ---- items service: items
    Row("items", "POST", "/items", frozenset({"author", "office"}), SAME,
        lambda w: Req("/items", json=NEW_ITEM_BAD_CATEGORY)),  # allowed: 422 unknown category
    Row("items", "GET", "/items", ALL, NONE, lambda w: Req("/items", params={"org": w.a})),
    Row("items", "GET", "/items/{item_id}", ALL, NONE, item_("/items/{id}")),
    Row("items", "PATCH", "/items/{item_id}", frozenset({"author"}), NONE,  # the author only: 409 withdrawn
        lambda w: Req(f"/items/{w.item}", json={"unknown_field": 1})),
    Row("items", "POST", "/items/{item_id}/submit", frozenset({"author"}), NONE, item_("/items/{id}/submit")),
    Row("items", "POST", "/items/{item_id}/retract", frozenset({"author", "office"}), NONE,
        lambda w: Req(f"/items/{w.item}/retract", json={"reason": "权限矩阵"})),
    Row("items", "POST", "/items/{item_id}/validity", frozenset({"author", "office"}), NONE,
        lambda w: Req(f"/items/{w.item}/validity", json={"validity": "expired", "reason": "权限矩阵"})),
    Row("items", "POST", "/items/{item_id}/withdraw", frozenset({"author", "office"}), NONE,
        item_("/items/{id}/withdraw")),
    Row("items", "POST", "/import", frozenset({"office"}), SAME,
        lambda w: Req("/import", json={"items": [{**NEW_ITEM_BAD_CATEGORY, "author": "m-author",
                                                   "published_at": "2018-03-01T09:00:00+08:00"}]})),
    # ---- items service: applications (依申请公开)
    Row("items", "GET", "/applications", frozenset({"office", "viewer"}), SAME, lambda w: Req("/applications")),
    Row("items", "POST", "/applications", frozenset({"office"}), SAME,  # allowed: 422 received in the future
        lambda w: Req("/applications", json={"applicant_type": "natural_person", "subject": "权限矩阵",
                                             "received_on": (TODAY + timedelta(days=30)).isoformat()})),
    Row("items", "GET", "/applications/{application_id}", ALL, NONE, app_("/applications/{id}")),
    Row("items", "POST", "/applications/{application_id}/answer", frozenset({"office"}), NONE,  # 409 in review
        app_("/applications/{id}/answer", {"outcome": "granted", "body": "答复"})),
    Row("items", "POST", "/applications/{application_id}/cases", frozenset({"office"}), NONE,  # 422 bad date
        app_("/applications/{id}/cases", {"kind": "administrative_review", "filed_on": "2000-01-01"})),
    Row("items", "POST", "/applications/{application_id}/cases/{case_id}", frozenset({"office"}), NONE,  # 404
        lambda w: Req(f"/applications/{w.application}/cases/no-such-case",
                      json={"result": "corrected", "decided_on": TODAY.isoformat()})),
    Row("items", "POST", "/applications/{application_id}/clock", frozenset({"office"}), NONE,  # 409 no request
        app_("/applications/{id}/clock", {"kind": "corrected", "on": TODAY.isoformat()})),
    Row("items", "POST", "/applications/{application_id}/clock", frozenset({"section_head"}), NONE,  # 409 date
        app_("/applications/{id}/clock", {"kind": "extended", "on": "2000-01-01", "days": 5}), "extension"),
    Row("items", "POST", "/applications/{application_id}/expire", frozenset({"office"}), NONE,  # 409 not expired
        app_("/applications/{id}/expire")),
    Row("items", "POST", "/applications/{application_id}/fee", frozenset({"office"}), NONE,  # 422 no pages
        app_("/applications/{id}/fee", {"on": TODAY.isoformat(), "method": "per_volume"})),
    Row("items", "GET", "/applications/{application_id}/letter", frozenset({"office"}) | REVIEWERS, NONE,
        app_("/applications/{id}/letter")),  # personal data: the office, and reviewers while it is in review
    Row("items", "POST", "/proposals", frozenset({"office"}), SAME,  # allowed: records a proposal (own org)
        lambda w: Req("/proposals", json={"kind": "npc_suggestion", "received_on": TODAY.isoformat(),
                                          "title": "权限矩阵建议"})),
    Row("items", "POST", "/proposals/{proposal_id}/answer", frozenset({"office"}), NONE,  # 422 before receipt
        lambda w: Req(f"/proposals/{w.proposal}/answer", json={"answered_on": "2000-01-01"})),
    # ---- items service: the annual report's texts and table 二
    Row("items", "GET", "/report-texts/{year}", ALL, SAME, lambda w: Req(f"/report-texts/{REPORT_YEAR}")),
    Row("items", "PUT", "/report-texts/{year}/{section}", frozenset({"office"}), SAME,  # 422 unknown section
        lambda w: Req(f"/report-texts/{REPORT_YEAR}/no_such_section", json={"text": "权限矩阵"})),
    Row("items", "POST", "/records/{year}", frozenset({"office"}), SAME,  # 409: the year's figures are in review
        lambda w: Req(f"/records/{RECORD_YEAR}", json={"rules_issued": 1})),
    # ---- reviews service
    Row("reviews", "GET", "/tasks", ALL, SAME, lambda w: Req("/tasks")),
    Row("reviews", "POST", "/items/{item_id}/decisions", frozenset({"officer"}), NONE,
        lambda w: Req(f"/items/{w.in_review}/decisions", json=APPROVE_INITIAL)),
    Row("reviews", "POST", "/applications/{application_id}/decisions", frozenset({"officer"}), NONE,
        lambda w: Req(f"/applications/{w.application}/decisions", json=APPROVE_INITIAL)),
    Row("reviews", "POST", "/records/{year}/decisions", frozenset({"officer"}), SAME,  # the caller's org's record
        lambda w: Req(f"/records/{RECORD_YEAR}/decisions", json=APPROVE_INITIAL)),
    # ---- reports service: own org for everyone, every org for CITY
    Row("reports", "GET", "/totals", ALL, CITY, lambda w: Req("/totals", params={"org": w.a})),
    Row("reports", "GET", "/totals/explain", ALL, CITY,
        lambda w: Req("/totals/explain", params={"org": w.a, "key": "proactive.by_category.meetings"})),
    Row("reports", "GET", "/pipeline", ALL, CITY, lambda w: Req("/pipeline", params={"org": w.a})),
    Row("reports", "GET", "/history/{aggregate}/{agg_id}", ALL, CITY, item_("/history/item/{id}")),
    Row("reports", "GET", "/reports/{year}", ALL, CITY, lambda w: Req(f"/reports/{REPORT_YEAR}", params={"org": w.a})),
    Row("reports", "GET", "/reports/{year}/status", ALL, CITY,
        lambda w: Req(f"/reports/{REPORT_YEAR}/status", params={"org": w.a})),
    Row("reports", "POST", "/reports/{year}/submit", frozenset({"office"}), NONE,  # allowed: files the report
        lambda w: Req(f"/reports/{REPORT_YEAR}/submit", params={"org": w.a})),
    Row("reports", "POST", "/reports/{year}/close", frozenset({"office"}), SAME,  # allowed: closes the year
        lambda w: Req(f"/reports/{REPORT_YEAR}/close")),
    # ---- public on every service: health, metrics (Prometheus scrapes without a token), the API's own docs
    *[public(s, p) for s in ("items", "reviews", "reports")
      for p in ("/health", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")],
]


def routes_of(service: str, settings: Settings) -> set[tuple[str, str, str]]:
    """Every route the service's app serves: those of its OpenAPI (included routers too) and those it leaves out
    of it (/metrics, the docs)."""
    app = importlib.import_module(f"services.{service}.app").create_app(settings)
    documented = {(service, method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}
    undocumented = {(service, method, r.path) for r in app.routes if isinstance(r, Route)
                    for method in (r.methods or ()) if method != "HEAD"}
    return documented | undocumented


def test_every_route_has_a_row(tmp_path):
    settings = Settings(data_dir=tmp_path)  # only to build the apps: nothing is started
    routes = set().union(*(routes_of(s, settings) for s in ("items", "reviews", "reports")))
    rows = {(r.service, r.method, r.path) for r in ROWS}
    assert not routes - rows, f"routes without a row in the access matrix: {sorted(routes - rows)}"
    assert not rows - routes, f"rows for routes that do not exist: {sorted(rows - routes)}"


# ---------------------------------------------------------------------------------------------- the world


@pytest.fixture(scope="module")
def world(stack):
    settings = Settings(data_dir=stack.data_dir)
    tag = uuid.uuid4().hex[:8]
    w = World(a=f"acl-a-{tag}", b=f"acl-b-{tag}")
    for org in (w.a, w.b):
        for role in ROLES:
            w.tokens[org, role] = mint(settings, user=f"m-{role}", org=org, roles=[role])
    key, deployment = signing_key(settings, create=False)
    now = int(time.time())
    w.forged = jwt.encode({"sub": "m-office", "org": w.a, "roles": ["office"], "iat": now, "exp": now + 3600,
                           "iss": f"gongkai:{deployment}"}, key + "-forged", algorithm=ALGORITHM)

    def call(org: str, role: str, method: str, url: str, **kw) -> dict:
        r = httpx.request(method, url, headers=bearer(w.tokens[org, role]), timeout=30, **kw)
        assert r.status_code < 300, f"{method} {url}: {r.status_code} {r.text}"
        return r.json()

    items, a = stack.url("items"), w.a
    new_item = {"kind": "proactive", "category": "meetings", "title": "权限矩阵", "body": "正文"}
    w.item = call(a, "author", "POST", f"{items}/items", json=new_item)["id"]
    call(a, "author", "POST", f"{items}/items/{w.item}/withdraw")
    w.in_review = call(a, "author", "POST", f"{items}/items", json=new_item)["id"]
    call(a, "author", "POST", f"{items}/items/{w.in_review}/submit")
    w.application = call(a, "office", "POST", f"{items}/applications", json={
        "applicant_type": "natural_person", "received_on": TODAY.isoformat(), "subject": "权限矩阵申请",
        "applicant": {"name": "王某", "phone": "13800000000"}})["id"]
    call(a, "office", "POST", f"{items}/applications/{w.application}/answer",
         json={"outcome": "granted", "body": "现将相关信息提供如下"})
    w.proposal = call(a, "office", "POST", f"{items}/proposals", json={
        "kind": "cppcc_proposal", "received_on": TODAY.isoformat(), "title": "权限矩阵提案"})["id"]
    for org in (w.a, w.b):  # each org's table-二 figures of RECORD_YEAR, under review at stage initial
        call(org, "office", "POST", f"{items}/records/{RECORD_YEAR}", json={"rules_issued": 1})
    yield w
    print(f"\naccess matrix: {len(ASKED)} cells asked over {len(ROWS)} rows")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# ------------------------------------------------------------------------------------------------ the cells


@dataclass(frozen=True)
class Cell:
    who: str  # a role, "no token" or "bad signature"
    org: str  # "own" or "other" ("" without a valid token)
    expect: str  # "allowed", "forbidden", "unauthorized" or "public"


def cells(row: Row) -> list[Cell]:
    """Every cell of a row, refused ones first: an allowed request may change what the next one finds."""
    if row.own is None:
        return [Cell("no token", "", "public"), Cell("bad signature", "", "public"),
                *[Cell(role, org, "public") for role in ROLES for org in ("own", "other")]]
    out = [Cell("no token", "", "unauthorized"), Cell("bad signature", "", "unauthorized")]
    for role in ROLES:
        out.append(Cell(role, "own", "allowed" if role in row.own else "forbidden"))
        other = row.own if row.other == SAME else row.other
        out.append(Cell(role, "other", "allowed" if role in other else "forbidden"))
    return sorted(out, key=lambda c: c.expect == "allowed")


def ask(stack, world: World, row: Row, cell: Cell, http: httpx.Client) -> httpx.Response:
    req = row.request(world)
    if cell.who == "no token":
        headers = {}
    elif cell.who == "bad signature":
        headers = bearer(world.forged)
    else:
        headers = bearer(world.tokens[world.a if cell.org == "own" else world.b, cell.who])
    return http.request(row.method, stack.url(row.service) + req.path, params=req.params, json=req.json,
                        headers=headers)


def verdict(cell: Cell, r: httpx.Response) -> str | None:
    """What is wrong with the answer to one cell, or None."""
    if r.status_code >= 500:
        return f"server error {r.status_code}: {r.text[:200]}"
    if cell.expect in ("allowed", "public"):
        if r.status_code in (401, 403) or (cell.expect == "public" and r.status_code != 200):
            return f"refused with {r.status_code}: {r.text[:200]}"
        return None
    status = 401 if cell.expect == "unauthorized" else 403
    if r.status_code != status:
        return f"expected {status}, got {r.status_code}: {r.text[:200]}"
    try:
        body = r.json()
    except ValueError:
        return f"{status} without a JSON body: {r.text[:200]}"
    if not (isinstance(body.get("error"), str) and " / " in str(body.get("message"))):
        return f"{status} is not a JSON error in Chinese and English: {r.text[:200]}"
    return None


ASKED: list[int] = []


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_access(stack, world, row):
    wrong = []
    with httpx.Client(timeout=60) as http:
        for cell in cells(row):
            r = ask(stack, world, row, cell, http)
            ASKED.append(r.status_code)
            if problem := verdict(cell, r):
                wrong.append(f"  {cell.who:>14} {cell.org:>5} org, expected {cell.expect}: {problem}")
    assert not wrong, f"{row.id}:\n" + "\n".join(wrong)


def test_the_matrix_covers_every_role_of_every_route():
    """16 cells a row: 7 roles × own/other org, no token, a forged token."""
    assert {len(cells(r)) for r in ROWS} == {2 * len(ROLES) + 2}
    assert set(ROLES) == {"author", "officer", "section_head", "leader", "secrecy", "office", "viewer"}
