"""Projections: fold the event log into SQL tables, in batches, exactly once.

A projection's position (the last stream sequence it applied) is written in the same transaction as its
rows, with a compare-and-set on the previous position. So a batch delivered twice changes nothing, a crash
between commit and the next batch resumes where the database says, and a rebuild (`gongkai replay`) that
resets the position makes a running projector notice, drop its subscription and start again from there.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from gongkai.db import create_tables
from gongkai.eventlog import EventLog, Stored

log = logging.getLogger(__name__)


class ProjectionPosition(SQLModel, table=True):
    __tablename__ = "projection_position"
    name: str = Field(primary_key=True)
    position: int = 0


class Projection(ABC):
    """A fold of events into tables. `apply` runs inside the batch's transaction and does no other I/O."""

    name: str
    tables: list[type[SQLModel]]

    @abstractmethod
    def apply(self, session: Session, stored: Stored) -> None: ...


class PositionMoved(Exception):
    """Someone else (a rebuild, another replica) moved the position: resubscribe from the database's."""


def setup(engine: Engine, projection: Projection) -> None:
    create_tables(engine, [ProjectionPosition, *projection.tables])


def position(engine: Engine, projection: Projection) -> int:
    with Session(engine) as s:
        row = s.get(ProjectionPosition, projection.name)
        return row.position if row else 0


def apply_batch(engine: Engine, projection: Projection, batch: list[Stored], expected: int) -> int:
    """Apply the events after `expected` and move the position, atomically; returns the new position."""
    fresh = [st for st in batch if st.seq > expected]
    if not fresh:
        return expected
    new = fresh[-1].seq
    with Session(engine) as s:
        row = s.get(ProjectionPosition, projection.name)
        if row is None:
            s.add(ProjectionPosition(name=projection.name, position=0))
            s.flush()
            row_pos = 0
        else:
            row_pos = row.position
        if row_pos != expected:
            raise PositionMoved(f"{projection.name}: expected {expected}, database has {row_pos}")
        for st in fresh:
            projection.apply(s, st)
        moved = s.exec(update(ProjectionPosition)  # type: ignore[call-overload]
                       .where(ProjectionPosition.name == projection.name, ProjectionPosition.position == expected)
                       .values(position=new))
        if moved.rowcount != 1:
            s.rollback()
            raise PositionMoved(f"{projection.name}: position changed during the batch")
        s.commit()
    return new


def reset(engine: Engine, projection: Projection) -> None:
    """Empty the projection's tables and its position in one transaction."""
    with Session(engine) as s:
        for table in projection.tables:
            s.exec(delete(table))  # type: ignore[call-overload]
        s.exec(delete(ProjectionPosition).where(ProjectionPosition.name == projection.name))  # type: ignore
        s.commit()


def _applier(engine: Engine, projection: Projection, start: int, progress=None):
    """A batch handler that applies each batch after the position it last reached."""
    current = start

    async def handle(batch: list[Stored]) -> None:
        nonlocal current
        current = await asyncio.to_thread(apply_batch, engine, projection, batch, current)
        if progress:
            progress(current)

    return handle


async def run(eventlog: EventLog, engine: Engine, projection: Projection, stop: asyncio.Event,
              *, batch_size: int = 500) -> None:
    """Keep the projection up to date with the log until `stop` is set."""
    setup(engine, projection)
    while not stop.is_set():
        pos = await asyncio.to_thread(position, engine, projection)
        try:
            await eventlog.follow(pos + 1, _applier(engine, projection, pos), batch_size=batch_size, stop=stop)
        except PositionMoved as e:
            log.info("projection %s restarts: %s", projection.name, e)
        except Exception:
            if stop.is_set():
                return
            log.exception("projection %s failed; retrying in 1 s", projection.name)
            await asyncio.sleep(1)


async def rebuild(eventlog: EventLog, engine: Engine, projection: Projection, *, batch_size: int = 2000,
                  progress=None) -> int:
    """Drop and refold the projection from the first event; returns the final position."""
    setup(engine, projection)
    await asyncio.to_thread(reset, engine, projection)
    head = await eventlog.head()
    if head == 0:
        return 0
    done = asyncio.Event()
    reached = 0

    def moved(pos: int) -> None:
        nonlocal reached
        reached = pos
        if progress:
            progress(pos, head)
        if pos >= head:
            done.set()

    await eventlog.follow(1, _applier(engine, projection, 0, moved), batch_size=batch_size, stop=done)
    return reached
