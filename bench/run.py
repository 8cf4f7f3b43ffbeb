"""gongkai's figures and the ceilings of its parts, measured in one run on one machine.

    .venv/bin/python bench/run.py [--quick] [--only stack|fold]

Prints one line per figure, `NAME value unit target ok|short`, each followed by `#` lines that say how it was
measured and against what (ratios are against ceilings measured in the same run: the machine is shared and
noisy), then `SUMMARY <n> ok <m> short`. Progress goes to stderr. A figure that could not be measured is
printed `short`, with the reason on the `#` line after it. Exit status 0 whatever the figures say.

P1  items/s through submit → 初审 → 复核 → published → counted in `/totals`, ≥ 0.5 × a bare workflow of the
    same shape (2 updates, 1 activity) on the same Temporal server at the same concurrency
P2  last approval → counted in `/totals`, p50 < 300 ms and p99 < 1 s, items arriving open loop at 5/s
P3  events/s folded into each projection ≥ 0.5 × a raw nats-py pull consumer of the same stream; SQLite and
    PostgreSQL
P4  `gongkai replay` of 1,000,000 events < 60 s (`--quick`: of about 100,000, pro rata), projections identical
P5  a 2021-layout DOCX for an org with 100,000 items < 1 s; all 100 orgs of a city < 10 s
P6  `/totals` p99 < 50 ms with 50 readers
P7  each service < 200 MB RSS after 1,000,000 events (`--quick`: 100,000); `gongkai up` ready < 20 s

`--quick` takes about five to ten minutes on two cores; the full run about an hour.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import figures_fold, figures_stack
from bench.common import Figure, say


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller volumes, under 10 minutes on 2 cores")
    ap.add_argument("--only", choices=["stack", "fold", "chain"],
                    help="run one phase only (chain: the stack phase up to P2)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a SIGTERM still stops the stack (finally blocks)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    figures: list[Figure] = []

    def emit(fig: Figure) -> None:
        figures.append(fig)
        print("\n".join(fig.lines()), flush=True)

    t0 = time.perf_counter()
    rates: dict[str, float] = {}  # P3's fold rates on SQLite, for what P4 should take
    if args.only in (None, "fold"):
        asyncio.run(figures_fold.run(args.quick, emit, rates))
    if args.only in (None, "stack", "chain"):
        asyncio.run(figures_stack.run(args.quick, emit, rates, chain_only=args.only == "chain"))
    ok = sum(f.ok for f in figures)
    say(f"done in {time.perf_counter() - t0:.0f} s")
    print(f"SUMMARY {ok} ok {len(figures) - ok} short", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
