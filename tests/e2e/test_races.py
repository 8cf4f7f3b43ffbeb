"""100 concurrent conflicting commands on one item: exactly one wins, the others get 409, the log holds one event."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from contracts.subjects import event_subject
from gongkai.auth import mint
from gongkai.config import Settings
from gongkai.eventlog import EventLog

N = 100


def events_of(stack, item_id: str) -> list[str]:
    async def read() -> list[str]:
        log = await EventLog.connect(stack.nats_url)
        try:
            return [st.envelope.type for st in await log.load(event_subject("item", item_id))]
        finally:
            await log.close()

    return asyncio.run(read())


def fire(requests: list[tuple[str, str, dict, dict | None]]) -> list[httpx.Response]:
    """Send every request at once (one connection each, released together)."""

    async def go() -> list[httpx.Response]:
        start = asyncio.Event()
        limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            async def one(method: str, url: str, headers: dict, body: dict | None) -> httpx.Response:
                await start.wait()
                for _ in range(20):  # as a client does: "unavailable, retry after" is not an answer
                    r = await http.request(method, url, headers=headers, json=body)
                    if r.status_code != 503:
                        return r
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                return r

            tasks = [asyncio.create_task(one(*r)) for r in requests]
            await asyncio.sleep(0.2)
            start.set()
            return await asyncio.gather(*tasks)

    return asyncio.run(go())


def test_a_hundred_concurrent_submissions_of_one_draft_submit_it_once(api, people, stack):
    item = api.create(people.author)
    url = api.items(f"/items/{item['id']}/submit")
    got = fire([("POST", url, people.author, None)] * N)
    codes = Counter(r.status_code for r in got)
    assert codes == {202: 1, 409: N - 1}, codes
    assert all(r.json()["error"] for r in got if r.status_code == 409)
    assert events_of(stack, item["id"]).count("item.submitted") == 1


def test_a_hundred_officers_approving_one_item_at_once_record_one_decision(api, people, stack):
    item = api.create(people.author)
    assert api.submit(people.author, item["id"]).status_code == 202
    url = api.reviews(f"/items/{item['id']}/decisions")
    settings = Settings(data_dir=stack.data_dir)  # the stack's signing key: a hundred `gongkai token` runs take long
    officers = [{"Authorization": "Bearer " + mint(settings, user=f"officer{i:03d}", org=people.org, roles=["officer"])}
                for i in range(N)]
    got = fire([("POST", url, who, {"stage": "initial", "outcome": "approve", "comment": "同意"}) for who in officers])
    codes = Counter(r.status_code for r in got)
    assert codes == {200: 1, 409: N - 1}, (codes, [r.text for r in got if r.status_code not in (200, 409)][:3])
    assert events_of(stack, item["id"]).count("review.decided") == 1
    assert api.item(people.author, item["id"])["status"] == "in_review"  # now waiting for 复核, once
