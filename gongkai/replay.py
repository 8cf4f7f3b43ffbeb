"""Rebuilding projections from the whole log in one pass (`gongkai replay`, `projection.rebuild`).

The log is read once, whatever the number of projections, by a pull consumer of its own that acknowledges
nothing and has one request of `batch_size` events out at a time (`pull.Reader`) — asked for before the batch
before it is folded, so the server sends while the projections fold — received in a process of its own
(`readerprocess`). Each batch is decoded once and handed to every projection with the live path's checks
(`Folder.fold`: the position row, `Gap`, dead letters); projections in different databases fold each batch at
the same time. The tables' indexes are built once they are filled.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable

from nats.js.errors import NotFoundError
from sqlalchemy.engine import Engine

from gongkai import projection as p
from gongkai.batchfold import REBUILD_MEMO_ROWS, Memo
from gongkai.db import drop_indexes
from gongkai.eventlog import EventLog, Stored
from gongkai.readerprocess import reader_for

log = logging.getLogger(__name__)

async def rebuild_all(eventlog: EventLog, targets: list[tuple[Engine, p.Projection]], *, batch_size: int = 5000,
                      progress: Callable[[int, int], None] | None = None) -> list[int]:
    """Empty the targets' projections and fold them again from the first event, in one pass over the log;
    returns each one's final position."""
    head = await eventlog.head()
    reader = reader_for(eventlog, head, batch_size)
    if head:
        await reader.open(1)  # (a process: it starts while the tables are emptied)
    try:
        for engine, proj in targets:
            await asyncio.to_thread(p.setup, engine, proj)
            await asyncio.to_thread(p.reset, engine, proj)
        if head == 0:
            return [0 for _ in targets]
        for engine, proj in targets:
            await asyncio.to_thread(drop_indexes, engine, proj.tables)
        try:
            return await _refold(eventlog, targets, head, reader, progress)
        finally:  # (also after a failure: the tables stay usable for what they hold)
            for engine, proj in targets:
                await asyncio.to_thread(p.setup, engine, proj)
    finally:
        await reader.close()


async def _refold(eventlog: EventLog, targets: list[tuple[Engine, p.Projection]], head: int, reader,
                  progress: Callable[[int, int], None] | None) -> list[int]:
    folders = [p.Folder(eventlog, engine, proj) for engine, proj in targets]
    wanted = [proj.aggregates for _, proj in targets]
    aggregates = None if None in wanted else frozenset().union(*wanted)  # what no projection folds is not decoded
    groups: dict[str, list[p.Folder]] = {}  # by database: one writer each, databases side by side
    for f in folders:
        groups.setdefault(f.engine.url.render_as_string(hide_password=True), []).append(f)
    positions = {id(f): 0 for f in folders}
    memos = [m for _, proj in targets if isinstance(m := getattr(proj, "memo", None), Memo)]
    limits = [m.limit for m in memos]
    for m in memos:
        m.limit = max(m.limit, REBUILD_MEMO_ROWS)
    collecting = gc.isenabled()
    # decoding and folding make many short-lived objects next to the many rows kept, and hardly a cycle (a
    # batch's session): the collector, even at a slow pace, spent a tenth of a rebuild re-scanning those rows
    gc.disable()
    try:
        expected = 1
        while min(positions.values()) < head:
            msgs = await reader.take()
            if not msgs and reader.ended:  # the log holds nothing more up to the head (a deleted tail)
                break
            batch, poisoned, passed = p.decode_all(msgs, aggregates)
            gap_ok, cut = False, None
            seqs = [p.seq_of(m) for m in msgs]
            skipped = next((expected + i for i, q in enumerate(seqs) if q != expected + i), None)
            if not seqs or skipped is not None:
                missing = expected if not seqs else skipped
                if await _in_stream(eventlog, missing):  # lost on the way: read it again
                    cut = missing
                    batch, poisoned = [st for st in batch if st.seq < cut], [x for x in poisoned if x.seq < cut]
                else:
                    gap_ok = True  # the stream itself has no such event
            passed = {q for q in passed if cut is None or q < cut}
            for f in folders:
                f.poisoned.extend(poisoned)
                f.passed = passed
            if batch or poisoned or passed:
                for g, reached in zip(groups.values(), await asyncio.gather(
                        *(_fold_group(g, batch, gap_ok) for g in groups.values())), strict=True):
                    positions.update((id(f), pos) for f, pos in zip(g, reached, strict=True))
            behind = min(positions.values())
            if progress:
                progress(behind, head)
            if cut is not None or behind < reader.last:  # a projection stopped short: read again from there
                await reader.restart(behind + 1)
            expected = reader.last + 1
    finally:
        if collecting:
            gc.enable()
        for m, limit in zip(memos, limits, strict=True):
            m.limit = limit
            m.clear()
    return [positions[id(f)] for f in folders]


async def _fold_group(folders: list[p.Folder], batch: list[Stored], gap_ok: bool) -> list[int]:
    out = []
    for f in folders:
        try:
            out.append(await f.fold(batch, gap_ok=gap_ok))
        except p.Gap as gap:  # behind the batch: the reader goes back for it
            out.append(gap.position)
    return out


async def _in_stream(eventlog: EventLog, seq: int) -> bool:
    try:
        await eventlog.js.get_msg(eventlog.stream, seq)
    except NotFoundError:
        return False
    return True
