"""Folding a projection's batch at once, for `Projection.apply_many`: `Rows` are the rows the batch touches,
read with one query per table, folded in memory and written once each; a `Memo` keeps them from one batch to
the next (trusted from the moment its batch commits). `defer` serves projections that still fold event by event
(`apply`): it keeps the batch until its transaction commits, then folds it with the projection's `fold_batch`.
Shared by the items, reviews and reports projections (services share only `gongkai/` and `contracts/`)."""

from __future__ import annotations

import functools
from collections import defaultdict
from contextlib import contextmanager
from types import SimpleNamespace

from sqlalchemy import Date, DateTime, TypeDecorator, event, exists
from sqlalchemy import select as select_rows
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import TypeEngine
from sqlmodel import Session, SQLModel

from contracts.envelope import Event
from gongkai.eventlog import Stored
from gongkai.projection import BATCH_INFO, Poison

#: rows a projection keeps between batches (all tables together); beyond it the memo starts afresh
MEMO_ROWS = 20_000
#: the same while the projection is rebuilt (`gongkai.replay`): the rows of about a million events, so that a
#: replay reads nothing back from the database
REBUILD_MEMO_ROWS = 250_000


class Memo:
    """A projection's rows as its last committed batch left them, so the next batch reads none of them again.

    They stay true only while no one else writes the tables: every write goes through `apply_batch` under the
    position row's lock, so the rows are trusted when the batch starts at the very position the memo's batch
    reached in the same database — any other position (another replica's batch, a reset, a rolled back or
    failed batch) empties the memo. Folded from an empty database and never emptied since, it holds every row
    there is, and a key it lacks needs no query at all.
    """

    def __init__(self, tables: list[type[SQLModel]], limit: int = MEMO_ROWS):
        self.tables, self.limit = tables, limit
        self.at: tuple[str, int] | None = None  # (database, position) the rows are true at
        self.reaching: tuple[str, int] | None = None  # where the batch being folded will leave them
        self.clear()

    def clear(self) -> None:
        self.rows: dict[type[SQLModel], dict[str, SimpleNamespace | None]] = defaultdict(dict)
        self.stored: dict[type[SQLModel], set[str]] = defaultdict(set)  # keys the database holds
        # the values last written for a key (as bound, key last): the next UPDATE sets only what differs
        self.written: dict[type[SQLModel], dict[str, tuple]] = defaultdict(dict)
        self.complete = False

    def enter(self, conn: Connection, batch: tuple[str, int, int]) -> None:
        database, current, reached = batch
        if self.at != (database, current):
            self.clear()
            # position 0 is a fresh or reset projection, whose tables are normally empty: check, once
            self.complete = current == 0 and not any(
                conn.execute(select_rows(exists(select_rows(t.__table__)))).scalar() for t in self.tables)  # type: ignore
        self.at, self.reaching = None, (database, reached)  # until the batch is written, nothing is trusted

    def leave(self) -> None:
        self.at = self.reaching
        if sum(len(r) for r in self.rows.values()) > self.limit:
            self.clear()


class Rows:
    """The rows one batch of events touches: read with one query per table, folded in memory as plain
    objects, and written once each when the batch is folded — an INSERT for a new row, an UPDATE by key for one
    the database held. Putting a new row under an existing key replaces it whole (as `Session.merge` did).
    Given a `memo` (and the batch's position, from `apply_batch`), rows are read from it first."""

    def __init__(self, session: Session, memo: Memo | None = None):
        self.conn = session.connection()  # the batch's transaction
        batch = session.info.get(BATCH_INFO)
        if memo is None or batch is None:
            memo = Memo([])
        else:
            memo.enter(self.conn, batch)
            event.listen(session, "after_commit", lambda _: memo.leave(), once=True)
        self.memo = memo
        self.rows, self.stored, self.written = memo.rows, memo.stored, memo.written
        self.changed: dict[type[SQLModel], dict[str, SimpleNamespace]] = defaultdict(dict)

    @property
    def complete(self) -> bool:
        """Whether every row of the tables is at hand (what `load` would read is known to be absent)."""
        return self.memo.complete

    def load(self, model: type[SQLModel], ids) -> None:
        known = self.rows[model]
        todo = [i for i in set(ids) if i not in known]
        if self.memo.complete:
            known.update(dict.fromkeys(todo))
            return
        table, key = model.__table__, _key(model)  # type: ignore[attr-defined]
        for start in range(0, len(todo), 500):
            part = todo[start:start + 500]
            for m in self.conn.execute(select_rows(table).where(table.c[key].in_(part))).mappings():
                known[m[key]] = SimpleNamespace(**m)
                self.stored[model].add(m[key])
            for i in part:
                known.setdefault(i, None)

    def get(self, model: type[SQLModel], id_: str) -> SimpleNamespace | None:
        if id_ not in self.rows[model]:
            self.load(model, [id_])
        return self.rows[model][id_]

    @staticmethod
    def new(model: type[SQLModel], **values) -> SimpleNamespace:
        return SimpleNamespace(**{**_defaults(model), **values})

    def put(self, model: type[SQLModel], row: SimpleNamespace) -> None:
        id_ = getattr(row, _key(model))
        self.rows[model][id_] = self.changed[model][id_] = row

    def write(self) -> None:
        dialect = self.conn.dialect
        for model, changed in self.changed.items():
            w = _writer(model, dialect)
            stored, written = self.stored[model], self.written[model]
            new: list[tuple] = []
            # an UPDATE sets only the columns that changed since this memo last wrote the row (every index
            # over a column in SET is rewritten, even to the same value); rows read from the database: all
            updates: dict[tuple[int, ...], list[tuple]] = defaultdict(list)
            for k, r in changed.items():
                values = w.values(r, w.order)
                if k not in stored:
                    new.append(values)
                elif (before := written.get(k)) is None:
                    updates[w.every].append(values)
                elif cols := tuple(i for i in w.every if values[i] != before[i]):
                    updates[cols].append((*(values[i] for i in cols), values[-1]))
                written[k] = values
            # driver-level executemany: SQLAlchemy's per-row parameter handling cost more than the fold itself
            if len(new) >= COPY_ROWS and by_copy(dialect):
                _copy(self.conn, w, new)
            elif new:
                self.conn.exec_driver_sql(w.insert, new)
            for cols, rows in updates.items():
                self.conn.exec_driver_sql(w.update(cols), rows)
            stored.update(changed)
        self.changed.clear()


#: new rows from which PostgreSQL is given them with COPY rather than INSERTs (a rebuild's batches)
COPY_ROWS = 100


def by_copy(dialect: Dialect) -> bool:
    """Whether new rows can go by COPY: PostgreSQL through psycopg 3 (`Cursor.copy`); psycopg2, which a
    deployment may name in its URL, has no such call and gets INSERTs."""
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _copy(conn: Connection, w: _Writer, rows: list[tuple]) -> None:
    """New rows in one COPY, in the batch's transaction: PostgreSQL stores them at a fraction of what as many
    INSERTs cost it, and psycopg writes them without a statement per row."""
    with conn.connection.driver_connection.cursor() as cur, cur.copy(w.copy) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(row)


class _Writer:
    """A table's INSERT and UPDATE-by-key in the driver's own SQL, with SQLAlchemy's bind processors (how
    SQLite stores a datetime, say), so rows are stored exactly as `insert(table)` would store them."""

    def __init__(self, model: type[SQLModel], dialect: Dialect):
        table, key = model.__table__, _key(model)  # type: ignore[attr-defined]
        quote = dialect.identifier_preparer.quote
        mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}[dialect.paramstyle]
        columns = [c.name for c in table.columns]
        processors = [_remembered(c.type.dialect_impl(dialect).bind_processor(dialect), c.type) for c in table.columns]
        by_name = dict(zip(columns, processors, strict=True))
        ordered = [c for c in columns if c != key] + [key]  # the key last, where an UPDATE's WHERE takes it
        self.order = [(c, by_name[c]) for c in ordered]
        self.every = tuple(range(len(ordered) - 1))  # the positions of the columns an UPDATE may set
        self._name, self._columns, self._key, self._quote, self._mark = quote(table.name), ordered, key, quote, mark
        names = ", ".join(quote(c) for c in ordered)
        self.insert = f"INSERT INTO {self._name} ({names}) VALUES ({', '.join([mark] * len(ordered))})"
        self.copy = f"COPY {self._name} ({names}) FROM STDIN"
        self._updates: dict[tuple[int, ...], str] = {}

    def update(self, cols: tuple[int, ...]) -> str:
        """UPDATE by key of the columns at positions `cols` (of `order`); parameters: their values, then the key."""
        sql = self._updates.get(cols)
        if sql is None:
            q, mark = self._quote, self._mark
            sql = self._updates[cols] = (
                f"UPDATE {self._name} SET {', '.join(f'{q(self._columns[i])} = {mark}' for i in cols)} "
                f"WHERE {q(self._key)} = {mark}")
        return sql

    @staticmethod
    def values(row: SimpleNamespace, order: list) -> tuple:
        d = vars(row)
        return tuple([d[c] if p is None else p(d[c]) for c, p in order])


def _remembered(processor, type_: TypeEngine):
    """A date or datetime column's bind processor, remembering its answers: rows are written again with the
    times they already had, and SQLite's conversion of an aware datetime cost more than the rest of the row.
    (Equal dates and equal aware datetimes — the same instant — are stored alike; a naive datetime, refused,
    is not remembered.)"""
    kind = type_.impl if isinstance(type_, TypeDecorator) else type_
    if processor is None or not isinstance(kind, Date | DateTime):
        return processor
    return functools.lru_cache(maxsize=1 << 16)(processor)


_WRITERS: dict[tuple[type[SQLModel], str], _Writer] = {}


def _writer(model: type[SQLModel], dialect: Dialect) -> _Writer:
    w = _WRITERS.get((model, dialect.name))
    if w is None:
        w = _WRITERS[(model, dialect.name)] = _Writer(model, dialect)
    return w


_DEFAULTS: dict[type[SQLModel], dict] = {}


def _defaults(model: type[SQLModel]) -> dict:
    if model not in _DEFAULTS:  # the models' defaults are constants (no factories)
        _DEFAULTS[model] = {name: f.default for name, f in model.model_fields.items() if not f.is_required()}
    return _DEFAULTS[model]


_KEYS: dict[type[SQLModel], str] = {}


def _key(model: type[SQLModel]) -> str:
    key = _KEYS.get(model)
    if key is None:
        key = _KEYS[model] = model.__table__.primary_key.columns[0].name  # type: ignore[attr-defined]
    return key


def decoded(batch: list[Stored], wanted) -> list[tuple[Stored, Event]]:
    """The batch's events `wanted(envelope)` keeps, with their payloads validated (an event that cannot be read
    is that event's poison). A replay hands the same events to every projection: each is validated once."""
    if batch and _EVENTS_OF[0] is not batch[0]:  # another batch: what the last one held is not needed again
        _EVENTS.clear()
        _EVENTS_OF[0] = batch[0]
    out = []
    for st in batch:
        env = st.envelope
        if not wanted(env):
            continue
        known = _EVENTS.get(id(env))
        if known is not None and known[0] is env:
            out.append((st, known[1]))
            continue
        try:
            ev = env.event()
        except Exception as e:
            raise Poison(st.seq, st, e) from e
        _EVENTS[id(env)] = (env, ev)  # (the envelope is kept with it, so its id is not reused meanwhile)
        out.append((st, ev))
    return out


#: the payloads of the last batch, by their envelope (events are immutable: projections may share them)
_EVENTS: dict[int, tuple[object, Event]] = {}
_EVENTS_OF: list[Stored | None] = [None]  # the first event of that batch


def defer(session: Session, projection, stored: Stored, ev: Event) -> None:
    """Keep one event of the batch (with its payload, already validated) until the batch's transaction
    commits, then fold them all at once with `projection.fold_batch` (in the same transaction)."""
    key = f"gongkai.pending.{projection.name}"
    pending = session.info.get(key)
    if pending is None:
        pending = session.info[key] = []

        def fold(s: Session) -> None:
            if (events := s.info.pop(key, None)) is not None:
                projection.fold_batch(s, events)

        event.listen(session, "before_commit", fold, once=True)
        event.listen(session, "after_rollback", lambda s: s.info.pop(key, None), once=True)
    pending.append((stored, ev))


def fold_each(events: list[tuple[Stored, Event]], fold) -> None:
    """`fold(stored, event)` for each event in order, as `folding` would guard each (without its cost)."""
    for st, ev in events:
        try:
            fold(st, ev)
        except (OperationalError, Poison):
            raise
        except Exception as e:
            raise Poison(st.seq, st, e) from e


@contextmanager
def folding(st: Stored):
    """An event whose fold fails is the projection's poison (`gongkai.projection` sets it aside after a few
    tries), not the batch's; the database's own failures stay what they are."""
    try:
        yield
    except (OperationalError, Poison):
        raise
    except Exception as e:
        raise Poison(st.seq, st, e) from e
