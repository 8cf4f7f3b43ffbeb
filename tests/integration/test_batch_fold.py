"""The batch fold (`Projection.apply_many`, rows kept between batches) gives the tables the event-by-event fold
gives, whatever the batches, and so does a replay of every projection in one pass over the log (SQLite, or
PostgreSQL with GONGKAI_TEST_DATABASE=postgres)."""

import asyncio
import contextlib
import importlib

import pytest
from sqlalchemy import inspect, text

from bench import synthetic
from gongkai import projection, pull, readerprocess, replay
from gongkai.cli import PROJECTIONS
from gongkai.db import drop_indexes, make_engine
from gongkai.eventlog import EventLog
from tests.servers import fresh_database_url


def projections() -> list:
    return [getattr(importlib.import_module(module), cls)() for _, module, cls in PROJECTIONS]


class EventByEvent(projection.Projection):
    """The projection folded through `apply`, one event at a time (the base class's `apply_many`)."""

    def __init__(self, inner: projection.Projection):
        self.inner, self.name, self.tables = inner, inner.name, inner.tables

    def apply(self, session, stored) -> None:
        self.inner.apply(session, stored)


def tables(engine, proj) -> dict:
    out = {}
    with engine.connect() as c:
        for t in proj.tables:
            out[t.__tablename__] = sorted(repr(tuple(r)) for r in c.execute(text(f'select * from "{t.__tablename__}"')))
    out["position"] = projection.position(engine, proj)
    return out


@pytest.fixture
async def city(fresh_nats):
    """A log of a small city's work (every kind of event the projections fold), and its events."""
    await synthetic.publish(fresh_nats.url, synthetic.city(1500, orgs=6, seed=11))
    log = await EventLog.connect(fresh_nats.url)
    events, done = [], asyncio.Event()
    head = await log.head()

    async def keep(batch):
        events.extend(batch)
        if events[-1].seq >= head:
            done.set()

    await log.follow(1, keep, batch_size=500, stop=done)
    yield log, events
    await log.close()


def indexes(engine) -> set[str]:
    """The names of the database's indexes (its keys' aside)."""
    return {name for table in inspect(engine).get_table_names()
            for name in (i["name"] for i in inspect(engine).get_indexes(table))}


def fold(engine, proj, events, size: int) -> None:
    projection.setup(engine, proj)
    for i in range(0, len(events), size):
        projection.apply_batch(engine, proj, events[i:i + size])


async def test_any_batches_fold_as_one_event_at_a_time(city, tmp_path):
    _, events = city
    for i, proj in enumerate(projections()):
        ways = {}
        for way, size in (("one batch", len(events)), ("batches of 7", 7), ("event by event", 50)):
            engine = make_engine(fresh_database_url(tmp_path / f"{i}-{size}.sqlite"))
            fold(engine, EventByEvent(type(proj)()) if way == "event by event" else type(proj)(), events, size)
            ways[way] = tables(engine, proj)
            engine.dispose()
        assert ways["one batch"]["position"] == events[-1].seq
        assert ways["one batch"] == ways["batches of 7"] == ways["event by event"], proj.name


async def test_rows_kept_between_batches_are_dropped_when_another_replica_moved_on(city, tmp_path):
    """Two replicas take turns at the batches: each must read what the other wrote, not what it kept."""
    _, events = city
    for i, proj in enumerate(projections()):
        engine = make_engine(fresh_database_url(tmp_path / f"turns-{i}.sqlite"))
        replicas = [type(proj)(), type(proj)()]
        projection.setup(engine, proj)
        for n, start in enumerate(range(0, len(events), 100)):
            projection.apply_batch(engine, replicas[(n // 2) % 2], events[start:start + 100])
        alone = make_engine(fresh_database_url(tmp_path / f"alone-{i}.sqlite"))
        fold(alone, type(proj)(), events, 100)
        assert tables(engine, proj) == tables(alone, proj), proj.name
        engine.dispose()
        alone.dispose()


async def test_a_replay_in_one_pass_gives_the_tables_of_the_live_fold(city, tmp_path, monkeypatch):
    log, events = city
    live = {}
    for i, proj in enumerate(projections()):
        engine = make_engine(fresh_database_url(tmp_path / f"live-{i}.sqlite"))
        projection.setup(engine, proj)
        stop = asyncio.Event()
        runner = asyncio.create_task(projection.run(log, engine, proj, stop, batch_size=200))
        for _ in range(1000):
            if projection.position(engine, proj) >= events[-1].seq:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await runner
        live[proj.name] = tables(engine, proj)
        engine.dispose()

    shared = make_engine(fresh_database_url(tmp_path / "items.sqlite"))  # two projections in one database
    others = [make_engine(fresh_database_url(tmp_path / f"replay-{i}.sqlite")) for i in range(2)]
    targets = list(zip([shared, shared, *others], projections(), strict=True))
    for engine, proj in targets:
        projection.setup(engine, proj)
    indexed = {engine: indexes(engine) for engine in [shared, *others]}
    assert all(indexed.values())
    seen_without = []
    fold_batch = projection.apply_batch

    def watching(engine, proj, batch, **kw):  # the indexes are built after the tables are filled
        seen_without.append(not indexes(engine))
        return fold_batch(engine, proj, batch, **kw)

    monkeypatch.setattr(projection, "apply_batch", watching)
    positions = await replay.rebuild_all(log, targets, batch_size=300)
    assert positions == [events[-1].seq] * len(targets)
    assert seen_without and all(seen_without)
    assert {engine: indexes(engine) for engine in indexed} == indexed
    for engine, proj in targets:
        assert tables(engine, proj) == live[proj.name], proj.name
    # a second replay over the filled tables gives them again
    await replay.rebuild_all(log, targets, batch_size=1000)
    for engine, proj in targets:
        assert tables(engine, proj) == live[proj.name], proj.name
    for engine in [shared, *others]:
        engine.dispose()


class Drafts(projection.Projection):
    """Counts drafts a whole batch at a time; a title it cannot take fails the batch without naming the event."""

    name = "test.drafts"
    tables: list = []

    def __init__(self):
        self.seen: list[int] = []

    def apply(self, session, stored) -> None:
        self.apply_many(session, [stored])

    def apply_many(self, session, batch) -> None:
        if any(st.envelope.payload["title"] == "坏" for st in batch):
            raise ValueError("cannot fold this batch")
        self.seen += [st.seq for st in batch]


def test_a_batch_that_fails_without_naming_its_event_is_tried_event_by_event(tmp_path):
    from contracts.envelope import Actor, Envelope
    from contracts.items import ItemDrafted
    from gongkai.eventlog import Stored

    def draft(seq: int, title: str) -> Stored:
        ev = ItemDrafted(kind="proactive", category="meetings", title=title, author="a")
        return Stored(seq, Envelope.wrap(ev, aggregate_id=f"i{seq}", org="o", actor=Actor(user="a")))

    engine = make_engine(fresh_database_url(tmp_path / "drafts.sqlite"))
    proj = Drafts()
    projection.setup(engine, proj)
    batch = [draft(1, "一"), draft(2, "二"), draft(3, "坏"), draft(4, "四")]
    with pytest.raises(projection.Poison) as e:
        projection.apply_batch(engine, proj, batch)
    assert e.value.seq == 3 and projection.position(engine, proj) == 0  # nothing kept
    proj.seen.clear()
    assert projection.apply_batch(engine, proj, batch, skip={3}) == 4  # set aside, the others are applied
    assert proj.seen == [1, 2, 4]
    engine.dispose()


@pytest.mark.parametrize("reader", ["process", "in-process"])
async def test_a_replay_reads_again_what_was_lost_on_the_way(city, tmp_path, monkeypatch, reader):
    """Messages dropped between the server and the replay (a slow consumer, a reconnect) are read again,
    whether the log is read in a process of its own (a log from `EventLog.connect`) or not."""
    log, events = city
    if reader == "in-process":
        monkeypatch.setattr(log, "dial", None)
    kind = readerprocess.ProcessReader if reader == "process" else pull.Reader
    take, calls = kind.take, []

    async def lossy(self):
        msgs = await take(self)
        calls.append(len(msgs))
        return [m for i, m in enumerate(msgs) if i != 10] if len(calls) in (2, 3) else msgs

    monkeypatch.setattr(kind, "take", lossy)
    reference = make_engine(fresh_database_url(tmp_path / "reference.sqlite"))
    engine = make_engine(fresh_database_url(tmp_path / "lossy.sqlite"))
    for proj in projections():
        fold(reference, type(proj)(), events, len(events))
    targets = [(engine, proj) for proj in projections()]
    assert await replay.rebuild_all(log, targets, batch_size=200) == [events[-1].seq] * len(targets)
    assert len(calls) > len(events) // 200 + 2  # the batches after each loss were read again
    for _, proj in targets:
        assert tables(engine, proj) == tables(reference, proj), proj.name
    engine.dispose()
    reference.dispose()


async def test_the_indexes_a_stopped_replay_dropped_are_back_at_the_next_start(tmp_path):
    engine = make_engine(fresh_database_url(tmp_path / "stopped.sqlite"))
    proj = projections()[-1]
    projection.setup(engine, proj)
    before = indexes(engine)
    drop_indexes(engine, proj.tables)  # as a replay does, killed before it built them again
    assert not indexes(engine) & before
    projection.setup(engine, proj)  # a service's start
    assert indexes(engine) == before
    engine.dispose()


async def test_the_reader_process_ends_with_the_replay_and_its_death_fails_the_replay(city, tmp_path, monkeypatch):
    log, events = city
    readers = []
    made = readerprocess.reader_for

    def keep(*args):
        readers.append(made(*args))
        return readers[-1]

    monkeypatch.setattr(replay, "reader_for", keep)
    engine = make_engine(fresh_database_url(tmp_path / "process.sqlite"))
    targets = [(engine, proj) for proj in projections()]
    assert await replay.rebuild_all(log, targets, batch_size=200) == [events[-1].seq] * len(targets)
    assert isinstance(readers[0], readerprocess.ProcessReader) and readers[0].proc.returncode == 0

    take = readerprocess.ProcessReader.take

    async def killed_after_the_first_batch(self):
        msgs = await take(self)
        with contextlib.suppress(ProcessLookupError):  # (once: the batches it wrote before are still read)
            self.proc.kill()
        return msgs

    monkeypatch.setattr(readerprocess.ProcessReader, "take", killed_after_the_first_batch)
    with pytest.raises(RuntimeError, match="reader process ended"):
        await replay.rebuild_all(log, targets, batch_size=200)
    engine.dispose()


def test_new_rows_go_by_copy_only_through_a_driver_that_has_it():
    """psycopg 3 copies a rebuild's new rows; a deployment whose URL names psycopg2 (no `Cursor.copy`) or SQLite
    gets INSERTs, rather than every batch failing."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.dialects.postgresql import psycopg, psycopg2

    from gongkai.batchfold import by_copy

    assert [by_copy(d.dialect()) for d in (psycopg, psycopg2, sqlite)] == [True, False, False]
