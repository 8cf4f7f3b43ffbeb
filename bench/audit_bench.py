"""How fast `gongkai audit verify` walks the log's chains, on a log of synthetic events.

    .venv/bin/python bench/audit_bench.py [--events 100000]

Publishes `--events` events of `synthetic.city` (with the chain digests an append writes) to a fresh NATS
server, verifies them as `gongkai audit verify` does, and prints `AUDIT.verify_per_cpu_s value events/s
target ok|short`: events per CPU second of the verifying process (the wall-clock rate, with the server
taking its share of the cores, is on the `#` line). Target: 10,000 events per CPU second, so that a year's
log of a city (10⁶ events) is checked in under two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synthetic
from bench.common import at_least
from tests.servers import NatsServer

TARGET = 10_000


async def measure(url: str, events: int) -> None:
    from gongkai import audit

    reader = await audit.connect(url)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        report = await audit.verify(reader)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await reader.close()
    fig = at_least("AUDIT.verify_per_cpu_s", report.events / cpu, "events/s", TARGET, [
        f"{report.events} events on {report.subjects} chains verified ({'ok' if report.ok else 'NOT ok'}) in "
        f"{wall:.1f} s wall ({report.events / wall:,.0f}/s), {cpu:.1f} s CPU of the verifying process"], digits=0)
    fig.ok = fig.ok and report.ok and report.events == events
    print("\n".join(fig.lines()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gongkai-bench-audit-"))
    nats = NatsServer(tmp / "nats")
    try:
        print(f"publishing {args.events} synthetic events …", file=sys.stderr)
        asyncio.run(synthetic.publish(nats.url, synthetic.city(args.events, seed=5)))
        asyncio.run(measure(nats.url, args.events))
    finally:
        nats.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
