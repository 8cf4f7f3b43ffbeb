"""The production NATS topology, in-process: three real nats-server nodes run the shipped
deploy/nats/nats-server.conf as a JetStream cluster. The event stream is kept three times; losing a node
loses no event; each service's NATS user may do what its service needs and no more.

The file is used as shipped except for what three nodes on one host cannot share: each node gets its own
cluster port and store dir (`render`), and its client and monitoring ports on the command line. Everything
the file reads from the environment (node name, route URLs, passwords) is set here as compose.yaml sets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from sqlmodel import Field, Session, SQLModel, select

from contracts import subjects
from contracts.envelope import Actor, Envelope
from contracts.items import ItemDrafted, ItemRevised
from contracts.subjects import event_subject
from gongkai import natsauth, projection
from gongkai.db import make_engine
from gongkai.eventlog import EventLog, Stored
from tests.servers import BIN, free_port

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nats" / "nats-server.conf"
#: the users of deploy/nats/nats-server.conf, each with the password variable it reads
USERS = ("items", "reviews", "reports", "worker", "admin", "sys")
DEADLINE = 20.0  # seconds for the cluster to form, or to elect new leaders after a node dies


def render(conf: str, cluster_port: int, store: Path) -> str:
    """The shipped file with this node's cluster port and store dir; fails if either line moved."""
    for old, new in (("\n  port: 6222\n", f"\n  port: {cluster_port}\n"),
                     ('store_dir: "/data"', f'store_dir: "{store}"')):
        assert conf.count(old) == 1, f"{CONF.name} no longer has exactly one {old.strip()!r}"
        conf = conf.replace(old, new)
    return conf


@dataclass
class Node:
    name: str
    port: int
    http_port: int
    cluster_port: int
    store: Path
    conf: Path
    log: Path
    proc: subprocess.Popen | None = None

    def healthz(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def jsz(self) -> dict:
        url = f"http://127.0.0.1:{self.http_port}/jsz?accounts=true&streams=true"
        with urllib.request.urlopen(url, timeout=2) as r:
            return json.load(r)

    def routez(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/routez", timeout=2) as r:
            return json.load(r)


class Cluster:
    """Three nodes of deploy/nats/nats-server.conf on free ports, each with a store dir of its own."""

    def __init__(self, tmp: Path):
        self.passwords = {u: secrets.token_hex(16) for u in (*USERS, "route")}
        self.nodes: list[Node] = []
        for i in (1, 2, 3):
            d = tmp / f"nats-{i}"
            d.mkdir(parents=True)
            self.nodes.append(Node(f"nats-{i}", free_port(), free_port(), free_port(), d / "jetstream",
                                   d / "nats-server.conf", d / "server.log"))
        text = CONF.read_text(encoding="utf-8")
        for n in self.nodes:
            n.conf.write_text(render(text, n.cluster_port, n.store), encoding="utf-8")
            (n.conf.parent / "accounts.conf").write_text(  # what its `include "accounts.conf"` reads
                (CONF.parent / "accounts.conf").read_text(encoding="utf-8"), encoding="utf-8")

    def env(self, node: Node) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
        env["NATS_SERVER_NAME"] = node.name
        for i, n in enumerate(self.nodes, 1):
            env[f"NATS_ROUTE_{i}"] = f"nats-route://route:{self.passwords['route']}@127.0.0.1:{n.cluster_port}"
        env["NATS_ROUTE_PASSWORD"] = self.passwords["route"]
        env.update({f"NATS_{u.upper()}_PASSWORD": self.passwords[u] for u in USERS})
        return env

    def start(self, node: Node) -> None:
        with open(node.log, "ab") as log:
            node.proc = subprocess.Popen(
                [str(BIN / "nats-server"), "-c", str(node.conf), "-a", "127.0.0.1", "-p", str(node.port),
                 "-m", str(node.http_port)], env=self.env(node), stdout=log, stderr=subprocess.STDOUT)

    def start_all(self) -> None:
        for n in self.nodes:
            self.start(n)
        self.wait_healthy(*self.nodes)

    def wait_healthy(self, *nodes: Node) -> None:
        deadline = time.monotonic() + DEADLINE
        while not all(n.healthz() for n in nodes):
            for n in nodes:
                if n.proc.poll() is not None:
                    raise RuntimeError(f"{n.name} exited: {n.log.read_text(errors='ignore')[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster did not become healthy")
            time.sleep(0.1)

    def kill(self, node: Node) -> None:
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(10)

    def stop(self) -> None:
        for n in self.nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.terminate()
        for n in self.nodes:
            if n.proc:
                try:
                    n.proc.wait(10)
                except subprocess.TimeoutExpired:
                    n.proc.kill()
                    n.proc.wait(5)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def urls(self, user: str) -> list[str]:
        """What GONGKAI_NATS_URL lists in compose.yaml: every node, with the user's credentials; as a list,
        the form nats-py and FastStream take (nats-py 2.16 does not split a comma-separated string)."""
        return [f"nats://{user}:{self.passwords[user]}@127.0.0.1:{n.port}" for n in self.nodes]


@contextlib.contextmanager
def running(tmp: Path):
    for attempt in range(3):  # a free port taken by another process meanwhile: a node exits; try new ports
        c = Cluster(tmp / f"try-{attempt}")
        try:
            c.start_all()
            break
        except RuntimeError:
            c.stop()
            if attempt == 2:
                raise
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A cluster shared by the tests that leave every node running (each uses aggregates of its own)."""
    with running(tmp_path_factory.mktemp("cluster")) as c:
        yield c


@pytest.fixture
def own_cluster(tmp_path):
    """A cluster of the test's own, for a test that kills a node."""
    with running(tmp_path) as c:
        yield c


def inbox_of(user: str) -> str:
    """The inbox prefix the user's processes connect with: its own for a service user (as gongkai does)."""
    return natsauth.inbox_prefix(user) if user in ("items", "reviews", "reports", "worker") else "_INBOX"


class Client:
    """A connection as one user, keeping the errors the server reports (permission violations)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: nats.NATS | None = None

    async def open(self, cluster: Cluster, user: str) -> Client:
        async def on_error(e: Exception) -> None:
            self.errors.append(str(e))

        self.nc = await nats.connect(cluster.urls(user), name=f"test-{user}", error_cb=on_error,
                                     max_reconnect_attempts=-1, reconnect_time_wait=0.2, connect_timeout=2,
                                     inbox_prefix=inbox_of(user))
        return self

    async def denied(self, subject: str, timeout: float = 5.0) -> bool:
        """Whether the server reported a publish permissions violation for `subject`."""
        needle = f'permissions violation for publish to "{subject}"'.lower()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in e.lower() for e in self.errors):
                return True
            await asyncio.sleep(0.05)
        return False

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.nc.close()


@pytest.fixture
async def clients():
    opened: list[Client] = []

    async def connect(cluster: Cluster, user: str) -> Client:
        c = await Client().open(cluster, user)
        opened.append(c)
        return c

    yield connect
    for c in opened:
        await c.close()


def drafted(item_id: str) -> Envelope:
    return Envelope.wrap(ItemDrafted(kind="proactive", category="meetings", title="t", author="a"),
                         aggregate_id=item_id, org="o", actor=Actor(user="a"))


def revised(item_id: str, n: int) -> Envelope:
    return Envelope.wrap(ItemRevised(changes={"title": f"t{n}"}), aggregate_id=item_id, org="o",
                         actor=Actor(user="a"))


async def retrying(what, deadline: float):
    """Run `what()` until it succeeds or the deadline passes (leaders are being re-elected)."""
    while True:
        try:
            return await what()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def follow_all(log: EventLog, head: int) -> list[Stored]:
    got: list[Stored] = []
    stop = asyncio.Event()

    async def handle(batch: list[Stored]) -> None:
        got.extend(batch)
        if got and got[-1].seq >= head:
            stop.set()

    await asyncio.wait_for(log.follow(1, handle, stop=stop), timeout=DEADLINE)
    return got


async def test_the_shipped_config_forms_a_three_node_cluster(cluster):
    for n in cluster.nodes:
        peers = {r["remote_name"] for r in n.routez()["routes"]}
        assert peers == {m.name for m in cluster.nodes} - {n.name}, n.name
    log = await EventLog.connect(cluster.urls("items"), name="gongkai-items", inbox_prefix=inbox_of("items"))
    try:
        await log.ensure_stream(replicas=3)
        info = await log.js.stream_info(log.stream)
        assert info.config.num_replicas == 3 and info.config.storage == "file"
        assert info.config.deny_delete and info.config.deny_purge
        assert info.cluster.leader in {n.name for n in cluster.nodes}
        assert {r.name for r in info.cluster.replicas} | {info.cluster.leader} == {n.name for n in cluster.nodes}
    finally:
        await log.close()


async def test_no_event_is_lost_when_a_node_dies(own_cluster):
    cluster = own_cluster
    # a short request timeout, so that a publish to a leader that just died is retried soon
    log = EventLog(await nats.connect(cluster.urls("items"), name="gongkai-items", max_reconnect_attempts=-1,
                                       inbox_prefix=inbox_of("items"),
                                      reconnect_time_wait=0.2, connect_timeout=2), timeout=1.0)
    try:
        await log.ensure_stream(replicas=3)
        items = [str(uuid.uuid4()) for _ in range(4)]
        last = dict.fromkeys(items, 0)
        written: dict[str, list[str]] = {i: [] for i in items}

        async def append(item: str, env: Envelope, deadline: float) -> None:
            # the same envelope and expectation on every try: a retry after a lost ack is stored once
            seq = await retrying(lambda: log.append(event_subject("item", item), env, last[item]), deadline)
            last[item] = seq
            written[item].append(env.event_id)

        for n in range(5):
            for item in items:
                await append(item, drafted(item) if n == 0 else revised(item, n), time.monotonic() + 5)

        leader = cluster.node((await log.js.stream_info(log.stream)).cluster.leader)
        cluster.kill(leader)  # the stream's leader, so that a new one must be elected
        deadline = time.monotonic() + DEADLINE
        for n in range(5, 10):
            for item in items:
                await append(item, revised(item, n), deadline)

        info = await retrying(lambda: log.js.stream_info(log.stream), deadline)
        assert info.cluster.leader != leader.name
        assert info.state.messages == info.state.last_seq == 40

        # every event of every aggregate, in order, read through the two nodes left
        for item in items:
            loaded = await retrying(lambda item=item: log.load(event_subject("item", item)), deadline)
            assert [st.envelope.event_id for st in loaded] == written[item]

        # and the whole log as a projection reads it, as the reports user
        reader = await EventLog.connect(cluster.urls("reports"), name="gongkai-reports", inbox_prefix=inbox_of("reports"))
        try:
            events = await retrying(lambda: follow_all(reader, 40), deadline)
        finally:
            await reader.close()
        assert [st.seq for st in events] == list(range(1, 41))
        assert sorted(st.envelope.event_id for st in events) == sorted(i for ids in written.values() for i in ids)

        # the dead node comes back with its store and catches up
        cluster.start(leader)
        await asyncio.to_thread(cluster.wait_healthy, leader)
        deadline = time.monotonic() + DEADLINE
        while True:
            streams = [s for a in leader.jsz().get("account_details", []) for s in a.get("stream_detail", [])]
            state = next((s["state"] for s in streams if s["name"] == subjects.STREAM), None)
            if state and state["messages"] == 40:
                break
            assert time.monotonic() < deadline, f"{leader.name} did not catch up: {state}"
            await asyncio.sleep(0.1)
    finally:
        await log.close()


async def test_only_the_items_user_writes_events_and_readers_read(cluster, clients):
    log = await EventLog.connect(cluster.urls("items"), name="gongkai-items", inbox_prefix=inbox_of("items"))
    try:
        await log.ensure_stream(replicas=3)
        item = str(uuid.uuid4())
        first = await log.append(event_subject("item", item), drafted(item), 0)
        head = await log.head()

        for user in ("reports", "reviews", "worker", "admin"):
            c = await clients(cluster, user)
            await c.nc.publish("gongkai.events.item.x", b"{}")
            await c.nc.publish(event_subject("item", item), b"{}")
            await c.nc.flush()
            assert await c.denied("gongkai.events.item.x"), f"{user} may write events: {c.errors}"
            assert await c.denied(event_subject("item", item)), user
        assert await log.head() == head

        # the readers read: the stream, an aggregate's events, and the log through a consumer
        for user in ("reports", "reviews"):
            reader = await EventLog.connect(cluster.urls(user), name=f"gongkai-{user}", inbox_prefix=inbox_of(user))
            try:
                assert await reader.head() == head
                assert [st.seq for st in await reader.load(event_subject("item", item))] == [first]
                assert [st.seq for st in await follow_all(reader, head)] == list(range(1, head + 1))
                # and cannot change the stream
                info = await reader.js.stream_info(reader.stream)
                info.config.num_replicas = 1
                with pytest.raises(Exception):  # noqa: B017 - the server drops the request: a timeout
                    await reader.js.update_stream(info.config, timeout=1)
            finally:
                await reader.close()

        # nobody deletes the log: not the items service, not an operator
        for user in ("items", "admin"):
            c = await clients(cluster, user)
            js = c.nc.jetstream(timeout=1)
            with pytest.raises(Exception):  # noqa: B017
                await js.delete_stream(subjects.STREAM)
            assert await c.denied(f"$JS.API.STREAM.DELETE.{subjects.STREAM}"), user
        admin = await clients(cluster, "admin")
        assert (await admin.nc.jetstream().stream_info(subjects.STREAM)).state.last_seq == head

        # the worker has no JetStream at all
        worker = await clients(cluster, "worker")
        with pytest.raises(Exception):  # noqa: B017
            await worker.nc.jetstream(timeout=1).stream_info(subjects.STREAM)
        assert await worker.denied(f"$JS.API.STREAM.INFO.{subjects.STREAM}")
    finally:
        await log.close()


class Seen(SQLModel, table=True):
    __tablename__ = "test_nats_cluster_seen"
    seq: int = Field(primary_key=True)
    event_id: str


class SeenProjection(projection.Projection):
    """The smallest projection: one row per event."""

    name = "test.nats_cluster.seen"
    tables = [Seen]

    def apply(self, session: Session, stored: Stored) -> None:
        session.add(Seen(seq=stored.seq, event_id=stored.envelope.event_id))


async def test_two_replicas_of_a_reader_share_its_projection(cluster, clients, tmp_path):
    """What a reports (or reviews) replica does with the log: fold it through the shared durable consumer,
    under its own user's permissions, each event once."""
    log = await EventLog.connect(cluster.urls("items"), name="gongkai-items", inbox_prefix=inbox_of("items"))
    try:
        await log.ensure_stream(replicas=3)
        ids = []
        for _ in range(3):
            item, last = str(uuid.uuid4()), 0
            for n in range(10):
                env = drafted(item) if n == 0 else revised(item, n)
                last = await log.append(event_subject("item", item), env, last)
                ids.append(env.event_id)
        head = await log.head()
    finally:
        await log.close()

    engine = make_engine(f"sqlite:///{tmp_path / 'reports.sqlite'}")
    proj = SeenProjection()
    projection.setup(engine, proj)
    replicas = [await clients(cluster, "reports") for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(projection.run(EventLog(r.nc), engine, proj, stop, batch_size=8)) for r in replicas]
    try:
        deadline = time.monotonic() + DEADLINE
        while await asyncio.to_thread(projection.position, engine, proj) < head:
            assert time.monotonic() < deadline, [r.errors for r in replicas]
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    with Session(engine) as s:
        rows = s.exec(select(Seen).order_by(Seen.seq)).all()
    engine.dispose()
    assert [r.seq for r in rows] == list(range(1, head + 1))  # every event of the log, once
    assert [r.event_id for r in rows if r.event_id in set(ids)] == ids
    assert not any(e for r in replicas for e in r.errors)


async def test_commands_go_from_the_worker_and_reports_to_the_items_service(cluster, clients):
    items = await clients(cluster, "items")

    async def answer(msg) -> None:
        await msg.respond(b"ok:" + msg.subject.encode())

    await items.nc.subscribe("gongkai.commands.items.>", queue="items", cb=answer)
    await items.nc.flush()

    worker = await clients(cluster, "worker")
    for subject in (subjects.CMD_RECORD_DECISION, subjects.CMD_PUBLISH, subjects.CMD_REMIND,
                    subjects.CMD_APPLICATION_WINDOWS, subjects.CMD_APPLICATION_EXPIRE, subjects.CMD_FILE_REPORT):
        reply = await worker.nc.request(subject, b"{}", timeout=5)
        assert reply.data == b"ok:" + subject.encode()

    reports = await clients(cluster, "reports")
    assert (await reports.nc.request(subjects.CMD_CLOSE_YEAR, b"{}", timeout=5)).data.startswith(b"ok:")
    await reports.nc.publish(subjects.CMD_PUBLISH, b"{}")  # only the workflow asks for publication
    await reports.nc.flush()
    assert await reports.denied(subjects.CMD_PUBLISH)

    # the items service answers requests it receives and publishes nowhere else
    await items.nc.publish("gongkai.commands.items.publish", b"{}")
    await items.nc.flush()
    assert await items.denied("gongkai.commands.items.publish")
    assert not any("_inbox" in e.lower() for e in items.errors), items.errors


async def test_a_service_cannot_listen_to_another_ones_replies(cluster, clients):
    """The worker's command replies arrive on _INBOX_worker.…, which only the worker may subscribe to."""
    items = await clients(cluster, "items")

    async def answer(msg) -> None:
        await msg.respond(b"decision recorded")

    await items.nc.subscribe(subjects.CMD_RECORD_DECISION, queue="items", cb=answer)
    await items.nc.flush()
    spy = await clients(cluster, "reviews")
    heard: list[bytes] = []

    async def overhear(msg) -> None:
        heard.append(msg.data)

    for prefix in ("_INBOX_worker", "_INBOX"):
        await spy.nc.subscribe(f"{prefix}.>", cb=overhear)
    await spy.nc.flush()
    worker = await clients(cluster, "worker")
    assert (await worker.nc.request(subjects.CMD_RECORD_DECISION, b"{}", timeout=5)).data == b"decision recorded"
    await asyncio.sleep(0.3)
    assert heard == []
    assert sum("permissions violation for subscription" in e.lower() for e in spy.errors) == 2, spy.errors


async def test_the_system_user_sees_every_node(cluster, clients):
    sys = await clients(cluster, "sys")
    inbox = sys.nc.new_inbox()
    sub = await sys.nc.subscribe(inbox)
    await sys.nc.publish("$SYS.REQ.SERVER.PING.JSZ", b"{}", reply=inbox)
    names = set()
    deadline = time.monotonic() + 5
    while len(names) < 3 and time.monotonic() < deadline:
        with contextlib.suppress(asyncio.TimeoutError, nats.errors.TimeoutError):
            msg = await sub.next_msg(timeout=0.5)
            names.add(json.loads(msg.data)["server"]["name"])
    assert names == {n.name for n in cluster.nodes}
