"""Projections on a real log and real SQLite: exactly-once application, and replay gives identical tables."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

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


async def wait_for(engine, proj, pos: int) -> None:
    for _ in range(200):
        if projection.position(engine, proj) >= pos:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{proj.name} did not reach {pos}")


async def test_totals_follow_the_log_and_a_replay_gives_identical_tables(log, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'reports.sqlite'}")
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


async def test_a_batch_applied_twice_changes_nothing(log, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'items.sqlite'}")
    proj = ItemListing()
    projection.setup(engine, proj)
    await publish_item(log, "meetings", datetime(2026, 3, 1, tzinfo=UTC))
    batch = []
    await log.follow(1, lambda b: _collect(batch, b), stop=_stop_after(batch, 5))
    pos = projection.apply_batch(engine, proj, batch, 0)
    assert pos == 5
    with Session(engine) as s:
        first = [r.model_dump_json() for r in s.exec(select(ItemRow)).all()]
    # the same events delivered again (a redelivery after a crash): position says they are applied
    assert projection.apply_batch(engine, proj, batch, pos) == pos
    with pytest.raises(projection.PositionMoved):  # a stale runner that still believes position 0
        projection.apply_batch(engine, proj, batch, 0)
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
