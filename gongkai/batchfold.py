"""Folding a projection's batch at once: `gongkai.projection` applies events one at a time inside the batch's
transaction, so a projection that `defer`s them keeps its batch until the transaction commits, then folds it
with `fold_batch` over `Rows` — the rows the batch touches, read with one query per table and written once.
Shared by the items, reviews and reports projections (services share only `gongkai/` and `contracts/`)."""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from types import SimpleNamespace

from sqlalchemy import bindparam, event, insert, update
from sqlalchemy import select as select_rows
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

from contracts.envelope import Event
from gongkai.eventlog import Stored
from gongkai.projection import Poison


class Rows:
    """The rows one batch of events touches: read with one query per table, folded in memory as plain
    objects, and written once each when the batch commits — an INSERT for a new row, an UPDATE by key for one
    the database held. Putting a new row under an existing key replaces it whole (as `Session.merge` did)."""

    def __init__(self, session: Session):
        self.conn = session.connection()  # the batch's transaction
        self.rows: dict[type[SQLModel], dict[str, SimpleNamespace | None]] = defaultdict(dict)
        self.stored: dict[type[SQLModel], set[str]] = defaultdict(set)  # keys the database holds
        self.changed: dict[type[SQLModel], dict[str, SimpleNamespace]] = defaultdict(dict)

    def load(self, model: type[SQLModel], ids) -> None:
        table, key = model.__table__, _key(model)  # type: ignore[attr-defined]
        known = self.rows[model]
        todo = [i for i in set(ids) if i not in known]
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
        for model, changed in self.changed.items():
            table, key = model.__table__, _key(model)  # type: ignore[attr-defined]
            new = [vars(r) for k, r in changed.items() if k not in self.stored[model]]
            old = [{f"v_{c}": v for c, v in vars(r).items()} for k, r in changed.items() if k in self.stored[model]]
            if new:
                self.conn.execute(insert(table), new)
            if old:
                self.conn.execute(update(table).where(table.c[key] == bindparam(f"v_{key}")).values(
                    {c.name: bindparam(f"v_{c.name}") for c in table.columns if c.name != key}), old)


_DEFAULTS: dict[type[SQLModel], dict] = {}


def _defaults(model: type[SQLModel]) -> dict:
    if model not in _DEFAULTS:  # the models' defaults are constants (no factories)
        _DEFAULTS[model] = {name: f.default for name, f in model.model_fields.items() if not f.is_required()}
    return _DEFAULTS[model]


def _key(model: type[SQLModel]) -> str:
    return model.__table__.primary_key.columns[0].name  # type: ignore[attr-defined]


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
