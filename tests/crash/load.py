"""A load driver for crash tests: client threads move items through the review chain as real clients do
(retrying, with backoff, whatever fails because a component is down) and keep the ground truth of what the
system accepted; and the means to SIGKILL one component of a running `gongkai up` and time its restart."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from tests.servers import StackProcess

CATEGORIES = ("meetings", "plans", "department_updates", "major_decisions")

#: what the driver does with an item, by its number: most go all the way, some stop on the way so that the
#: end of the test finds reviews still open (and a few are rejected or stay drafts)
PLANS = ["draft", "reject", "submitted", "submitted", "initial", "initial"] + ["publish"] * 14

#: a step of one item gives up after this long (the whole stack's restart takes ~30 s on two cores)
STEP_DEADLINE = 240.0


class StepFailed(Exception):
    pass


@dataclass
class LoadItem:
    n: int
    key: str  # the Idempotency-Key of its create; also in its title, so drafts can be counted per key
    title: str
    category: str
    plan: str
    author: str
    id: str | None = None
    reached: str = "none"  # none, accepted, submitted, initial, approved, rejected
    lost_responses: list[str] = field(default_factory=list)  # steps that succeeded although we saw no answer
    failure: str | None = None


class Load:
    """`n` items moved through the chain by `clients` threads; `allow(k)` lets the first k items start."""

    def __init__(self, stack: StackProcess, org: str, n: int, clients: int, run: str):
        self.stack, self.org, self.n, self.clients = stack, org, n, clients
        self.authors = [f"author{i}" for i in range(4)]
        self.items = [LoadItem(i, f"{run}-{i}", f"压力测试 {run}-{i}", CATEGORIES[i % len(CATEGORIES)],
                               PLANS[i % len(PLANS)], self.authors[i % len(self.authors)]) for i in range(n)]
        people = ([(a, "author") for a in self.authors] + [(f"officer{i}", "officer") for i in range(4)]
                  + [(f"head{i}", "section_head") for i in range(4)] + [("viewer", "viewer")])
        with ThreadPoolExecutor(4) as pool:  # each token is a `gongkai token` process
            minted = pool.map(lambda p: stack.token(p[0], org, p[1]), people)
            self.tokens = {user: {"Authorization": f"Bearer {tok}"} for (user, _), tok in zip(people, minted,
                                                                                                strict=True)}
        self._cv = threading.Condition()
        self._allowed = 0
        self._next = 0
        self._lock = threading.Lock()
        self.retries: Counter[str] = Counter()  # why requests were retried, e.g. "create ConnectError"
        self.successes: list[float] = []  # monotonic time of every step that succeeded
        self.threads: list[threading.Thread] = []
        self.started_at = self.finished_at = None
        self.stopping = False  # set when the test ends early: the clients give up instead of retrying

    def clock(self) -> float:
        """Seconds since the load started."""
        return time.monotonic() - (self.started_at or time.monotonic())

    # ------------------------------------------------------------------------------------------- running

    @property
    def started(self) -> int:
        return self._next

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i.reached != "none" and self._finished(i))

    @staticmethod
    def _finished(i: LoadItem) -> bool:
        return i.failure is not None or {"draft": "accepted", "reject": "rejected", "submitted": "submitted",
                                         "initial": "initial", "publish": "approved"}[i.plan] == i.reached

    def allow(self, k: int) -> None:
        with self._cv:
            self._allowed = max(self._allowed, min(k, self.n))
            self._cv.notify_all()

    def start(self) -> None:
        self.started_at = time.monotonic()
        for c in range(self.clients):
            t = threading.Thread(target=self._client, args=(c,), name=f"load-{c}", daemon=True)
            t.start()
            self.threads.append(t)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        if any(t.is_alive() for t in self.threads):
            raise TimeoutError(f"the load did not finish in {timeout:.0f} s: {self.done}/{self.n} items done")
        self.finished_at = time.monotonic()

    def wait_started(self, k: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self._next < min(k, self.n) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _take(self) -> LoadItem | None:
        with self._cv:
            while self._next >= self._allowed:
                if self._next >= self.n:
                    return None
                self._cv.wait(0.5)
            item = self.items[self._next]
            self._next += 1
            return item

    def _client(self, c: int) -> None:
        http = httpx.Client(timeout=30)
        officer, head = f"officer{c % 4}", f"head{c % 4}"
        try:
            while (item := self._take()) is not None:
                try:
                    self.run_item(http, item, officer, head)
                except StepFailed as e:
                    item.failure = str(e)
                except Exception as e:
                    item.failure = f"driver error: {e!r}"
        finally:
            http.close()

    def run_item(self, http: httpx.Client, item: LoadItem, officer: str, head: str,
                 until: str | None = None) -> None:
        """Move the item on from where it is to where its plan (or `until`) ends."""
        goal = until or {"draft": "accepted", "reject": "rejected", "submitted": "submitted", "initial": "initial",
                         "publish": "approved"}[item.plan]
        if item.reached == "none":
            self.create(http, item)
        if goal == "accepted":
            return
        if item.reached == "accepted":
            self.submit(http, item)
        if goal == "submitted":
            return
        if item.reached == "submitted":
            outcome = "reject" if goal == "rejected" else "approve"
            self.decide(http, item, officer, "initial", outcome)
        if goal in ("initial", "rejected"):
            return
        if item.reached == "initial":
            self.decide(http, item, head, "recheck", "approve")

    # ------------------------------------------------------------------------------------------- requests

    def url(self, service: str, path: str) -> str:
        return f"{self.stack.url(service)}{path}"

    def call(self, http: httpx.Client, what: str, method: str, url: str, *, user: str, json=None,
             headers: dict | None = None) -> httpx.Response:
        """One request as a real client makes it: retried with backoff on a refused or dropped connection, a
        timeout, a 5xx, a 429 or a 409 `concurrent_change`; any other answer is returned."""
        deadline = time.monotonic() + STEP_DEADLINE
        delay = 0.1
        while True:
            if self.stopping:
                raise StepFailed(f"{what}: the test stopped the load")
            try:
                r = http.request(method, url, headers={**self.tokens[user], **(headers or {})}, json=json)
                if r.status_code == 429:
                    reason = "429"
                    delay = max(delay, float(r.headers.get("Retry-After", "1")))
                elif r.status_code >= 500:
                    reason = f"{r.status_code} {_error(r)}"
                elif r.status_code == 409 and _error(r) == "concurrent_change":
                    reason = "409 concurrent_change"
                else:
                    return r
            except httpx.TransportError as e:
                reason = type(e).__name__
            with self._lock:
                self.retries[f"{what}: {reason}"] += 1
            if time.monotonic() > deadline:
                raise StepFailed(f"{what}: still failing after {STEP_DEADLINE:.0f} s ({reason})")
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 2.0)

    def get_item(self, http: httpx.Client, item: LoadItem) -> dict:
        r = self.call(http, "get", "GET", self.url("items", f"/items/{item.id}"), user=item.author)
        if r.status_code != 200:
            raise StepFailed(f"GET /items/{item.id}: {r.status_code} {r.text[:300]}")
        return r.json()

    def _ok(self, item: LoadItem, reached: str) -> None:
        item.reached = reached
        with self._lock:
            self.successes.append(time.monotonic())

    def create(self, http: httpx.Client, item: LoadItem) -> None:
        body = {"kind": "proactive", "category": item.category, "title": item.title, "body": "压力测试正文"}
        r = self.call(http, "create", "POST", self.url("items", "/items"), user=item.author, json=body,
                      headers={"Idempotency-Key": item.key})
        if r.status_code != 201:
            raise StepFailed(f"create {item.key}: {r.status_code} {r.text[:300]}")
        item.id = r.json()["id"]
        self._ok(item, "accepted")

    def submit(self, http: httpx.Client, item: LoadItem) -> None:
        r = self.call(http, "submit", "POST", self.url("items", f"/items/{item.id}/submit"), user=item.author)
        if r.status_code == 409 and _error(r) == "not_submittable":
            # an earlier attempt was stored but its answer lost: the item is in review already
            got = self.get_item(http, item)
            if got["status"] == "in_review" and [h["type"] for h in got["history"]].count("item.submitted") == 1:
                item.lost_responses.append(f"submit at {self.clock():.1f} s")
                self._ok(item, "submitted")
                return
        if r.status_code != 202:
            raise StepFailed(f"submit {item.id}: {r.status_code} {r.text[:300]}")
        self._ok(item, "submitted")

    def decide(self, http: httpx.Client, item: LoadItem, user: str, stage: str, outcome: str) -> None:
        body = {"stage": stage, "outcome": outcome, "comment": "同意" if outcome == "approve" else "不予公开"}
        if outcome == "reject":
            body["reason_code"] = "denied_process_info"
        reached = {("initial", "approve"): "initial", ("initial", "reject"): "rejected",
                   ("recheck", "approve"): "approved"}[(stage, outcome)]
        # the key makes a retried decision the same request: the workflow answers it once
        r = self.call(http, f"decide {stage}", "POST", self.url("reviews", f"/items/{item.id}/decisions"),
                      user=user, json=body, headers={"Idempotency-Key": f"{item.key}:{stage}"})
        if r.status_code == 200:
            if reached == "approved" and r.json().get("status") != "published":
                raise StepFailed(f"recheck of {item.id} answered 200 but status {r.json().get('status')}")
            self._ok(item, reached)
            return
        if r.status_code in (403, 409):
            # e.g. review_finished or not_current_stage: an earlier attempt got through and its answer was
            # lost; it shows in the item's history (the publication perhaps a moment later)
            deadline = time.monotonic() + 90
            while True:
                got = self.get_item(http, item)
                decided = [h for h in got["history"] if h["type"] == "review.decided"
                           and h["payload"].get("stage") == stage]
                if decided and (reached != "approved" or got["status"] == "published"):
                    item.lost_responses.append(f"{stage} ({r.status_code} {_error(r)}) at {self.clock():.1f} s")
                    self._ok(item, reached)
                    return
                if time.monotonic() > deadline:
                    break
                time.sleep(1)
        raise StepFailed(f"{stage} {outcome} of {item.id}: {r.status_code} {r.text[:300]}")

    # ------------------------------------------------------------------------------------------- results

    @property
    def accepted(self) -> list[LoadItem]:
        return [i for i in self.items if i.id is not None]

    def by(self, *reached: str) -> list[LoadItem]:
        return [i for i in self.items if i.reached in reached]

    def stalls(self, start: float, end: float) -> float:
        """The longest time without a successful step between `start` and `end`."""
        with self._lock:
            ts = sorted(t for t in self.successes if start <= t <= end)
        points = [start, *ts, end]
        return max(b - a for a, b in itertools.pairwise(points)) if len(points) > 1 else end - start


def _error(r: httpx.Response) -> str:
    try:
        return r.json().get("error") or ""
    except ValueError:
        return ""


# ----------------------------------------------------------------------------------------------- killing


@dataclass
class Restart:
    target: str
    old_pid: int | None
    new_pid: int | None
    respawned_s: float  # kill → a new process in the pid file
    ready_s: float  # kill → it serves again
    at: float = 0.0  # monotonic time of the kill
    stall_s: float = 0.0  # the load's longest pause without a successful step around the kill


def pid_of(stack: StackProcess, name: str) -> int | None:
    try:
        return int((stack.data_dir / "run" / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError):  # a zombie is dead for our purposes
        if open(f"/proc/{pid}/stat").read().split(") ")[-1].startswith("Z"):
            return False
    return True


def _tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


_probe = httpx.Client(timeout=2)  # one client for every probe: a new one costs ~0.15 s of CPU (its TLS context)


def _http_ok(url: str) -> bool:
    try:
        return _probe.get(url).status_code == 200
    except httpx.HTTPError:
        return False


async def _jetstream_ok(stack: StackProcess) -> bool:
    import nats

    from contracts import subjects

    try:
        nc = await asyncio.wait_for(nats.connect(stack.nats_url, allow_reconnect=False, connect_timeout=1), 3)
    except Exception:
        return False
    try:
        await nc.jetstream(timeout=2).stream_info(subjects.STREAM)
        return True
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


async def _temporal_ok(stack: StackProcess) -> bool:
    from temporalio.client import Client

    try:
        client = await asyncio.wait_for(Client.connect(stack.temporal_address), 5)
        await asyncio.wait_for(client.service_client.check_health(), 5)
        return True
    except Exception:
        return False


def ready(stack: StackProcess, name: str) -> bool:
    if name in ("items", "reviews", "reports"):
        return _http_ok(f"{stack.url(name)}/health")
    if name == "nats":
        return _tcp(stack.ports["NATS"]) and asyncio.run(_jetstream_ok(stack))
    if name == "temporal":
        return _tcp(stack.ports["TEMPORAL"]) and asyncio.run(_temporal_ok(stack))
    if name == "worker":
        log = stack.data_dir / "logs" / "worker.log"  # the launcher starts a new one for each worker
        return alive(pid_of(stack, "worker")) and log.exists() and "worker ready" in log.read_text(errors="ignore")
    if name == "dashboard":
        return _http_ok(f"{stack.url('dashboard')}/_stcore/health")
    raise ValueError(name)


def all_ready(stack: StackProcess) -> bool:
    return all(ready(stack, n) for n in ("nats", "temporal", "items", "reviews", "reports", "worker"))


def wait_until(cond, timeout: float, what: str, every: float = 0.1) -> float:
    start = time.monotonic()
    while not cond():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what} after {timeout:.0f} s")
        time.sleep(every)
    return time.monotonic() - start


def kill_component(stack: StackProcess, name: str, timeout: float = 120) -> Restart:
    """SIGKILL one component by the pid in its pid file; wait for the launcher to start another one and for
    that one to serve."""
    old = pid_of(stack, name)
    assert alive(old), f"{name} is not running before the kill (pid {old})"
    t0 = time.monotonic()
    os.kill(old, signal.SIGKILL)
    respawned = wait_until(lambda: (p := pid_of(stack, name)) != old and alive(p), timeout,
                           f"the launcher did not restart {name}")
    wait_until(lambda: ready(stack, name), timeout, f"{name} did not serve again", every=0.2)
    return Restart(name, old, pid_of(stack, name), respawned, time.monotonic() - t0, at=t0)


def kill_everything(stack: StackProcess, timeout: float = 120) -> Restart:
    """SIGKILL the launcher and every process it started at once, then `gongkai up` again on the same data."""
    old = stack.proc.pid if stack.proc else None
    t0 = time.monotonic()
    stack.kill()
    killed = time.monotonic() - t0
    stack.start(timeout=timeout)
    wait_until(lambda: all_ready(stack), timeout, "the restarted stack did not serve", every=0.2)
    return Restart("gongkai up", old, stack.proc.pid, killed, time.monotonic() - t0, at=t0)
