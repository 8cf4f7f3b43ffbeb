"""P4 without the stack: how long `gongkai replay` takes on a log of synthetic events, and whether it leaves the
tables the live fold made.

    .venv/bin/python bench/replay_bench.py [--events 100000] [--nats URL]

Publishes `--events` events of `synthetic.city` to a fresh NATS server (or uses the log at `--nats`), folds each
projection as a running service does (`projection.run`) into SQLite files, then replays all of them as
`gongkai replay` does (`gongkai.replay.rebuild_all`, one pass) into other files, and compares every table and
position. Prints the replay's seconds, its rate and the target pro rata (60 s per million events).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synthetic
from bench.figures_fold import fold_live
from bench.figures_stack import projections
from tests.servers import NatsServer


def digests(db_dir: Path) -> dict[str, tuple[int, str]]:
    """(rows, sha256 of the sorted rows) of every projection table, and each position (as P4 compares them)."""
    out = {}
    for svc, proj in projections():
        with contextlib.closing(sqlite3.connect(db_dir / f"{svc}.sqlite")) as db:
            for table in proj.tables:
                rows = sorted(repr(r) for r in db.execute(f'select * from "{table.__tablename__}"'))
                out[table.__tablename__] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
            pos = db.execute("select position from projection_position where name = ?", (proj.name,)).fetchone()
            out[f"position:{proj.name}"] = (1, str(pos))
    return out


async def measure(nats_url: str, tmp: Path) -> None:
    from gongkai import replay
    from gongkai.db import make_engine
    from gongkai.eventlog import EventLog

    log = await EventLog.connect(nats_url, name="gongkai-bench-replay")
    try:
        head = await log.head()
        print(f"live fold of {head} events, one projection after another …", file=sys.stderr)
        for svc, proj in projections():
            engine = make_engine(f"sqlite:///{tmp / 'live' / f'{svc}.sqlite'}")
            await fold_live(log, engine, proj, head)
            engine.dispose()
        engines, targets = {}, []
        for svc, proj in projections():  # as gongkai/cli.py cmd_replay: one engine per database
            engines.setdefault(svc, make_engine(f"sqlite:///{tmp / 'replay' / f'{svc}.sqlite'}"))
            targets.append((engines[svc], proj))
        t0, c0 = time.perf_counter(), time.process_time()
        positions = await replay.rebuild_all(log, targets)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        for engine in engines.values():
            engine.dispose()
    finally:
        await log.close()
    before, after = digests(tmp / "live"), digests(tmp / "replay")
    same = [k for k in before if before[k] == after.get(k)]
    print(f"replay of {head} events: {wall:.1f} s wall ({head / wall:,.0f} ev/s), {cpu:.1f} s CPU; "
          f"target pro rata {60 * head / 1e6:.1f} s; positions {positions}")
    print(f"identical to the live fold: {len(same)} of {len(before)} tables and positions")
    for k in before:
        if k not in same:
            print(f"  differs: {k}: {before[k][0]} rows live, {after.get(k, (0,))[0]} after the replay")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--nats", help="use this server's log instead of publishing a fresh one")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gongkai-bench-replay-"))
    for d in ("live", "replay"):
        (tmp / d).mkdir()
    nats = None
    try:
        url = args.nats
        if url is None:
            nats = NatsServer(tmp / "nats")
            url = nats.url
            print(f"publishing {args.events} synthetic events …", file=sys.stderr)
            asyncio.run(synthetic.publish(url, synthetic.city(args.events, seed=3)))
        asyncio.run(measure(url, tmp))
    finally:
        if nats:
            nats.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
