"""The figures measured on the whole stack (`gongkai up` on free ports in a data dir of its own):

P7  up ready, then each service's RSS after the log holds N synthetic events;
P1  items/s through the chain until counted in `/totals`, against the bare-workflow ceiling on the stack's own
    Temporal server at the same concurrency;
P2  last approval → counted in `/totals` at 5 items/s arriving open loop;
P5  the 2021-layout DOCX of every org of a city, over HTTP, one after the other;
P6  `/totals` latency with 50 dashboards reading it every second;
P4  `gongkai replay` on the stack's data once it is stopped, and whether the projections are identical after.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from bench import ceilings, synthetic
from bench.common import ROOT, Figure, Load, at_least, below, ms_summary, pct, reason, rss_mb, say, unmeasured
from gongkai import natsauth
from tests.servers import BIN, StackProcess, free_port, wait_tcp

ORG = "bench-org"
KEEPALIVE = httpx.Limits(keepalive_expiry=2)
CATEGORIES = ["meetings", "department_updates", "regulations_documents", "plans"]
#: the projections `gongkai replay` rebuilds: (service, module, class), as gongkai/cli.py lists them
PROJECTIONS = [
    ("items", "services.items.listing", "ItemListing"),
    ("items", "services.items.register", "ApplicationRegister"),
    ("reviews", "services.reviews.inbox", "Inbox"),
    ("reports", "services.reports.projections", "AnnualTotals"),
]


def year_now() -> int:
    return datetime.now(ZoneInfo("Asia/Shanghai")).year


def projections() -> list[tuple[str, object]]:
    """(service, projection instance) of each projection `gongkai replay` rebuilds."""
    import importlib

    try:
        from gongkai.cli import PROJECTIONS as listed
    except ImportError:
        listed = PROJECTIONS
    return [(svc, getattr(importlib.import_module(mod), cls)()) for svc, mod, cls in listed]


class Chain:
    """The HTTP calls that take an item through the review chain (as tests/e2e/test_spine.py makes them)."""

    def __init__(self, stack: StackProcess, tokens: dict[str, str]):
        self.items, self.reviews, self.reports = stack.url("items"), stack.url("reviews"), stack.url("reports")
        self.auth = {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}

    @staticmethod
    def body(n: int) -> dict:
        return {"kind": "proactive", "category": CATEGORIES[n % len(CATEGORIES)], "title": f"基准测试信息 第{n}条",
                "body": "基准测试正文。" * 20, "formed_on": date.today().isoformat()}

    async def call(self, c: httpx.AsyncClient, method: str, url: str, role: str, **kw) -> dict:
        r = await c.request(method, url, headers=self.auth[role], **kw)
        if r.status_code >= 300:
            raise RuntimeError(f"{method} {url}: HTTP {r.status_code} {r.text[:300]}")
        return r.json()

    async def up_to_recheck(self, c: httpx.AsyncClient, n: int) -> str:
        item = await self.call(c, "POST", f"{self.items}/items", "author", json=self.body(n))
        await self.call(c, "POST", f"{self.items}/items/{item['id']}/submit", "author")
        await self.call(c, "POST", f"{self.reviews}/items/{item['id']}/decisions", "officer",
                        json={"stage": "initial", "outcome": "approve"})
        return item["id"]

    async def recheck(self, c: httpx.AsyncClient, item_id: str) -> dict:
        state = await self.call(c, "POST", f"{self.reviews}/items/{item_id}/decisions", "section_head",
                                json={"stage": "recheck", "outcome": "approve"})
        if state.get("status") != "published":
            raise RuntimeError(f"item {item_id} not published after recheck: {state}")
        return state

    async def whole(self, c: httpx.AsyncClient, n: int) -> None:
        await self.recheck(c, await self.up_to_recheck(c, n))

    async def totals(self, c: httpx.AsyncClient, **params) -> dict:
        return await self.call(c, "GET", f"{self.reports}/totals", "viewer", params=params)


def stack_cpu(stack: StackProcess) -> dict[str, float]:
    """CPU seconds each component of the stack has used so far (each runs in a process group of its own,
    listed in DATA_DIR/run/*.pid)."""
    groups = {}
    for pid_file in (stack.data_dir / "run").glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            groups[int(pid_file.read_text())] = pid_file.stem
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if (name := groups.get(int(fields[2]))) is not None:
            out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_note(before: dict[str, float], after: dict[str, float], per: int, what: str) -> str:
    used = sorted(((k, v - before.get(k, 0.0)) for k, v in after.items()), key=lambda kv: -kv[1])
    return (f"CPU per {what}: " + ", ".join(f"{k} {1000 * v / max(per, 1):.0f} ms" for k, v in used if v >= 0.05)
            + f" (total {1000 * sum(v for _, v in used) / max(per, 1):.0f} ms)")


# ---- P1 ---------------------------------------------------------------------------------------------------

async def p1(stack: StackProcess, chain: Chain, n_items: int, concurrency: int, n_ceiling: int) -> list[Figure]:
    load = Load()
    before = stack_cpu(stack)
    ceiling = await ceilings.temporal_ceiling(stack.temporal_address, n_ceiling, concurrency)
    temporal_ms = 1000 * (stack_cpu(stack).get("temporal", 0.0) - before.get("temporal", 0.0)) / (ceiling["n"] + 10)
    ceiling_note = (f"ceiling: bare workflow (start, 2 updates, the 2nd running 1 activity; worker in its own "
                    f"process) on the stack's Temporal, {concurrency} in flight: {ceiling['rate']:.1f} wf/s over "
                    f"{ceiling['n']} workflows, each {ms_summary(ceiling['latencies'])}; Temporal's CPU per "
                    f"workflow {temporal_ms:.0f} ms")
    say(f"P1 ceiling {ceiling['rate']:.1f} wf/s")

    async with httpx.AsyncClient(timeout=60) as c:
        await asyncio.gather(*(chain.whole(c, -1 - i) for i in range(min(concurrency, 10))))  # warm up
        before = (await chain.totals(c, year=year_now(), org=ORG))["proactive"]["total"]
    # idle connections are dropped before uvicorn's keep-alive timeout (5 s) can close them under a request
    clients = [httpx.AsyncClient(timeout=60, limits=KEEPALIVE) for _ in range(concurrency)]
    todo = iter(range(n_items))
    per_item: list[float] = []
    failures: list[str] = []

    async def lane(c: httpx.AsyncClient) -> None:
        for n in todo:
            t = time.perf_counter()
            try:
                await chain.whole(c, n)
                per_item.append(time.perf_counter() - t)
            except (RuntimeError, httpx.HTTPError) as e:
                failures.append(f"{type(e).__name__}: {e}")

    try:
        cpu0, t0 = stack_cpu(stack), time.perf_counter()
        await asyncio.gather(*(lane(c) for c in clients))
        chain_done, cpu1 = time.perf_counter() - t0, stack_cpu(stack)
        done = len(per_item)
        c = clients[0]
        deadline = time.perf_counter() + 60
        while True:
            total = (await chain.totals(c, year=year_now(), org=ORG))["proactive"]["total"]
            if total - before >= done or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - t0
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    rate = done / elapsed
    notes = [f"{done} items, {concurrency} clients: create → submit → 初审 → 复核 (published) took {chain_done:.1f} s, "
             f"counted in /totals after {elapsed:.1f} s; per item {ms_summary(per_item)}",
             cpu_note(cpu0, cpu1, done, "item through the chain"), ceiling_note, load.note()]
    if total - before != done:
        notes.append(f"/totals grew by {total - before}, expected {done}")
    if failures:
        notes.append(f"{len(failures)} items failed; first: {failures[0][:200]}")
    fig = at_least("P1.chain_items_per_s", rate, "items/s", 0.5 * ceiling["rate"], notes)
    fig.ok = fig.ok and not failures and total - before == done
    return [fig]


# ---- P2 ---------------------------------------------------------------------------------------------------

async def p2(stack: StackProcess, chain: Chain, seconds: float, rate: float = 5.0) -> list[Figure]:
    """Items arrive open loop at `rate`/s and go through the chain; for each, the time from sending its last
    approval until `/totals` shows a position at or after its `item.published` event."""
    import nats

    load = Load()
    n_items = int(seconds * rate)
    nc = await nats.connect(stack.nats_url, name="gongkai-bench-p2")
    js = nc.jetstream()
    samples: list[tuple[float, int]] = []  # (response time, position) of each /totals poll
    sent: dict[str, tuple[float, int]] = {}  # item → (recheck sent, seq of its item.published)
    answered: dict[str, float] = {}  # item → how long the recheck request took
    failures: list[str] = []
    stop = asyncio.Event()

    async def poller(c: httpx.AsyncClient) -> None:
        while not stop.is_set():
            t = await chain.totals(c, year=year_now(), org=ORG)
            samples.append((time.perf_counter(), t["position"]))
            await asyncio.sleep(0.01)

    async def arrival(c: httpx.AsyncClient, n: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        try:
            item = await chain.up_to_recheck(c, 100_000 + n)
            t_sent = time.perf_counter()
            await chain.recheck(c, item)
            answered[item] = time.perf_counter() - t_sent
            last = await js.get_last_msg("GONGKAI", f"gongkai.events.item.{item}")
            sent[item] = (t_sent, last.seq)
        except Exception as e:
            failures.append(f"{type(e).__name__}: {e}")

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200, keepalive_expiry=2)) as c, \
            httpx.AsyncClient(timeout=60, limits=KEEPALIVE) as pc:
        poll = asyncio.create_task(poller(pc))
        t0 = time.perf_counter()
        await asyncio.gather(*(arrival(c, i, t0 + i / rate) for i in range(n_items)))
        wanted = max((seq for _, seq in sent.values()), default=0)
        deadline = time.perf_counter() + 30
        while (not samples or samples[-1][1] < wanted) and time.perf_counter() < deadline:
            await asyncio.sleep(0.02)
        stop.set()
        await poll
    await nc.drain()

    latencies, lags, missing = [], [], 0
    for item, (t_sent, seq) in sent.items():
        seen = next((t for t, pos in samples if pos >= seq and t >= t_sent), None)
        if seen is None:
            missing += 1
        else:
            latencies.append(seen - t_sent)
            lags.append(max(0.0, seen - t_sent - answered[item]))
    polls = [b[0] - a[0] for a, b in itertools.pairwise(samples)]
    notes = [f"{len(sent)} of {n_items} items arriving at {rate:g}/s for {seconds:g} s, each create → submit → 初审 "
             f"→ 复核; from sending 复核 until a /totals poll shows its item.published: {ms_summary(latencies)}",
             f"of which the 复核 request (the update; its one step records the decision and publishes): "
             f"{ms_summary(list(answered.values()))}; its response → counted in /totals: {ms_summary(lags)}",
             f"one reader polls /totals back to back (10 ms pause): a poll every "
             f"{1000 * statistics.median(polls) if polls else 0:.0f} ms (median)", load.note()]
    if failures:
        notes.append(f"{len(failures)} arrivals failed; first: {failures[0][:200]}")
    if missing:
        notes.append(f"{missing} items never showed in /totals within 30 s")
    if not latencies:
        return [unmeasured("P2.visible_p50", "ms", "<300", "no item was seen"),
                unmeasured("P2.visible_p99", "ms", "<1000", "no item was seen")]
    ms = [x * 1000 for x in latencies]
    ok = not failures and not missing
    a = below("P2.visible_p50", statistics.median(ms), "ms", 300, notes, digits=0)
    b = below("P2.visible_p99", pct(ms, 99), "ms", 1000, digits=0)
    a.ok, b.ok = a.ok and ok, b.ok and ok
    return [a, b]


# ---- the synthetic city in the stack's log ----------------------------------------------------------------

def positions(stack: StackProcess) -> dict[str, int]:
    """Each projection's position, read from the services' SQLite files."""
    out = {}
    for svc, proj in projections():
        path = stack.data_dir / "db" / f"{svc}.sqlite"
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
                row = db.execute("select position from projection_position where name = ?", (proj.name,)).fetchone()
        except sqlite3.Error:
            row = None
        out[proj.name] = row[0] if row else 0
    return out


async def load_city(stack: StackProcess, n_events: int, timeout: float) -> tuple[int, list[str]]:
    """Publish the synthetic city into the stack's log and wait until every projection has folded it.
    Returns (the log's head, notes)."""
    import nats

    load = Load()
    t0 = time.perf_counter()
    # as the items service, the one writer of the log (gongkai/natsauth.py)
    n, pub_s = await synthetic.publish(stack.nats_url_as("items"), synthetic.city(n_events),
                                       inbox_prefix=natsauth.inbox_prefix("items"))
    nc = await nats.connect(stack.nats_url)
    head = (await nc.jetstream().stream_info("GONGKAI")).state.last_seq
    await nc.drain()
    say(f"published {n} synthetic events in {pub_s:.1f} s; waiting for the services to fold them")
    reached: dict[str, float] = {}
    while len(reached) < 4 and time.perf_counter() - t0 < timeout:
        for name, pos in positions(stack).items():
            if pos >= head and name not in reached:
                reached[name] = time.perf_counter() - t0
        await asyncio.sleep(0.25)
    notes = [f"the log: {head} events, of which {n} synthetic (100 orgs over the last two years), published "
             f"pipelined in {pub_s:.1f} s; the running services folded them "
             + ", ".join(f"{k} in {v:.0f} s" for k, v in sorted(reached.items(), key=lambda kv: kv[1])),
             load.note()]
    if len(reached) < 4:
        behind = {k: v for k, v in positions(stack).items() if k not in reached}
        notes.append(f"not caught up after {timeout:.0f} s: {behind} of {head}")
    return head, notes


# ---- P7 RSS -----------------------------------------------------------------------------------------------

def p7_rss(stack: StackProcess, n_events: int, load_notes: list[str], limit: float = 200.0) -> list[Figure]:
    figs = []
    for name in ("items", "reviews", "reports", "worker"):
        pid_file = stack.data_dir / "run" / f"{name}.pid"
        try:
            now, peak = rss_mb(int(pid_file.read_text()))
        except (OSError, ValueError, KeyError) as e:
            figs.append(unmeasured(f"P7.rss_{name}", "MB", f"<{limit:g}", f"no process: {e}"))
            continue
        figs.append(below(f"P7.rss_{name}", now, "MB", limit, [f"peak (VmHWM) {peak:.0f} MB"], digits=0))
    figs[0].notes += [f"after {n_events} synthetic events (and the P1/P2 items) folded by the running services",
                      *load_notes]
    return figs


# ---- P5 (the city over HTTP) ------------------------------------------------------------------------------

async def p5_city(chain: Chain, orgs: list[str], year: int, limit: float = 10.0, budget: float = 90.0) -> list[Figure]:
    """Every org's report, one after the other; stopped after `budget` seconds (then short, with how far it got)."""
    load = Load()
    each: list[float] = []
    sizes: list[int] = []
    async with httpx.AsyncClient(timeout=120) as c:
        t0 = time.perf_counter()
        for org in orgs:
            if time.perf_counter() - t0 > budget:
                break
            t = time.perf_counter()
            r = await c.get(f"{chain.reports}/reports/{year}", headers=chain.auth["viewer"],
                            params={"org": org, "template": "2021", "format": "docx"})
            if r.status_code != 200 or not r.content.startswith(b"PK"):
                raise RuntimeError(f"report of {org}: HTTP {r.status_code} {r.text[:200]}")
            each.append(time.perf_counter() - t)
            sizes.append(len(r.content))
        total = time.perf_counter() - t0
    notes = [f"{len(each)} orgs' {year} reports (2021 layout, DOCX) over HTTP one after the other; each "
             f"{ms_summary(each)}; {statistics.mean(sizes) / 1024:.0f} KB each", load.note()]
    if len(each) < len(orgs):
        notes.insert(0, f"stopped after {budget:g} s with {len(each)} of {len(orgs)} reports done")
        fig = Figure("P5.report_city_docx", total, "s", f"<{limit:g}", False, notes, 2)
        fig.value = total * len(orgs) / len(each)  # the time all would take at this pace
        fig.notes.insert(1, f"the value is extrapolated from {len(each)} reports in {total:.1f} s")
        return [fig]
    return [below("P5.report_city_docx", total, "s", limit, notes, digits=2)]


# ---- P6 ---------------------------------------------------------------------------------------------------

async def p6(chain: Chain, orgs: list[str], seconds: float, readers: int = 50, limit: float = 50.0) -> list[Figure]:
    """`readers` dashboards, each reading `/totals` once a second (as the dashboard refreshes): most for an
    org of the city, five for the whole city."""
    load = Load()
    latencies: list[float] = []
    errors: list[str] = []
    year = year_now()

    async def reader(i: int, c: httpx.AsyncClient) -> None:
        params = {"year": year} if i < 5 else {"year": year, "org": orgs[i % len(orgs)]}
        await asyncio.sleep(i / readers)  # spread over the second, as independent dashboards are
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                await chain.totals(c, **params)
                latencies.append(time.perf_counter() - t)
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - t)))

    async with httpx.AsyncClient(timeout=60) as c:  # warm the service's caches and connections
        for params in ({"year": year}, {"year": year, "org": orgs[0]}):
            await chain.totals(c, **params)
    clients = [httpx.AsyncClient(timeout=60, limits=KEEPALIVE) for _ in range(readers)]
    try:
        await asyncio.gather(*(reader(i, c) for i, c in enumerate(clients)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    if not latencies:
        return [unmeasured("P6.totals_p99", "ms", f"<{limit:g}", f"no request succeeded: {errors[:1]}")]
    notes = [f"{readers} readers each GET /totals once a second for {seconds:g} s (5 city-wide, the rest one org "
             f"each): {ms_summary(latencies)}, {len(latencies) / seconds:.0f} requests/s", load.note()]
    if errors:
        notes.append(f"{len(errors)} requests failed; first: {errors[0][:200]}")
    fig = below("P6.totals_p99", pct(latencies, 99) * 1000, "ms", limit, notes, digits=0)
    fig.ok = fig.ok and not errors
    return [fig]


# ---- P4 ---------------------------------------------------------------------------------------------------

def table_digests(data_dir: Path) -> dict[str, tuple[int, str]]:
    """(rows, sha256 of the sorted rows) of every projection table and of the positions, per database file."""
    out = {}
    for svc, proj in projections():
        path = data_dir / "db" / f"{svc}.sqlite"
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            for table in proj.tables:
                name = table.__tablename__
                rows = sorted(repr(r) for r in db.execute(f'select * from "{name}"'))
                out[f"{svc}:{name}"] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
            pos = db.execute("select position from projection_position where name = ?", (proj.name,)).fetchone()
            out[f"{svc}:position:{proj.name}"] = (1, str(pos[0] if pos else None))
    return out


def p4(stack: StackProcess, head: int, fold_rates: dict[str, float], full_events: int = 1_000_000,
       full_limit: float = 60.0) -> list[Figure]:
    """`gongkai replay` on the stopped stack's data: a NATS server on its store, the CLI as a user runs it."""
    load = Load()
    limit = full_limit * head / full_events
    before = table_digests(stack.data_dir)
    port = free_port()
    # the stack's NATS server alone, as `gongkai up` starts it (gongkai/launcher.py): its configuration (the
    # users of gongkai/natsauth.py, their passwords from the environment) and its store
    users = json.loads((stack.data_dir / "keys" / "nats-users.json").read_text())
    conf = [str(stack.data_dir / "nats.conf")] if (stack.data_dir / "nats.conf").exists() else []
    nats_proc = subprocess.Popen([str(BIN / "nats-server"), *(["-c", *conf] if conf else []), "-js", "-a",
                                  "127.0.0.1", "-p", str(port), "-sd", str(stack.data_dir / "nats"), "-n", "gongkai"],
                                 env={**os.environ, **{f"NATS_{u.upper()}_PASSWORD": pw for u, pw in users.items()}},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_tcp(port)
        env = {**stack.env, "GONGKAI_NATS_PORT": str(port)}
        out_path, err_path = stack.data_dir.parent / "replay.out", stack.data_dir.parent / "replay.err"
        t0 = time.perf_counter()
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen([str(BIN / "gongkai"), "replay", "--data-dir", str(stack.data_dir)], env=env,
                                    cwd=ROOT, stdout=out, stderr=err, text=True)
            peak = 0.0
            while proc.poll() is None and time.perf_counter() - t0 < 3600:
                with contextlib.suppress(OSError, KeyError, ValueError):
                    peak = max(peak, rss_mb(proc.pid)[1])
                time.sleep(0.2)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        elapsed = time.perf_counter() - t0
        run = subprocess.CompletedProcess(proc.args, proc.returncode, out_path.read_text(), err_path.read_text())
    finally:
        nats_proc.terminate()
        nats_proc.wait(10)
    if run.returncode != 0:
        why = f"gongkai replay exited {run.returncode} after {elapsed:.0f} s: " + " ".join(
            (run.stderr or run.stdout).split())[-300:]
        figs = [unmeasured("P4.replay_s", "s", f"<{limit:.1f}", why),
                unmeasured("P4.replay_identical", "tables", f"={len(before)}", why)]
        if fold_rates:
            figs[0].notes.append(f"at P3's SQLite fold rates a replay of {head} events would take about "
                                 f"{sum(head / r for r in fold_rates.values()):.0f} s (four projections one after "
                                 f"the other)")
        return figs
    after = table_digests(stack.data_dir)
    same = [k for k in before if before[k] == after.get(k)]
    differ = [f"{k}: {before[k][0]} rows before, {after.get(k, (0,))[0]} after" for k in before if k not in same]
    per = [f"{m.group(1)} {int(m.group(2)) / float(m.group(3)):,.0f} ev/s"
           for m in re.finditer(r"^(\S+): rebuilt to position (\d+) in ([\d.]+) s", run.stdout, re.M)
           if float(m.group(3)) > 0]
    notes = [f"`gongkai replay` of {head} events (all 4 projections in one pass over the log, SQLite): {elapsed:.1f} s wall, "
             f"target pro rata {full_limit:g} s per {full_events:,}; " + "; ".join(per),
             f"the replay process's peak RSS {peak:.0f} MB", load.note()]
    figs = [below("P4.replay_s", elapsed, "s", limit, notes, digits=1),
            Figure("P4.replay_identical", len(same), "tables", f"={len(before)}", not differ,
                   [f"row count and sha256 of every projection table and position, as the running services had "
                    f"folded them and after the replay: {len(same)} of {len(before)} identical"]
                   + [f"differs: {d}" for d in differ], 0)]
    return figs


# ---- the whole stack phase --------------------------------------------------------------------------------

async def run(quick: bool, emit, fold_rates: dict | None = None, chain_only: bool = False) -> None:
    """Measure and `emit` P7.up, P1, P2, P5.city, P6, P7.rss, P4 in that order (`chain_only`: up to P2)."""
    n_city = 100_000 if quick else 1_000_000
    base = Path(tempfile.mkdtemp(prefix="gongkai-bench-"))
    pending = ["P7.up_ready_s", "P1.chain_items_per_s", "P2.visible_p50", "P2.visible_p99", "P7.rss_items",
               "P7.rss_reviews", "P7.rss_reports", "P7.rss_worker", "P5.report_city_docx", "P6.totals_p99",
               "P4.replay_s", "P4.replay_identical"]
    if chain_only:  # to iterate on the review chain without the city load, reports and replay
        pending = pending[:4]
    targets = {"P7.up_ready_s": ("s", "<20"), "P1.chain_items_per_s": ("items/s", ">=0.5*ceiling"),
               "P2.visible_p50": ("ms", "<300"), "P2.visible_p99": ("ms", "<1000"),
               "P5.report_city_docx": ("s", "<10"), "P6.totals_p99": ("ms", "<50"), "P4.replay_s": ("s", "<60*N/1e6"),
               "P4.replay_identical": ("tables", "=all")}

    head = 0
    rss: list[Figure] = []

    def out(figs: list[Figure]) -> None:
        for f in figs:
            if f.name in pending:
                pending.remove(f.name)
            emit(f)

    started = False
    try:
        failed_starts = []
        for attempt in range(2):  # a start that fails is reported; the second attempt gets a fresh data dir
            stack = StackProcess(base / f"data{attempt or ''}")
            say(f"starting `gongkai up` in {stack.data_dir}")
            t0 = time.perf_counter()
            try:
                stack.start(timeout=120)
                break
            except (RuntimeError, TimeoutError) as e:
                failed_starts.append(reason(e))
                say(f"`gongkai up` failed: {failed_starts[-1]}")
                stack.stop()
                if attempt:
                    raise
        started = True
        wall = time.perf_counter() - t0
        log = (base / f"{stack.data_dir.name}-up.log").read_text(errors="ignore")
        own = re.search(r"gongkai is up in ([\d.]+) s", log)
        up = below("P7.up_ready_s", wall, "s", 20, [
            f"wall time from spawning `gongkai up` (fresh data dir) until it printed that it is ready, polled every "
            f"0.2 s; it says itself: up in {own.group(1) if own else '?'} s"], digits=1)
        if failed_starts:
            up.ok = False
            up.notes.append(f"the first start failed (measured the second): {failed_starts[0]}")
        out([up])

        roles = {"author": "bench.author", "officer": "bench.officer", "section_head": "bench.head",
                 "viewer": "bench.viewer"}
        tokens = {role: stack.token(user, ORG, role) for role, user in roles.items()}
        chain = Chain(stack, tokens)

        say("P1: the bare-workflow ceiling, then the chain")
        concurrency = 20
        out(await p1(stack, chain, 150 if quick else 600, concurrency, 200 if quick else 600))
        say("P2: open-loop arrivals at 5/s")
        out(await p2(stack, chain, 15 if quick else 60))
        if not chain_only:
            say(f"loading {n_city} synthetic events into the stack's log")
            head, load_notes = await load_city(stack, n_city, timeout=600 if quick else 3600)
            rss = p7_rss(stack, n_city, load_notes)  # printed after P6, with the RSS then

            city = synthetic.org_ids(100)
            say("P5: every org's report as DOCX over HTTP")
            out(await p5_city(chain, city, year_now() - 1))
            say("P6: /totals with 50 readers")
            out(await p6(chain, city, 10 if quick else 30))
            for fig in rss:
                name = fig.name.removeprefix("P7.rss_")
                with contextlib.suppress(OSError, ValueError, KeyError):
                    now, peak = rss_mb(int((stack.data_dir / "run" / f"{name}.pid").read_text()))
                    fig.notes.insert(1, f"later, after the P5 reports and the P6 readers: {now:.0f} MB "
                                        f"(peak {peak:.0f})")
            out(rss)
    except Exception as e:
        why = reason(e)
        say(f"stack phase failed: {why}")
        out(rss)
        for name in [p for p in pending if (started and not p.startswith("P4")) or not started]:
            unit, target = targets.get(name, ("MB", "<200"))
            emit(unmeasured(name, unit, target, why if started else f"`gongkai up` did not start: {why}"))
            pending.remove(name)
    finally:
        say("stopping the stack")
        stack.stop()
    try:
        if "P4.replay_s" in pending:
            say("P4: `gongkai replay` on the stopped stack's data")
            out(p4(stack, head or _head_of(stack), fold_rates or {}))
    except Exception as e:
        for name in list(pending):
            unit, target = targets[name]
            emit(unmeasured(name, unit, target, reason(e)))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _head_of(stack: StackProcess) -> int:
    return max(positions(stack).values(), default=0)
