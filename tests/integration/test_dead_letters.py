"""An event a projection cannot fold goes to the dead letters after bounded retries, shows in `gongkai status`,
and never blocks the events behind it."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import Field, Session, SQLModel, select

from contracts.envelope import Actor, Envelope
from contracts.items import ItemDrafted
from contracts.subjects import event_subject
from gongkai import projection
from gongkai.db import make_engine
from gongkai.eventlog import EventLog

BIN = Path(sys.executable).parent


class Title(SQLModel, table=True):
    __tablename__ = "test_titles"
    seq: int = Field(primary_key=True)
    title: str


class Titles(projection.Projection):
    """Folds drafts' titles; a title it cannot take (a bug in a projection, say) raises."""

    name = "test.titles"
    tables = [Title]

    def apply(self, session: Session, stored) -> None:
        if stored.envelope.payload["title"] == "坏":
            raise ValueError("cannot fold this title")
        session.add(Title(seq=stored.seq, title=stored.envelope.payload["title"]))


async def draft(log: EventLog, title: str) -> int:
    import uuid

    item = str(uuid.uuid4())
    ev = ItemDrafted(kind="proactive", category="meetings", title=title, author="a")
    return await log.append(event_subject("item", item), Envelope.wrap(ev, aggregate_id=item, org="o",
                                                                        actor=Actor(user="a")), 0)


async def test_a_poison_event_is_set_aside_and_the_events_behind_it_are_applied(fresh_nats, database_url):
    log = await EventLog.connect(fresh_nats.url)
    await log.ensure_stream()
    engine = make_engine(database_url)
    proj = Titles()
    stop = asyncio.Event()
    runner = asyncio.create_task(projection.run(log, engine, proj, stop, batch_size=10))
    try:
        await draft(log, "一")
        bad = await draft(log, "坏")
        await draft(log, "三")
        head = await log.head()
        for _ in range(300):
            if projection.position(engine, proj) >= head:
                break
            await asyncio.sleep(0.02)
        assert projection.position(engine, proj) == head
        with Session(engine) as s:
            assert [t.title for t in s.exec(select(Title).order_by(Title.seq)).all()] == ["一", "三"]
        dead = await projection.dead_letters(log)
        assert [(d["projection"], d["seq"], d["type"]) for d in dead] == [("test.titles", bad, "item.drafted")]
        assert "cannot fold this title" in dead[0]["error"]

        await draft(log, "四")  # later events keep flowing
        for _ in range(200):
            if projection.position(engine, proj) == await log.head():
                break
            await asyncio.sleep(0.02)
        with Session(engine) as s:
            assert len(s.exec(select(Title)).all()) == 3
    finally:
        stop.set()
        await runner

    # a restarted service remembers the dead letter: not tried, not sent again
    stop = asyncio.Event()
    projection.reset(engine, proj)
    runner = asyncio.create_task(projection.run(log, engine, proj, stop, batch_size=10))
    try:
        for _ in range(300):
            if projection.position(engine, proj) == await log.head():
                break
            await asyncio.sleep(0.02)
        assert len(await projection.dead_letters(log)) == 1
    finally:
        stop.set()
        await runner

    # a replay folds the others and passes over the poison again, which stays one dead letter
    try:
        assert await projection.rebuild(log, engine, proj, batch_size=2) == await log.head()
        with Session(engine) as s:
            assert [t.title for t in s.exec(select(Title).order_by(Title.seq)).all()] == ["一", "三", "四"]
        assert [d["seq"] for d in await projection.dead_letters(log)] == [bad]
    finally:
        await log.close()

    env = {k: v for k, v in os.environ.items() if not k.startswith("GONGKAI_")}
    env.update(GONGKAI_NATS_URL=fresh_nats.url, GONGKAI_TEMPORAL_ADDRESS="127.0.0.1:1")
    out = subprocess.run([str(BIN / "gongkai"), "status"], env=env, capture_output=True, text=True, timeout=60)
    assert "dead letters: 1" in out.stdout, out.stdout + out.stderr
    assert f"test.titles  event {bad} (item.drafted)" in out.stdout
