"""Projections: fold the event log into SQL tables, in batches, exactly once, from any number of replicas.

A projection's position (the last stream sequence it applied) is written in the same transaction as its
rows, after locking the position row. So a batch delivered twice changes nothing, a crash between commit and
ack resumes where the database says, and two replicas of a service never apply one event twice.

Replicas share one durable pull consumer per projection and database. It lets one batch at a time be
outstanding (`max_ack_pending` = batch size), so events are applied in order whichever replica holds the
batch; a replica that dies holding one leaves it to be redelivered to another after `ack_wait`. The database
is the authority on the position: when the consumer is ahead of it (a `gongkai replay` reset the tables, or a
fresh database meets an old consumer), the consumer is re-created from the database's position.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from abc import ABC, abstractmethod

import orjson
from nats.errors import Error as NatsError
from nats.js import api
from nats.js.errors import NotFoundError
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, Session, SQLModel

from contracts import subjects
from gongkai import observability
from gongkai.db import create_tables
from gongkai.eventlog import EventLog, Stored, decode
from gongkai.pull import position_of, quicker_headers, seq_of, status_of

log = logging.getLogger(__name__)

#: how long a replica may hold a batch before it is redelivered to another; a batch takes well under a second
ACK_WAIT_S = 10.0
#: how long one pull request waits for new events before it is renewed
PULL_EXPIRES_S = 5.0
#: how many times an event is tried before it goes to the dead letters
MAX_ATTEMPTS = 3
#: the stream of events a projection could not fold, one subject per projection
DEAD_STREAM = "GONGKAI_DEAD"
DEAD_SUBJECTS = "gongkai.dead.>"
#: how long a replica waits before asking again while another one holds the pull request
STANDBY_S = 0.5
#: a consumer no replica has pulled from for this long is removed by the server (the database keeps the position)
INACTIVE_S = 24 * 3600.0


class ProjectionPosition(SQLModel, table=True):
    __tablename__ = "projection_position"
    name: str = Field(primary_key=True)
    position: int = 0


_POSITIONS = ProjectionPosition.__table__  # type: ignore[attr-defined]
# the position row's statements, built once and run on the batch's connection: a live batch of a few events
# spent more building and ORM-evaluating them than folding its events
_READ_POSITION = select(_POSITIONS.c.position).where(_POSITIONS.c.name == bindparam("projection")).with_for_update()
_ADD_POSITION = insert(_POSITIONS).values(name=bindparam("projection"), position=0)
_MOVE_POSITION = update(_POSITIONS).where(_POSITIONS.c.name == bindparam("projection"),
                                          _POSITIONS.c.position == bindparam("current")) \
    .values(position=bindparam("reached"))

#: `Session.info` key of the batch being applied: (database, position before it, position after it)
BATCH_INFO = "gongkai.batch"


class Projection(ABC):
    """A fold of events into tables. `apply` and `apply_many` run inside the batch's transaction and do no
    other I/O."""

    name: str
    tables: list[type[SQLModel]]
    #: the aggregates whose events it folds (None: all); the others' events are passed over undecoded
    aggregates: frozenset[str] | None = None

    @abstractmethod
    def apply(self, session: Session, stored: Stored) -> None: ...

    def apply_many(self, session: Session, batch: list[Stored]) -> None:
        """Fold a whole batch, in order; a projection that can fold it at once overrides this. An event that
        cannot be folded raises `Poison` naming it (any other error is retried one event at a time)."""
        for st in batch:
            try:
                self.apply(session, st)
            except (OperationalError, Poison):
                raise
            except Exception as e:
                raise Poison(st.seq, st, e) from e


class PositionMoved(Exception):
    """Someone else (a rebuild, another replica) moved the position while this batch was applied."""


class Gap(Exception):
    """The batch starts after the event the database expects next: the feed must restart from `position`."""

    def __init__(self, position: int, first: int):
        super().__init__(f"database is at {position}, batch starts at {first}")
        self.position = position


class Poison(Exception):
    """An event the projection cannot fold (a bug, or an event it does not understand)."""

    def __init__(self, seq: int, stored: Stored | None, error: BaseException | str):
        super().__init__(f"event {seq}: {error}")
        self.seq, self.stored, self.error = seq, stored, error


def setup(engine: Engine, projection: Projection) -> None:
    create_tables(engine, [ProjectionPosition, *projection.tables])


def position(engine: Engine, projection: Projection) -> int:
    with Session(engine) as s:
        row = s.get(ProjectionPosition, projection.name)
        return row.position if row else 0


def apply_batch(engine: Engine, projection: Projection, batch: list[Stored], *, gap_ok: bool = False,
                skip: frozenset[int] | set[int] = frozenset()) -> int:
    """Apply the batch's events the database has not seen, up to the first missing one, and move the
    position, atomically. Returns the new position (events after it are left for a later batch).

    The position row is locked first (PostgreSQL; SQLite has one writer anyway), so a replica applying the
    same events at the same moment waits, then finds them applied. Raises `Gap` when the first unseen event
    is not the next one, unless `gap_ok` (the stream itself skips those sequences). Sequences in `skip` are
    dead letters: passed over, as if applied. An event whose fold fails raises `Poison` and nothing is kept.
    """
    try:
        return _apply_batch(engine, projection, batch, gap_ok, skip, together=True)
    except _Unattributed:  # the batch fold failed without naming its event: find it one event at a time
        return _apply_batch(engine, projection, batch, gap_ok, skip, together=False)


class _Unattributed(Exception):
    pass


def _apply_batch(engine: Engine, projection: Projection, batch: list[Stored], gap_ok: bool,
                 skip: frozenset[int] | set[int], together: bool) -> int:
    entries: dict[int, Stored | None] = {q: None for q in skip}
    entries.update({st.seq: st for st in batch})
    with Session(engine) as s:
        conn = s.connection()
        known = conn.execute(_READ_POSITION, {"projection": projection.name}).scalar()
        current = known or 0
        fresh = sorted(q for q in entries if q > current)
        if not fresh:
            return current
        if fresh[0] != current + 1 and not gap_ok:
            raise Gap(current, fresh[0])
        run = [fresh[0]]  # events held by another replica may be missing from the middle of a batch
        for q in fresh[1:]:
            if q != run[-1] + 1:
                break
            run.append(q)
        if known is None:
            conn.execute(_ADD_POSITION, {"projection": projection.name})
        applied = [st for q in run if (st := entries[q]) is not None and q not in skip]
        s.info[BATCH_INFO] = (engine.url.render_as_string(hide_password=True), current, run[-1])
        with observability.projection_span(projection.name, applied):
            try:
                if together:
                    projection.apply_many(s, applied)
                else:
                    for st in applied:
                        _apply_one(projection, s, st)
            except (OperationalError, IntegrityError):  # the database, not the events: a lock, a lost connection
                raise
            except Poison:
                s.rollback()
                raise
            except Exception as e:
                s.rollback()
                raise _Unattributed() from e
            moved = conn.execute(_MOVE_POSITION, {"projection": projection.name, "current": current, "reached": run[-1]})
            if moved.rowcount != 1:
                s.rollback()
                raise PositionMoved(f"{projection.name}: position changed during the batch")
            s.commit()
    if applied:
        observability.projection_applied(projection.name, len(applied), run[-1], observability.batch_head(batch),
                                         applied[0].envelope.occurred_at)
    return run[-1]


def _apply_one(projection: Projection, s: Session, st: Stored) -> None:
    try:
        projection.apply_many(s, [st])
    except (OperationalError, Poison):
        raise
    except Exception as e:
        raise Poison(st.seq, st, e) from e


def reset(engine: Engine, projection: Projection) -> None:
    """Empty the projection's tables and its position in one transaction."""
    with Session(engine) as s:
        for table in projection.tables:
            s.exec(delete(table))  # type: ignore[call-overload]
        s.exec(delete(ProjectionPosition).where(ProjectionPosition.name == projection.name))  # type: ignore
        s.commit()


def consumer_name(projection: Projection, engine: Engine) -> str:
    """One durable consumer per projection and database: replicas of a service share it, while another
    deployment (or a test) folding the same log into another database gets its own."""
    db = hashlib.sha256(engine.url.render_as_string(hide_password=True).encode()).hexdigest()[:10]
    return f"proj_{projection.name.replace('.', '_')}_{db}"


class SharedFeed:
    """A durable pull consumer driven by hand: one pull request at a time, each batch acked after commit.

    nats-py's `fetch` waits out its whole timeout once a first message arrived, which would add that timeout
    to every event's latency on a quiet log; here a batch is whatever has arrived, handed on at once.
    """

    def __init__(self, eventlog: EventLog, durable: str, batch_size: int):
        self.log, self.durable, self.batch_size = eventlog, durable, batch_size
        self.queue: asyncio.Queue = asyncio.Queue()
        self.sub = None
        self.outstanding = 0  # events the current pull request may still deliver

    async def open(self, start_seq: int) -> None:
        quicker_headers(self.log.nc)
        try:
            await self.log.js.consumer_info(self.log.stream, self.durable)
        except NotFoundError:
            await self._create(start_seq)
        inbox = self.log.nc.new_inbox()
        self.sub = await self.log.nc.subscribe(inbox, cb=self.queue.put, pending_msgs_limit=self.batch_size * 4)
        self.inbox = inbox

    async def _create(self, start_seq: int) -> None:
        policy = dict(deliver_policy=api.DeliverPolicy.ALL) if start_seq <= 1 else dict(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq)
        # one pull request at a time across all replicas (max_waiting), so batches rarely interleave
        config = api.ConsumerConfig(durable_name=self.durable, ack_policy=api.AckPolicy.ALL, max_waiting=1,
                                    max_ack_pending=self.batch_size, ack_wait=ACK_WAIT_S,
                                    filter_subject=f"{subjects.EVENTS}.>", inactive_threshold=INACTIVE_S,
                                    **policy)
        with contextlib.suppress(NatsError):  # another replica created it a moment ago: share theirs
            await self.log.js.add_consumer(self.log.stream, config)

    async def restart_at(self, start_seq: int) -> None:
        """Re-create the consumer so that it delivers from `start_seq` (the database's next event)."""
        with contextlib.suppress(NotFoundError):
            await self.log.js.delete_consumer(self.log.stream, self.durable)
        await self._create(start_seq)
        while not self.queue.empty():
            self.queue.get_nowait()
        self.outstanding = 0

    async def _pull(self) -> None:
        request = {"batch": self.batch_size, "expires": int(PULL_EXPIRES_S * 1e9)}
        await self.log.nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{self.log.stream}.{self.durable}",
                                  orjson.dumps(request), reply=self.inbox)
        self.outstanding = self.batch_size

    async def next_batch(self) -> list | None:
        """The events that have arrived (at least one), or None when a pull ended without any."""
        if self.outstanding == 0:
            await self._pull()
        elif self.outstanding < 0:  # another replica is pulling: stand by for a moment, then ask again
            await asyncio.sleep(STANDBY_S)
            self.outstanding = 0
            return None
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout=PULL_EXPIRES_S + 2)
        except TimeoutError:  # the request was lost (a reconnect, a new consumer leader): ask again
            self.outstanding = 0
            return None
        msgs, ended, refused = [], False, False
        for msg in [first, *self._drain()]:
            status = status_of(msg)
            if status == "409" and "MaxWaiting" in msg.headers.get("Description", ""):
                refused = True
            elif status and status != "100":  # 404/408: the request ended; 409: the consumer changed
                ended = True
            if not status:
                msgs.append(msg)
        self.outstanding = -1 if refused else 0 if ended else max(self.outstanding - len(msgs), 0)
        return msgs or None

    def _drain(self) -> list:
        out = []
        while not self.queue.empty() and len(out) < self.batch_size:
            out.append(self.queue.get_nowait())
        return out

    async def close(self) -> None:
        """Stop pulling, and hand back at once what arrived but was not applied (rather than after the ack
        wait), so another replica takes it over without delay."""
        if self.sub is not None:
            with contextlib.suppress(NatsError):
                await self.sub.unsubscribe()
                for msg in self._drain():
                    if not status_of(msg):
                        await msg.nak()


def decode_all(msgs: list, aggregates: frozenset[str] | None = None) -> tuple[list[Stored], list[Poison], set[int]]:
    """The messages as events; those that are not events at all (no retry will help them); and the sequences
    of the events of other `aggregates` than those given, told by their subject and not decoded."""
    out, poisoned, passed = [], [], set()
    for m in msgs:
        if aggregates is not None and m.subject.startswith(_EVENTS) and \
                m.subject[len(_EVENTS):].partition(".")[0] not in aggregates:
            passed.add(seq_of(m))
            continue
        try:
            env = decode(m.data)
        except Exception as e:
            poisoned.append(Poison(seq_of(m), None, e))
            continue
        seq, pending = position_of(m)
        out.append(Stored(seq, env, headers=m.headers, pending=pending))
    return out, poisoned, passed


_EVENTS = f"{subjects.EVENTS}."  # an event's subject: gongkai.events.<aggregate>.<id>


class Folder:
    """Applies batches for one projection, setting aside what it cannot fold: an event that fails
    `MAX_ATTEMPTS` times (or cannot even be decoded) goes to the dead-letter stream with its error and is
    passed over, so it never blocks the events behind it."""

    def __init__(self, eventlog: EventLog, engine: Engine, projection: Projection):
        self.log, self.engine, self.projection = eventlog, engine, projection
        self.attempts: dict[int, int] = {}
        self.dead: set[int] = set()
        self.poisoned: list[Poison] = []  # found while decoding or folding, to be sent before the next try
        self.passed: set[int] = set()  # the batch's events of aggregates the projection does not fold

    async def recall(self) -> None:
        """The events this projection already set aside (before a restart): not tried again."""
        self.dead |= {d["seq"] for d in await dead_letters(self.log) if d["projection"] == self.projection.name}

    def decode(self, msgs: list) -> list[Stored]:
        """The batch's events, setting aside those that are not events and passing over the other aggregates'
        (until the next batch is decoded)."""
        out, poisoned, self.passed = decode_all(msgs, self.projection.aggregates)
        self.poisoned.extend(poisoned)
        return out

    async def fold(self, batch: list[Stored], *, gap_ok: bool = False) -> int:
        """Apply `batch` (see `apply_batch`), retrying transient failures and dead-lettering poison."""
        for attempt in range(1, 100):
            for p in self.poisoned:
                await self._bury(p)
            self.poisoned = []
            try:
                return await asyncio.to_thread(apply_batch, self.engine, self.projection, batch, gap_ok=gap_ok,
                                               skip=frozenset(self.dead | self.passed))
            except Poison as p:
                self.attempts[p.seq] = self.attempts.get(p.seq, 0) + 1
                if self.attempts[p.seq] >= MAX_ATTEMPTS:
                    self.poisoned.append(p)
                else:
                    log.warning("projection %s: %s (attempt %d)", self.projection.name, p, self.attempts[p.seq])
                    await asyncio.sleep(0.1 * self.attempts[p.seq])
            except (PositionMoved, OperationalError, IntegrityError) as e:  # a racing replica: its commit won
                log.info("projection %s retries a batch: %s", self.projection.name, e)
                await asyncio.sleep(min(0.05 * attempt, 1.0))
        raise RuntimeError(f"projection {self.projection.name}: a batch kept failing")

    async def _bury(self, p: Poison) -> None:
        log.error("projection %s: event %d goes to the dead letters: %s", self.projection.name, p.seq, p.error)
        await send_dead_letter(self.log, self.projection.name, p)
        self.dead.add(p.seq)
        self.attempts.pop(p.seq, None)


async def run(eventlog: EventLog, engine: Engine, projection: Projection, stop: asyncio.Event,
              *, batch_size: int = 500) -> None:
    """Keep the projection up to date with the log until `stop` is set (one of any number of replicas)."""
    setup(engine, projection)
    feed = SharedFeed(eventlog, consumer_name(projection, engine), batch_size)
    folder = Folder(eventlog, engine, projection)
    await folder.recall()
    while not stop.is_set():
        try:
            if feed.sub is None:
                await feed.open(await asyncio.to_thread(position, engine, projection) + 1)
            msgs = await _until(stop, feed.next_batch())
            if not msgs:
                continue
            batch = folder.decode(msgs)
            try:
                reached = await folder.fold(batch)
            except Gap as gap:
                await _mend(feed, folder, batch, msgs, gap)
                continue
            await _settle(msgs, reached)
        except asyncio.CancelledError:
            raise
        except Exception:
            if stop.is_set():
                break
            log.exception("projection %s failed; retrying in 1 s", projection.name)
            await feed.close()
            feed = SharedFeed(eventlog, feed.durable, batch_size)
            await asyncio.sleep(1)
    await feed.close()


async def _mend(feed: SharedFeed, folder: Folder, batch: list[Stored], msgs: list, gap: Gap) -> None:
    """A batch that starts after the database's next event. Either another replica still holds the events
    in between (hand this batch back for a moment), or the consumer acknowledged events the database lacks
    (its tables were reset or replaced: feed again from the database's position)."""
    info = await feed.log.js.consumer_info(feed.log.stream, feed.durable)
    # read after the ack floor: a replica commits before it acks, so a healthy database is never behind it
    engine, projection = folder.engine, folder.projection
    current = await asyncio.to_thread(position, engine, projection)
    if info.ack_floor and (info.ack_floor.stream_seq or 0) > current:
        log.info("projection %s: %s; feeding again from %d", projection.name, gap, current + 1)
        await feed.restart_at(current + 1)
        return
    try:
        await feed.log.js.get_msg(feed.log.stream, gap.position + 1)
    except NotFoundError:  # the stream itself has no such event: nothing is missing
        await _settle(msgs, await folder.fold(batch, gap_ok=True))
        return
    await _settle(msgs, gap.position)


async def _settle(msgs: list, reached: int) -> None:
    """Acknowledge what the database now holds (AckAll: one ack covers every earlier event) and hand back
    the rest, to be delivered again once the events before them are in."""
    held = [m for m in msgs if m.metadata.sequence.stream <= reached]
    if held:
        await max(held, key=lambda m: m.metadata.sequence.stream).ack()
    for msg in msgs:
        if msg.metadata.sequence.stream > reached:
            await msg.nak(delay=0.1)


async def _until(stop: asyncio.Event, work):
    """`work`'s result, or None if `stop` is set first."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopper.cancel()
        return task.result()
    task.cancel()
    return None


async def rebuild(eventlog: EventLog, engine: Engine, projection: Projection, *, batch_size: int = 5000,
                  progress=None) -> int:
    """Drop and refold the projection from the first event; returns the final position."""
    from gongkai.replay import rebuild_all  # (it builds on this module)

    return (await rebuild_all(eventlog, [(engine, projection)], batch_size=batch_size, progress=progress))[0]


async def ensure_dead_letters(eventlog: EventLog) -> None:
    try:
        await eventlog.js.stream_info(DEAD_STREAM)
    except NotFoundError:
        events = await eventlog.js.stream_info(eventlog.stream)  # as many copies as the log itself
        config = api.StreamConfig(name=DEAD_STREAM, subjects=[DEAD_SUBJECTS], storage=api.StorageType.FILE,
                                  retention=api.RetentionPolicy.LIMITS, duplicate_window=120.0,
                                  num_replicas=events.config.num_replicas or 1)
        with contextlib.suppress(NatsError):  # created by another service a moment ago
            await eventlog.js.add_stream(config)


async def send_dead_letter(eventlog: EventLog, projection_name: str, p: Poison) -> None:
    """Keep the event and why it failed; the message id makes a replica's or a rebuild's repeat a no-op."""
    await ensure_dead_letters(eventlog)
    env = p.stored.envelope if p.stored else None
    headers = {"Nats-Msg-Id": f"{projection_name}:{p.seq}", "Gongkai-Projection": projection_name,
               "Gongkai-Seq": str(p.seq), "Gongkai-Error": f"{type(p.error).__name__}: {p.error}"[:1000],
               "Gongkai-Event-Type": env.type if env else "", "Gongkai-Event-Id": env.event_id if env else ""}
    payload = orjson.dumps(env.model_dump(mode="json")) if env else b""
    await eventlog.js.publish(f"gongkai.dead.{projection_name.replace('.', '_')}", payload, headers=headers,
                              stream=DEAD_STREAM)


async def dead_letters(eventlog: EventLog) -> list[dict]:
    """Every dead letter, oldest first: which projection, which event, and the error."""
    try:
        info = await eventlog.js.stream_info(DEAD_STREAM)
    except NotFoundError:
        return []
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        with contextlib.suppress(NotFoundError):
            msg = await eventlog.js.get_msg(DEAD_STREAM, seq)
            h = msg.headers or {}
            out.append({"projection": h.get("Gongkai-Projection"), "seq": int(h.get("Gongkai-Seq", 0)),
                        "type": h.get("Gongkai-Event-Type"), "event_id": h.get("Gongkai-Event-Id"),
                        "error": h.get("Gongkai-Error")})
    return out
