"""Benchmark of the spine: an item's way through the review chain until the dashboard totals show it.

What it measures, on a stack of its own (`gongkai up` in a fresh temporary data dir, every port moved to a
free one, so nothing else on the machine is touched):

1. up ready    wall time from starting `gongkai up` until it prints "gongkai is up in …"
               (and the time `up` reports itself, which leaves out its own interpreter start).
2. latency     items one at a time: create → submit → approve `initial`, then the time from sending the
               `recheck` approval until `GET /totals` (reports service) shows proactive.total one higher,
               polled every 5 ms; also the latency of each request on the way (create, submit, both
               decisions) and the part after the decision's response (projection lag); then the last
               item's publishing-workflow history from Temporal, on the same clock as the requests, to show
               where a decision's time goes (workflow tasks, the record_decision and publish activities).
3. throughput  C concurrent clients (asyncio + httpx.AsyncClient) push M items in total through the whole
               chain; items/s from the first request to the last `recheck` response, per-step latencies
               under load, and whether `/totals` grew by exactly M (and how long it took to get there).
   After phases 2 and 3: CPU seconds each component of the stack used (from /proc), this script's own,
   and how busy the whole machine was (other work on the machine skews every figure; this shows how much).
4. down        SIGINT to the stack's process group, time until `gongkai up` has exited, and whether any
               process of the group was left over.

It prints figures and asserts nothing; it stops the stack and removes the data dir even when it fails.

Run (from the repository root):

    .venv/bin/python bench/spine.py                      # 200 latency items, 300 items with 20 clients
    .venv/bin/python bench/spine.py --items 50 --throughput-items 100 --clients 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: `python bench/spine.py`
from bench.common import pct  # noqa: E402

GONGKAI = str(Path(sys.executable).parent / "gongkai")  # the console script of the venv running this file
PORT_SETTINGS = ("NATS", "TEMPORAL", "ITEMS", "REVIEWS", "REPORTS", "DASHBOARD")
DEFAULT_PORTS = {4222, 7233, 8001, 8002, 8003, 8501}
ORG = "bench-org"
USERS = {  # role → user; one person per role, so that nobody decides on their own item or twice
    "author": "bench.author",
    "officer": "bench.officer",
    "section_head": "bench.section-head",
    "viewer": "bench.viewer",
}
CATEGORIES = ["meetings", "department_updates", "regulations_documents", "plans"]
POLL_S = 0.005
UP_TIMEOUT_S = 180.0


# ---- figures ----------------------------------------------------------------------------------------------

def summary(values_s: list[float]) -> str:
    if not values_s:
        return "no samples"
    ms = [v * 1000 for v in values_s]
    return (f"median {statistics.median(ms):7.1f} ms   p99 {pct(ms, 99):7.1f} ms   "
            f"min {min(ms):6.1f}   max {max(ms):7.1f}   (n={len(ms)})")


def shanghai_year() -> int:
    return datetime.now(ZoneInfo("Asia/Shanghai")).year


# ---- the stack --------------------------------------------------------------------------------------------

def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (held open together while choosing, so they differ)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            port = s.getsockname()[1]
            if port not in DEFAULT_PORTS:
                ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports


def component_name(argv: list[str]) -> str:
    text = " ".join(argv)
    for needle, name in (("nats-server", "nats"), ("temporal", "temporal"), ("gongkai.serve items", "items"),
                         ("gongkai.serve reviews", "reviews"), ("gongkai.serve reports", "reports"),
                         ("workflows.worker", "worker"), ("streamlit", "dashboard"), (" up ", "launcher")):
        if needle in text:
            return name
    return Path(argv[0]).name if argv else "?"


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / tick, sum(ticks) / tick


def cpu_snapshot(stack: OwnStack) -> dict:
    return {"stack": stack.cpu_seconds(), "bench": sum(os.times()[:2]), "machine": machine_cpu(),
            "wall": time.perf_counter()}


def cpu_report(before: dict, after: dict) -> str:
    """Where the CPU went between two snapshots: each component, this script, and the whole machine."""
    wall = after["wall"] - before["wall"]
    used = {k: v - before["stack"].get(k, 0.0) for k, v in after["stack"].items()}
    used["bench client"] = after["bench"] - before["bench"]
    parts = [f"{k} {v:.1f} s ({100 * v / wall:.0f}%)" for k, v in sorted(used.items(), key=lambda kv: -kv[1])
             if v >= 0.05]
    busy = after["machine"][0] - before["machine"][0]
    total = after["machine"][1] - before["machine"][1]
    return (f"  CPU over {wall:.1f} s (100% = one core): " + ", ".join(parts)
            + f"\n  machine: {100 * busy / max(total, 1e-9):.0f}% of {os.cpu_count()} cores busy "
              f"({busy:.1f} of {total:.1f} core-seconds; includes anything else running here)")


class OwnStack:
    """`gongkai up` on a temporary data dir and free ports, in its own process group."""

    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="gongkai-bench-"))
        self.ports = dict(zip(PORT_SETTINGS, free_ports(len(PORT_SETTINGS)), strict=True))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GONGKAI_")}  # no external servers
        self.env.update({f"GONGKAI_{name}_PORT": str(port) for name, port in self.ports.items()})
        self.env["PYTHONUNBUFFERED"] = "1"
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []
        self.up_line_at: float | None = None
        self._up = threading.Event()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service.upper()]}"

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            if "gongkai is up in" in line and not self._up.is_set():
                self.up_line_at = time.perf_counter()
                self._up.set()
            self.output.append(line.rstrip("\n"))

    def start(self) -> tuple[float, str]:
        """Start `gongkai up`; returns (wall seconds until it printed that it is up, its own line)."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([GONGKAI, "up", "--data-dir", str(self.data_dir)], env=self.env, cwd=ROOT,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = t0 + UP_TIMEOUT_S
        while not self._up.wait(0.05):
            if self.proc.poll() is not None or time.perf_counter() > deadline:
                time.sleep(0.2)  # let the reader catch the last lines
                raise RuntimeError(f"gongkai up did not come up (exit code {self.proc.poll()}):\n"
                                   + "\n".join(self.output[-30:]))
        line = next(x for x in self.output if "gongkai is up in" in x) if self.output else ""
        return self.up_line_at - t0, line.strip()

    def token(self, role: str) -> str:
        out = subprocess.run([GONGKAI, "token", "--data-dir", str(self.data_dir), "--user", USERS[role],
                              "--org", ORG, "--role", role], env=self.env, cwd=ROOT, capture_output=True,
                             text=True, check=True)
        return out.stdout.strip()

    def log_problems(self) -> dict[str, int]:
        """Lines that look like errors in each component's log (read before the data dir goes)."""
        found = {}
        for log in sorted((self.data_dir / "logs").glob("*.log")):
            text = log.read_text(errors="ignore")
            n = sum(1 for x in text.splitlines() if any(w in x for w in ("Traceback", "ERROR", "Error:", "panic")))
            if n:
                found[log.stem] = n
        return found

    def stop(self) -> tuple[float | None, str]:
        """SIGINT to the process group; returns (seconds until `up` exited, what happened to the group).

        Falls back to SIGTERM (which `up` also turns into a clean stop), then SIGKILL of the group."""
        note, took = "", None
        if self.proc is not None:
            pgid = self.proc.pid  # start_new_session: the launcher leads its own group
            t0 = time.perf_counter()
            for sig, wait_s in ((signal.SIGINT, 30), (signal.SIGTERM, 15), (signal.SIGKILL, 10)):
                if self.proc.poll() is not None:
                    break
                if sig != signal.SIGINT:
                    note += f"`up` had not exited {time.perf_counter() - t0:.0f} s after SIGINT; sent {sig.name}. "
                with contextlib.suppress(ProcessLookupError):
                    if sig == signal.SIGTERM:
                        os.kill(pgid, sig)  # to the launcher only: it stops its components in order
                    else:
                        os.killpg(pgid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=wait_s)
            if self.proc.poll() is not None and not note:
                took = time.perf_counter() - t0
            # the launcher has exited; its children must have, too
            deadline = time.monotonic() + 2
            while self._group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._group_alive(pgid):
                note += "processes of the stack were still running 2 s after `up` exited; killed them."
                self._kill_group(pgid)
            else:
                note += "no process of the stack left over."
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return took, note

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each component of the stack has used so far, from /proc."""
        out: dict[str, float] = {}
        if self.proc is None:
            return out
        tick = os.sysconf("SC_CLK_TCK")
        # each component runs in a process group of its own; the launcher lists them in DATA_DIR/run/*.pid
        groups = {self.proc.pid}
        for pid_file in (self.data_dir / "run").glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                groups.add(int(pid_file.read_text()))
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text()
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
            if int(fields[2]) not in groups:  # process group
                continue
            name = component_name([a.decode(errors="ignore") for a in cmd if a])
            out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
        return out

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    @staticmethod
    def _kill_group(pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


# ---- the chain over HTTP ----------------------------------------------------------------------------------

class Api:
    """URLs and headers of the three services for the bench's users."""

    def __init__(self, stack: OwnStack, tokens: dict[str, str]):
        self.items, self.reviews, self.reports = stack.url("items"), stack.url("reviews"), stack.url("reports")
        self.auth = {role: {"Authorization": f"Bearer {tok}"} for role, tok in tokens.items()}
        self.year = shanghai_year()

    def new_item(self, n: int) -> dict:
        return {"kind": "proactive", "category": CATEGORIES[n % len(CATEGORIES)],
                "title": f"压力测试信息 第{n}条", "body": "基准测试正文。" * 20, "formed_on": date.today().isoformat()}

    def totals_params(self) -> dict:
        return {"year": self.year, "org": ORG}


def check(r: httpx.Response, what: str) -> httpx.Response:
    if r.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {r.status_code} {r.text[:300]}")
    return r


def latency_phase(api: Api, n_items: int, warmup: int) -> dict:
    """Items one at a time; the figure is decision sent → visible in /totals. Returns the last item's id
    and the wall-clock times of its decisions, for `decision_timeline`."""
    last: dict = {}
    steps = {k: [] for k in ("create", "submit", "initial", "recheck", "visible", "lag", "polls", "totals")}
    with httpx.Client(timeout=60) as c:
        def proactive_total() -> int:
            t = time.perf_counter()
            r = check(c.get(f"{api.reports}/totals", params=api.totals_params(), headers=api.auth["viewer"]),
                      "GET /totals")
            steps["totals"].append(time.perf_counter() - t)
            return r.json()["proactive"]["total"]

        def one(n: int) -> dict[str, float]:
            t = time.perf_counter()
            item = check(c.post(f"{api.items}/items", json=api.new_item(n), headers=api.auth["author"]),
                         "create").json()
            t_create = time.perf_counter() - t
            t = time.perf_counter()
            check(c.post(f"{api.items}/items/{item['id']}/submit", headers=api.auth["author"]), "submit")
            t_submit = time.perf_counter() - t
            last.update(id=item["id"], initial_sent=time.time())
            t = time.perf_counter()
            check(c.post(f"{api.reviews}/items/{item['id']}/decisions", headers=api.auth["officer"],
                         json={"stage": "initial", "outcome": "approve"}), "initial approval")
            t_initial = time.perf_counter() - t
            before = proactive_total()
            last["recheck_sent"], t0 = time.time(), time.perf_counter()
            check(c.post(f"{api.reviews}/items/{item['id']}/decisions", headers=api.auth["section_head"],
                         json={"stage": "recheck", "outcome": "approve"}), "recheck approval")
            last["recheck_answered"], t1 = time.time(), time.perf_counter()
            polls = 0
            while True:
                polls += 1
                if proactive_total() >= before + 1:
                    break
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"item {item['id']} not in /totals 30 s after its last approval")
                time.sleep(POLL_S)
            t2 = time.perf_counter()
            return {"create": t_create, "submit": t_submit, "initial": t_initial, "recheck": t1 - t0,
                    "visible": t2 - t0, "lag": t2 - t1, "polls": polls}

        first = []
        for i in range(warmup):
            first.append(one(-1 - i))
        steps["totals"].clear()  # count the GET /totals of measured items only
        for i in range(n_items):
            for k, v in one(i).items():
                steps[k].append(v)
    print(f"\n== latency: {n_items} items one at a time (after {warmup} warm-up items) ==")
    if first:
        print("  warm-up item 1: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in first[0].items()
                                               if k != "polls"))
    print(f"  recheck sent → visible in /totals  {summary(steps['visible'])}")
    print(f"  recheck request (POST decisions)   {summary(steps['recheck'])}")
    print(f"  recheck response → visible         {summary(steps['lag'])}")
    print(f"  initial request (POST decisions)   {summary(steps['initial'])}")
    print(f"  create (POST /items)               {summary(steps['create'])}")
    print(f"  submit (POST /items/{{id}}/submit)   {summary(steps['submit'])}")
    print(f"  GET /totals request                {summary(steps['totals'])}")
    print(f"  GET /totals polls per item: median {statistics.median(steps['polls']):.0f}, "
          f"max {max(steps['polls'])}")
    return last


async def decision_timeline(stack: OwnStack, last: dict) -> None:
    """Where a decision's time goes: the publishing workflow's history of the last latency item, from
    Temporal, on the same clock as the requests (one machine)."""
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client

    client = await Client.connect(f"127.0.0.1:{stack.ports['TEMPORAL']}")
    handle = client.get_workflow_handle(f"review-item-{last['id']}-1")
    marks = [(last["initial_sent"], "client: POST decisions initial sent"),
             (last["recheck_sent"], "client: POST decisions recheck sent"),
             (last["recheck_answered"], "client: recheck answered")]
    async for ev in handle.fetch_history_events():
        name = EventType.Name(ev.event_type).removeprefix("EVENT_TYPE_")
        if ev.HasField("activity_task_scheduled_event_attributes"):
            name += f" ({ev.activity_task_scheduled_event_attributes.activity_type.name})"
        marks.append((ev.event_time.ToNanoseconds() / 1e9, f"temporal: {name}"))
    marks.sort()
    t0 = last["initial_sent"]
    print("\n  the last item's decisions, from its publishing workflow's history (ms after `initial` was sent;"
          " in brackets: since the line before):")
    prev = t0
    for when, what in marks:
        print(f"    {1000 * (when - t0):8.1f}  (+{1000 * max(0.0, when - prev):5.1f})  {what}")
        prev = when


async def throughput_phase(api: Api, n_items: int, n_clients: int) -> None:
    """n_clients concurrent clients, each taking the next item number until n_items have been started."""
    steps = {k: [] for k in ("create", "submit", "initial", "recheck", "chain")}
    failures: list[str] = []
    next_n = iter(range(n_items))
    done = 0

    async with httpx.AsyncClient(timeout=60) as c:
        r = check(await c.get(f"{api.reports}/totals", params=api.totals_params(), headers=api.auth["viewer"]),
                  "GET /totals")
        before = r.json()["proactive"]["total"]

    async def client(c: httpx.AsyncClient) -> None:
        nonlocal done

        async def timed(step: str, method: str, url: str, role: str, **kw) -> httpx.Response:
            t = time.perf_counter()
            r = check(await c.request(method, url, headers=api.auth[role], **kw), step)
            steps[step].append(time.perf_counter() - t)
            return r

        for n in next_n:
            t = time.perf_counter()
            try:
                item = (await timed("create", "POST", f"{api.items}/items", "author", json=api.new_item(n))).json()
                await timed("submit", "POST", f"{api.items}/items/{item['id']}/submit", "author")
                for stage, role in (("initial", "officer"), ("recheck", "section_head")):
                    await timed(stage, "POST", f"{api.reviews}/items/{item['id']}/decisions", role,
                                json={"stage": stage, "outcome": "approve"})
            except (RuntimeError, httpx.HTTPError) as e:
                failures.append(f"{type(e).__name__}: {e}")
                continue
            steps["chain"].append(time.perf_counter() - t)
            done += 1

    # the clients exist before the clock starts: making an httpx client costs tens of ms of CPU (SSL context)
    clients = [httpx.AsyncClient(timeout=60) for _ in range(n_clients)]
    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for c in clients))
        elapsed = time.perf_counter() - t0
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))

    # wait for the totals to catch up with the last publication, then compare
    async with httpx.AsyncClient(timeout=60) as c:
        t1 = time.perf_counter()
        while True:
            r = check(await c.get(f"{api.reports}/totals", params=api.totals_params(),
                                  headers=api.auth["viewer"]), "GET /totals")
            after = r.json()["proactive"]["total"]
            if after - before >= done or time.perf_counter() - t1 > 30:
                break
            await asyncio.sleep(POLL_S)
        settle = time.perf_counter() - t1
        await asyncio.sleep(1.0)  # and a second later, to see that nothing more arrives
        r = check(await c.get(f"{api.reports}/totals", params=api.totals_params(), headers=api.auth["viewer"]),
                  "GET /totals")
        final = r.json()

    grew = final["proactive"]["total"] - before
    print(f"\n== throughput: {n_items} items through the full chain, {n_clients} concurrent clients ==")
    print(f"  {done} items published in {elapsed:.2f} s → {done / elapsed:.1f} items/s "
          f"({4 * done / elapsed:.0f} chain requests/s)")
    print(f"  /totals proactive.total grew by {grew} (expected exactly {n_items}: "
          f"{'OK' if grew == n_items else 'MISMATCH'}); caught up {settle * 1000:.0f} ms after the last response; "
          f"in_review now {final['in_review']}")
    if failures:
        print(f"  {len(failures)} items failed; first: {failures[0]}")
    print(f"  whole chain per item (4 requests)  {summary(steps['chain'])}")
    for step in ("create", "submit", "initial", "recheck"):
        print(f"  {step:<8} under load               {summary(steps[step])}")


# ---- main -------------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=200, help="items for the one-at-a-time latency run")
    ap.add_argument("--warmup", type=int, default=3, help="items sent through first and not counted")
    ap.add_argument("--throughput-items", type=int, default=300, help="items in total for the throughput run")
    ap.add_argument("--clients", type=int, default=20, help="concurrent clients for the throughput run")
    args = ap.parse_args()

    # a SIGTERM to the bench must still stop the stack
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # started in the background by a non-interactive shell, this process (and so the stack) would ignore
    # SIGINT; a Python handler here is reset to the default in the children, so `up` handles Ctrl-C again
    signal.signal(signal.SIGINT, signal.default_int_handler)
    stack = OwnStack()
    print(f"bench: data dir {stack.data_dir}; ports " + ", ".join(f"{k.lower()} {v}" for k, v in stack.ports.items()),
          flush=True)
    problems: dict[str, int] = {}
    try:
        wall, line = stack.start()
        print(f"\n== up ==\n  up ready: {wall:.2f} s wall from spawning `gongkai up` (it says: \"{line}\")",
              flush=True)
        t = time.perf_counter()
        tokens = {role: stack.token(role) for role in USERS}
        print(f"  4 tokens via `gongkai token` in {time.perf_counter() - t:.2f} s", flush=True)
        api = Api(stack, tokens)
        cpu = cpu_snapshot(stack)
        last = latency_phase(api, args.items, args.warmup)
        print(cpu_report(cpu, cpu_snapshot(stack)), flush=True)
        asyncio.run(decision_timeline(stack, last))
        cpu = cpu_snapshot(stack)
        asyncio.run(throughput_phase(api, args.throughput_items, args.clients))
        print(cpu_report(cpu, cpu_snapshot(stack)), flush=True)
        problems = stack.log_problems()
    finally:
        if not problems and stack.data_dir.exists() and stack.proc is not None:
            problems = stack.log_problems()
        took, note = stack.stop()
        print("\n== down ==")
        print(f"  SIGINT → `gongkai up` exited in {took:.2f} s; {note}" if took is not None else f"  {note}")
        if problems:
            print("  lines that look like errors in the component logs: "
                  + ", ".join(f"{k} {v}" for k, v in problems.items()))
        print(f"  removed {stack.data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
