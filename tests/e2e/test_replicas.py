"""Two replicas of every service and of the worker, against one NATS, one Temporal and one database (the
production topology of compose.yaml, in-process): requests land on either replica, each event is counted once,
and losing one replica of each (SIGKILL) loses nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.servers import StackProcess, free_port

YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year
SERVICES = ("items", "reviews", "reports")


class Replica:
    """A second copy of one gongkai process, started the way compose.yaml starts it, on the stack's data."""

    def __init__(self, stack: StackProcess, name: str):
        self.name = name
        self.port = free_port() if name in SERVICES else None
        env = stack.env
        if self.port:
            env[f"GONGKAI_{name.upper()}_PORT"] = str(self.port)
        argv = [sys.executable, "-m", "gongkai.serve", name] if self.port else [sys.executable, "-m", "workflows.worker"]
        self.log = stack.data_dir.parent / f"replica-{name}.log"
        self.proc = subprocess.Popen(argv, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="ignore")[-3000:]
            if self.port is None:
                if "worker ready" in self.log.read_text(errors="ignore"):
                    return
            else:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                        return
            time.sleep(0.1)
        raise TimeoutError(f"replica {self.name} not ready")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture(scope="module")
def doubled(tmp_path_factory):
    stack = StackProcess(tmp_path_factory.mktemp("replicas") / "data")
    stack.start()
    replicas = {n: Replica(stack, n) for n in (*SERVICES, "worker")}
    try:
        for r in replicas.values():
            r.wait_ready()
        yield stack, replicas
    finally:
        for r in replicas.values():
            r.kill()
        stack.stop()


def urls(stack: StackProcess, replicas: dict[str, Replica], service: str) -> list[str]:
    return [stack.url(service), replicas[service].url]


def take_through_the_chain(http: httpx.Client, items: list[str], reviews: list[str], h: dict, i: int) -> str:
    """One item, each step on a different replica than the step before it."""
    r = http.post(f"{items[i % 2]}/items", headers=h["author"],
                  json={"kind": "proactive", "category": "meetings", "title": f"副本测试{i}", "body": "正文"})
    assert r.status_code == 201, r.text
    item = r.json()["id"]
    r = http.post(f"{items[(i + 1) % 2]}/items/{item}/submit", headers=h["author"])
    assert r.status_code == 202, r.text
    for n, (stage, who) in enumerate((("initial", "officer"), ("recheck", "head"))):
        r = http.post(f"{reviews[(i + n) % 2]}/items/{item}/decisions", headers=h[who],
                      json={"stage": stage, "outcome": "approve", "comment": "同意"})
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "published"
    return item


def counted(http: httpx.Client, reports: str, h: dict, org: str, want: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        r = http.get(f"{reports}/totals", headers=h["viewer"], params={"year": YEAR, "org": org})
        got = r.json()["proactive"]["total"] if r.status_code == 200 else None
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_two_replicas_of_each_process_count_every_item_once_and_survive_losing_one(doubled):
    stack, replicas = doubled
    org = f"org-{uuid.uuid4().hex[:8]}"
    h = {k: {"Authorization": f"Bearer {stack.token(user, org, role)}"} for k, user, role in (
        ("author", "zhang.wei", "author"), ("officer", "li.na", "officer"), ("head", "wang.qiang", "section_head"),
        ("viewer", "leader.view", "viewer"))}
    http = httpx.Client(timeout=30)
    items, reviews, reports = (urls(stack, replicas, s) for s in SERVICES)

    published = [take_through_the_chain(http, items, reviews, h, i) for i in range(10)]
    for url in reports:  # both replicas read the one database the shared consumer folded each event into once
        assert counted(http, url, h, org, len(published)) == len(published)
    listed = [http.get(f"{u}/items", headers=h["author"], params={"status": "published"}).json()["items"]
              for u in items]
    assert all(sorted(i["id"] for i in rows) == sorted(published) for rows in listed)

    for name in (*SERVICES, "worker"):  # one replica of every process is lost
        replicas[name].kill()
    survivors = {s: [stack.url(s)] * 2 for s in SERVICES}
    published += [take_through_the_chain(http, survivors["items"], survivors["reviews"], h, i) for i in range(10, 16)]
    assert counted(http, stack.url("reports"), h, org, len(published)) == len(published)
    got = http.get(f"{stack.url('items')}/items", headers=h["author"], params={"status": "published"}).json()
    assert sorted(i["id"] for i in got["items"]) == sorted(published)
