"""What the log, the API and the projections say after a crash test, checked against the load's ground truth.
Every check adds a line with its evidence to `problems`; none means nothing was lost or duplicated."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import httpx

from contracts import subjects
from gongkai.eventlog import EventLog, Stored
from tests.crash.load import Load, LoadItem

EXPECTED_STATUS = {"accepted": "draft", "submitted": "in_review", "initial": "in_review", "approved": "published",
                   "rejected": "rejected"}


async def read_log(url: str, load: Load, year: int) -> tuple[int, list[Stored], dict[str, list[Stored]],
                                                               list[Stored]]:
    """The log's head; every event of the org (read from the start to the head); each accepted item's own
    subject (read as the services read it); and the org's 索引号 counter of the year."""
    log = await EventLog.connect(url)
    try:
        head = await log.head()
        events: list[Stored] = []
        stop = asyncio.Event()

        async def handle(batch: list[Stored]) -> None:
            events.extend(st for st in batch if st.envelope.org == load.org)
            if batch[-1].seq >= head:
                stop.set()

        await asyncio.wait_for(log.follow(1, handle, stop=stop), 120)
        per_item: dict[str, list[Stored]] = {}
        accepted = load.accepted
        for i in range(0, len(accepted), 50):
            chunk = accepted[i:i + 50]
            loaded = await asyncio.gather(*(log.load(subjects.event_subject("item", it.id)) for it in chunk))
            per_item.update({it.id: evs for it, evs in zip(chunk, loaded, strict=True)})
        counter = await log.load(subjects.index_subject(load.org, year))
        return head, events, per_item, counter
    finally:
        await log.close()


def check_log(load: Load, events: list[Stored], per_item: dict[str, list[Stored]], counter: list[Stored],
              problems: list[str]) -> dict:
    accepted = {i.id: i for i in load.accepted}
    approved = {i.id for i in load.by("approved")}

    # every item of the org in the whole log: one draft per idempotency key, none the driver does not know
    drafted = Counter(st.envelope.aggregate_id for st in events if st.envelope.type == "item.drafted")
    titles = Counter(st.envelope.payload.get("title") for st in events if st.envelope.type == "item.drafted")
    for title, k in titles.items():
        if k != 1:
            problems.append(f"{k} drafts titled {title!r}: "
                            + ", ".join(st.envelope.aggregate_id for st in events
                                        if st.envelope.type == "item.drafted"
                                        and st.envelope.payload.get("title") == title))
    for item_id in drafted.keys() - accepted.keys():
        problems.append(f"item {item_id} is in the log but no create of the load was answered 201 for it")
    published_anywhere = Counter(st.envelope.aggregate_id for st in events if st.envelope.type == "item.published")
    for item_id, k in published_anywhere.items():
        if k != 1:
            seqs = [st.seq for st in events
                    if st.envelope.type == "item.published" and st.envelope.aggregate_id == item_id]
            problems.append(f"item {item_id} published {k} times (stream sequences {seqs})")

    # each accepted item's own subject
    for item_id, item in accepted.items():
        evs = per_item.get(item_id, [])
        types = Counter(st.envelope.type for st in evs)
        where = f"item {item_id} ({item.key}, {item.reached})"
        if types["item.drafted"] != 1:
            problems.append(f"{where}: {types['item.drafted']} item.drafted in its subject")
        want_submitted = 0 if item.reached == "accepted" else 1
        if types["item.submitted"] != want_submitted:
            problems.append(f"{where}: {types['item.submitted']} item.submitted, expected {want_submitted}")
        decisions = Counter((st.envelope.payload.get("submission"), st.envelope.payload.get("stage"))
                            for st in evs if st.envelope.type == "review.decided")
        for (sub, stage), k in decisions.items():
            if k != 1:
                problems.append(f"{where}: {k} decisions of stage {stage} of submission {sub}")
        want_decisions = {"accepted": 0, "submitted": 0, "initial": 1, "rejected": 1, "approved": 2}[item.reached]
        if sum(decisions.values()) != want_decisions:
            problems.append(f"{where}: {sum(decisions.values())} review.decided, expected {want_decisions}")
        want_published = 1 if item_id in approved else 0
        if types["item.published"] != want_published:
            problems.append(f"{where}: {types['item.published']} item.published, expected {want_published}: "
                            f"{[(st.seq, st.envelope.type) for st in evs]}")

    # the 索引号 counter: one number per published item, consecutive from 1, none twice
    assigned = [st.envelope.payload for st in counter if st.envelope.type == "index.assigned"]
    by_item = Counter(a["item_id"] for a in assigned)
    for item_id, k in by_item.items():
        if k != 1:
            problems.append(f"item {item_id} was given {k} index numbers: "
                            f"{[a['index_no'] for a in assigned if a['item_id'] == item_id]}")
    if set(by_item) != approved:
        missing, extra = approved - set(by_item), set(by_item) - approved
        problems.append(f"index numbers: approved items without one {sorted(missing)[:10]} "
                        f"({len(missing)}), numbered items not approved {sorted(extra)[:10]} ({len(extra)})")
    seqs = [a["seq"] for a in assigned]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"index sequence not consecutive from 1: {seqs[:20]}… ({len(seqs)} numbers)")
    numbers = Counter(a["index_no"] for a in assigned)
    if dup := [n for n, k in numbers.items() if k > 1]:
        problems.append(f"index numbers given twice: {dup[:10]}")
    return {"drafted": len(drafted), "published": len(published_anywhere), "index_numbers": len(assigned),
            "index_no": {a["item_id"]: a["index_no"] for a in assigned}}


def check_api(load: Load, index_no: dict[str, str], problems: list[str]) -> None:
    """GET each accepted item: it is there, in the state the ground truth says, with its 索引号."""
    local = threading.local()  # one client per thread: a new httpx.Client costs ~0.15 s (its TLS context)

    def one(item: LoadItem) -> str | None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(timeout=30)
        r = local.http.get(load.url("items", f"/items/{item.id}"), headers=load.tokens[item.author])
        if r.status_code != 200:
            return f"GET /items/{item.id} ({item.key}): {r.status_code} {r.text[:200]}"
        got = r.json()
        if got["status"] != EXPECTED_STATUS[item.reached]:
            return f"item {item.id} ({item.key}) is {got['status']}, expected {EXPECTED_STATUS[item.reached]}"
        if item.reached == "approved" and (not got.get("index_no") or got["index_no"] != index_no.get(item.id)):
            return f"item {item.id}: index_no {got.get('index_no')!r}, the counter gave {index_no.get(item.id)!r}"
        return None

    with ThreadPoolExecutor(4) as pool:
        problems.extend(p for p in pool.map(one, load.accepted) if p)


def _after(http: httpx.Client, url: str, headers: dict, head: int, params: dict | None = None,
           timeout: float = 90) -> dict:
    """A projection's read once it has applied the log up to `head`."""
    deadline = time.monotonic() + timeout
    while True:
        r = http.get(url, headers=headers, params=params)
        if r.status_code == 200 and r.json()["position"] >= head:
            return r.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not reach position {head}: {r.status_code} {r.text[:300]}")
        time.sleep(0.2)


def check_projections(load: Load, head: int, year: int, problems: list[str]) -> dict:
    approved = load.by("approved")
    with httpx.Client(timeout=30) as http:
        # reports: the year's totals of the org equal what the load had approved
        t = _after(http, load.url("reports", "/totals"), load.tokens["viewer"], head, {"year": year, "org": load.org})
        if t["proactive"]["total"] != len(approved):
            problems.append(f"/totals proactive.total {t['proactive']['total']}, approved {len(approved)}")
        want = Counter(i.category for i in approved)
        got = {c: n for c, n in t["proactive"]["by_category"].items() if n}
        if got != dict(want):
            problems.append(f"/totals by_category {got}, ground truth {dict(want)}")
        if t["in_review"] != 0:
            problems.append(f"/totals in_review {t['in_review']}, but no review is open")

        # reviews: nothing left in anyone's inbox
        for user in ("officer0", "head0"):
            tasks = _after(http, load.url("reviews", "/tasks"), load.tokens[user], head)["tasks"]
            if tasks:
                problems.append(f"/tasks of {user} lists {len(tasks)} finished reviews: "
                                f"{[(x['id'], x['stage']) for x in tasks[:5]]}")

        # items: the listing holds each accepted item once, in its state
        listed: list[dict] = []
        _after(http, load.url("items", "/items"), load.tokens["author0"], head, {"limit": 1})
        while True:
            page = http.get(load.url("items", "/items"), headers=load.tokens["author0"],
                            params={"limit": 500, "offset": len(listed)}).json()["items"]
            listed += page
            if len(page) < 500:
                break
        rows = Counter(r["id"] for r in listed)
        if dup := [i for i, k in rows.items() if k > 1]:
            problems.append(f"the items listing holds {len(dup)} items twice: {dup[:5]}")
        accepted = {i.id: i for i in load.accepted}
        if rows.keys() != accepted.keys():
            problems.append(f"the items listing: missing {sorted(accepted.keys() - rows.keys())[:5]}, "
                            f"unknown {sorted(rows.keys() - accepted.keys())[:5]}")
        wrong = [(r["id"], r["status"]) for r in listed
                 if r["id"] in accepted and r["status"] != EXPECTED_STATUS[accepted[r["id"]].reached]]
        if wrong:
            problems.append(f"the items listing shows {len(wrong)} items in the wrong state: {wrong[:5]}")
    return {"totals_position": t["position"], "proactive_total": t["proactive"]["total"]}


def group_failures(load: Load) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for i in load.items:
        if i.failure:
            out[i.failure.split(":")[0]].append(f"{i.key} {i.id}: {i.failure}")
    return dict(out)


async def check_workflows(address: str, load: Load, problems: list[str], timeout: float = 60) -> dict:
    """Temporal: one publishing workflow per submission, all finished, none failed (a workflow fails when the
    items aggregate refuses what it asks). The stack is the test's own, so every workflow is the load's."""
    from temporalio.client import Client

    client = await Client.connect(address)
    submitted = len([i for i in load.accepted if i.reached != "accepted"])
    base = f'WorkflowType = "{subjects.PUBLISHING_WORKFLOW}"'
    deadline = time.monotonic() + timeout
    while True:  # visibility follows the histories a moment later
        counts = {s: (await client.count_workflows(f'{base} AND ExecutionStatus = "{s}"')).count
                  for s in ("Running", "Completed", "Failed", "Terminated", "TimedOut", "Canceled")}
        if counts["Completed"] >= submitted or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    if counts["Completed"] != submitted or any(n for s, n in counts.items() if s != "Completed"):
        bad = [w.id async for w in client.list_workflows(f'{base} AND ExecutionStatus != "Completed"', limit=10)]
        problems.append(f"publishing workflows {counts}, expected {submitted} completed and no other: {bad}")
    return counts
