"""Projections on a real log and a real database (SQLite, or PostgreSQL with GONGKAI_TEST_DATABASE=postgres):
exactly-once application from any number of replicas, and replay gives identical tables."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import Field, Session, SQLModel, select

from contracts.envelope import Actor, Envelope
from contracts.items import DEFAULT_CATEGORIES, ItemDrafted, ItemPublished, ItemSubmitted
from contracts.reviews import DecisionRecorded
from contracts.subjects import event_subject
from gongkai import projection
from gongkai.db import make_engine
from gongkai.eventlog import EventLog
from services.items.listing import ItemListing, ItemRow
from services.reports.projections import AnnualTotals, ReportItem, totals


async def publish_item(log: EventLog, category: str, published_at: datetime, org: str = "org1") -> str:
    item = str(uuid.uuid4())
    subject, seq = event_subject("item", item), 0
    for ev in (ItemDrafted(kind="proactive", category=category, title="t", author="a"),
               ItemSubmitted(submission=1, workflow_id="wf"),
               DecisionRecorded(submission=1, stage="initial", outcome="approve", decided_by="o", roles=["officer"],
                                workflow_id="wf"),
               DecisionRecorded(submission=1, stage="recheck", outcome="approve", decided_by="h",
                                roles=["section_head"], workflow_id="wf"),
               ItemPublished(submission=1, published_at=published_at)):
        seq = await log.append(subject, Envelope.wrap(ev, aggregate_id=item, org=org, actor=Actor(user="a")), seq)
    return item


@pytest.fixture
async def log(fresh_nats):
    log = await EventLog.connect(fresh_nats.url)
    await log.ensure_stream()
    yield log
    await log.close()


def year_totals(engine, year: int) -> dict:
    with Session(engine) as s:
        return totals(s, year=year, org=None, categories=DEFAULT_CATEGORIES, position=0)


async def wait_for(engine, proj, pos: int, timeout: float = 4) -> None:
    for _ in range(int(timeout / 0.02)):
        if projection.position(engine, proj) >= pos:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{proj.name} did not reach {pos}")


async def test_totals_follow_the_log_and_a_replay_gives_identical_tables(log, database_url):
    engine = make_engine(database_url)
    proj = AnnualTotals()
    for cat in ["meetings", "meetings", "plans"]:
        await publish_item(log, cat, datetime(2026, 3, 1, tzinfo=UTC))
    # 2025-12-31 17:00 UTC is already 1 January 2026 in Shanghai: counted in 2026
    await publish_item(log, "plans", datetime(2025, 12, 31, 17, 0, tzinfo=UTC))
    await publish_item(log, "plans", datetime(2025, 12, 31, 15, 0, tzinfo=UTC))

    stop = asyncio.Event()
    runner = asyncio.create_task(projection.run(log, engine, proj, stop))
    await wait_for(engine, proj, await log.head())
    t = year_totals(engine, 2026)
    assert t["proactive"]["total"] == 4
    assert t["proactive"]["by_category"]["meetings"] == 2 and t["proactive"]["by_category"]["plans"] == 2
    assert year_totals(engine, 2025)["proactive"]["total"] == 1

    # live: a new event is applied while running
    await publish_item(log, "new_media", datetime(2026, 5, 1, tzinfo=UTC))
    await wait_for(engine, proj, await log.head())
    assert year_totals(engine, 2026)["proactive"]["by_category"]["new_media"] == 1

    with Session(engine) as s:
        before = sorted(r.model_dump_json() for r in s.exec(select(ReportItem)).all())
    head = await log.head()
    stop.set()
    await runner

    assert await projection.rebuild(log, engine, proj) == head
    with Session(engine) as s:
        after = sorted(r.model_dump_json() for r in s.exec(select(ReportItem)).all())
    assert after == before
    assert projection.position(engine, proj) == head


async def test_a_batch_applied_twice_changes_nothing(log, database_url):
    engine = make_engine(database_url)
    proj = ItemListing()
    projection.setup(engine, proj)
    await publish_item(log, "meetings", datetime(2026, 3, 1, tzinfo=UTC))
    batch = []
    await log.follow(1, lambda b: _collect(batch, b), stop=_stop_after(batch, 5))
    with pytest.raises(projection.Gap):  # a feed that skipped the first events must start again
        projection.apply_batch(engine, proj, batch[2:])
    pos = projection.apply_batch(engine, proj, batch)
    assert pos == 5
    with Session(engine) as s:
        first = [r.model_dump_json() for r in s.exec(select(ItemRow)).all()]
    # the same events delivered again (a redelivery after a crash, or to a second replica): already applied
    assert projection.apply_batch(engine, proj, batch) == pos
    assert projection.apply_batch(engine, proj, batch[1:4]) == pos
    with Session(engine) as s:
        assert [r.model_dump_json() for r in s.exec(select(ItemRow)).all()] == first
        assert s.exec(select(ItemRow)).one().status == "published"


async def _collect(into: list, batch: list) -> None:
    into.extend(batch)


def _stop_after(batch: list, n: int) -> asyncio.Event:
    stop = asyncio.Event()

    async def watch():
        while len(batch) < n:
            await asyncio.sleep(0.01)
        stop.set()

    asyncio.get_running_loop().create_task(watch())
    return stop


class AppliedOnce(SQLModel, table=True):
    """Test projection: one row per event applied, and a count of applications, so a double apply shows."""

    __tablename__ = "test_applied_once"
    seq: int = Field(primary_key=True)
    applications: int = 0


class Recorder(projection.Projection):
    name = "test.applied_once"
    tables = [AppliedOnce]

    def apply(self, session: Session, stored) -> None:
        row = session.get(AppliedOnce, stored.seq) or AppliedOnce(seq=stored.seq)
        row.applications += 1
        session.add(row)


def applied(engine) -> dict[int, int]:
    with Session(engine) as s:
        return {r.seq: r.applications for r in s.exec(select(AppliedOnce)).all()}


async def test_replicas_share_the_feed_and_apply_every_event_once(fresh_nats, database_url):
    """Three replicas (each with its own NATS connection, as separate processes have) fold one log into one
    database while events keep arriving and one replica is stopped mid-way: every event applied exactly once."""
    engine = make_engine(database_url)
    proj = Recorder()
    logs = [await EventLog.connect(fresh_nats.url) for _ in range(3)]
    await logs[0].ensure_stream()
    stops = [asyncio.Event() for _ in logs]
    runners = [asyncio.create_task(projection.run(lg, engine, proj, st, batch_size=20))
               for lg, st in zip(logs, stops, strict=True)]
    try:
        for i in range(40):
            await publish_item(logs[0], "meetings", datetime(2026, 3, 1, tzinfo=UTC), org=f"org{i % 3}")
            if i == 20:
                stops[1].set()  # a replica goes away while the others keep going
        # what the stopped replica was sent but never applied is redelivered to another after the ack wait
        await wait_for(engine, proj, await logs[0].head(), timeout=projection.ACK_WAIT_S * 3)
        head = await logs[0].head()
        assert applied(engine) == {seq: 1 for seq in range(1, head + 1)}
        consumers = [c.name async for c in _consumers(logs[0])]
        assert consumers == [projection.consumer_name(proj, engine)]  # one shared durable consumer
    finally:
        for st in stops:
            st.set()
        await asyncio.gather(*runners)
        for lg in logs:
            await lg.close()


async def test_a_replay_behind_a_running_projection_is_refilled_from_the_database(log, database_url):
    """`gongkai replay` empties the tables while services run: the shared consumer is ahead of the database,
    so it is re-created at the database's position and the projection fills again, each event once."""
    engine = make_engine(database_url)
    proj = Recorder()
    stop = asyncio.Event()
    runner = asyncio.create_task(projection.run(log, engine, proj, stop, batch_size=7))
    try:
        for _ in range(4):
            await publish_item(log, "plans", datetime(2026, 4, 1, tzinfo=UTC))
        head = await log.head()
        await wait_for(engine, proj, head)
        projection.reset(engine, proj)
        await publish_item(log, "plans", datetime(2026, 4, 2, tzinfo=UTC))
        head = await log.head()
        await wait_for(engine, proj, head)
        assert applied(engine) == {seq: 1 for seq in range(1, head + 1)}
    finally:
        stop.set()
        await runner


async def _consumers(log: EventLog):
    for info in await log.js.consumers_info(log.stream):
        yield info
