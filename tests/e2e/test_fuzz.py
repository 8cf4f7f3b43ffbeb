"""Fuzzing every operation of every service's OpenAPI (schemathesis) against the running stack, with valid tokens
of several roles: no 5xx, responses conform to the schema where it documents them, every refusal is a JSON
error, and a refused request (4xx) appends nothing to the event log.

Cases are bounded (`MAX_EXAMPLES` per operation) so that the file runs in about a minute; each operation's
count is printed at the end (`pytest -s`)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections import Counter
from datetime import date

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from contracts.generate import SCHEMAS_DIR, SERVICES
from gongkai.auth import mint
from gongkai.config import Settings
from gongkai.eventlog import EventLog, decode

#: cases per operation (about 600 in all, some 30 s on an idle machine); FUZZ_MAX_EXAMPLES=200 for a longer hunt
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))

#: the roles a fuzzed request is made with: each role alone, and an author who is also the office
ROLE_SETS = [("author",), ("officer",), ("section_head",), ("leader",), ("secrecy",), ("office",), ("viewer",),
             ("author", "office")]

#: path parameters a case may take from the org's real resources instead of random text, to reach past 404
KNOWN = {"item_id": "item", "application_id": "application", "proposal_id": "proposal", "agg_id": "item"}

SCHEMAS = {s: schemathesis.openapi.from_dict(json.loads((SCHEMAS_DIR / f"openapi-{s}.json").read_text()))
           for s in SERVICES}

RUN: Counter = Counter()  # cases per operation
REFUSED: Counter = Counter()  # of them, refused with a 4xx
STATUSES: dict[str, Counter] = {}  # operation → status → cases
QUIET: Counter = Counter()  # refused while something else appended to the log (checked by correlation id)


class LogWatch:
    """The event log, read from a thread of its own so that the synchronous hypothesis tests can ask it."""

    def __init__(self, url: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.log: EventLog = self.run(EventLog.connect(url))

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def head(self) -> int:
        return self.run(self.log.head())

    def correlation_ids(self, after: int, upto: int) -> set[str | None]:
        async def read() -> set[str | None]:
            out = set()
            for seq in range(after + 1, upto + 1):
                msg = await self.log.js.get_msg(self.log.stream, seq=seq)
                out.add(decode(msg.data).correlation_id)
            return out

        return self.run(read())

    def close(self) -> None:
        self.run(self.log.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def fuzz(stack):
    """An org of the fuzzer's own, with one item, one application and one proposal to aim at."""
    org = f"fuzz-{uuid.uuid4().hex[:8]}"
    settings_ = Settings(data_dir=stack.data_dir)
    tokens: dict[tuple[str, tuple[str, ...]], str] = {}

    def token(operation: str, roles: tuple[str, ...]) -> str:
        # the author of the org's item as itself, so that its own item's routes are reached; everyone else as a
        # user per operation and role set, each with a rate-limit bucket of its own
        key = (operation, roles)
        if key not in tokens:
            user = "fuzz-author" if roles == ("author",) else f"fuzz-{'-'.join(roles)}-{len(tokens)}"
            tokens[key] = mint(settings_, user=user, org=org, roles=list(roles))
        return tokens[key]

    author = {"Authorization": f"Bearer {mint(settings_, user='fuzz-author', org=org, roles=['author'])}"}
    office = {"Authorization": f"Bearer {mint(settings_, user='fuzz-office', org=org, roles=['office'])}"}
    with httpx.Client(timeout=30) as http:
        item = http.post(f"{stack.url('items')}/items", headers=author,
                         json={"kind": "proactive", "category": "meetings", "title": "模糊测试", "body": "正文"})
        application = http.post(f"{stack.url('items')}/applications", headers=office,
                                json={"applicant_type": "natural_person", "received_on": date.today().isoformat(),
                                      "subject": "模糊测试申请"})
        proposal = http.post(f"{stack.url('items')}/proposals", headers=office,
                             json={"kind": "npc_suggestion", "received_on": date.today().isoformat(), "title": "建议"})
    for r in (item, application, proposal):
        assert r.status_code == 201, r.text
    known = {"item": item.json()["id"], "application": application.json()["id"], "proposal": proposal.json()["id"]}
    watch = LogWatch(stack.nats_url)
    yield {"stack": stack, "token": token, "known": known, "watch": watch}
    watch.close()
    total = sum(RUN.values())
    print(f"\nfuzz: {total} cases over {len(RUN)} operations, {sum(REFUSED.values())} refused (4xx), "
          f"{sum(QUIET.values())} refused while other events were appended")
    for op, n in sorted(RUN.items()):
        statuses = ", ".join(f"{code}×{k}" for code, k in sorted(STATUSES[op].items()))
        print(f"  {n:4d} {op}: {statuses}")


def check(service: str, case, fuzz, roles: tuple[str, ...], use_known: bool) -> None:
    op = f"{case.method.upper()} {case.path}"
    if use_known:
        for name, aggregate in KNOWN.items():
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = fuzz["known"][aggregate]
    cid = f"fuzz-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {fuzz['token'](op, roles)}", "X-Correlation-Id": cid}
    watch: LogWatch = fuzz["watch"]
    before = watch.head()
    response = case.call(base_url=fuzz["stack"].url(service), headers=headers, timeout=60)
    RUN[op] += 1
    STATUSES.setdefault(op, Counter())[response.status_code] += 1
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance], headers=headers)
    status = response.status_code
    assert status not in (401, 429), f"{op}: a valid token was refused: {response.text}"
    if 400 <= status < 500:
        REFUSED[op] += 1
        body = response.json()
        assert isinstance(body.get("error"), str) and " / " in body.get("message", ""), response.text
        after = watch.head()
        if after != before:  # another process appended meanwhile: none of it may be this request's
            QUIET[op] += 1
            assert cid not in watch.correlation_ids(before, after), (
                f"{op} was refused with {status} but appended events: {response.text}")


SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
GIVEN = dict(roles=st.sampled_from(ROLE_SETS), use_known=st.booleans())


@SCHEMAS["items"].parametrize()
@SCHEMAS["items"].given(**GIVEN)
@SETTINGS
def test_items(case, fuzz, roles, use_known):
    check("items", case, fuzz, roles, use_known)


@SCHEMAS["reviews"].parametrize()
@SCHEMAS["reviews"].given(**GIVEN)
@SETTINGS
def test_reviews(case, fuzz, roles, use_known):
    check("reviews", case, fuzz, roles, use_known)


@SCHEMAS["reports"].parametrize()
@SCHEMAS["reports"].given(**GIVEN)
@SETTINGS
def test_reports(case, fuzz, roles, use_known):
    check("reports", case, fuzz, roles, use_known)
