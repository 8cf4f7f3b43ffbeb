"""CPU per event of decoding a stored event: its envelope (`eventlog.decode`), its typed payload
(`Envelope.event()`), and both, as a replay does them, on the event mix of `synthetic.city`.

    .venv/bin/python bench/decode.py [--events 20000] [--rounds 30]

"before" is the former code, kept here as the baseline (`Envelope.model_validate` on the parsed JSON; an import
of the registry and `model_validate` in each `event()`); "after" is the code as it is. The rounds alternate
between the two so that another process's load falls on both alike, and each times a slice of the events
(`--slice`) so that most slices run undisturbed on a shared machine; each figure is the least CPU time
(`time.process_time`) per event of its rounds, summed over the slices.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synthetic
from gongkai.eventlog import decode, encode
from tests.unit.test_decode import decode_before, event_before  # the former code, as the test keeps it


def cpu_us(fn: Callable[[], object], n: int) -> float:
    t = time.process_time()
    fn()
    return (time.process_time() - t) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--slice", type=int, default=1000)
    args = ap.parse_args()
    data = [encode(env) for _, env in synthetic.city(args.events, seed=3)]
    n = len(data)
    envs = [decode(d) for d in data]
    for env in envs:  # the two paths agree before either is timed
        assert decode_before(encode(env)) == env and event_before(env) == env.event()
    best: dict[tuple[str, int], float] = {}
    for i in range(0, n, args.slice):
        part, envs_part = data[i:i + args.slice], envs[i:i + args.slice]
        cases = {
            "decode": (lambda p=part: [decode_before(d) for d in p], lambda p=part: [decode(d) for d in p]),
            "event()": (lambda p=envs_part: [event_before(e) for e in p], lambda p=envs_part: [e.event() for e in p]),
            "decode+event()": (lambda p=part: [event_before(decode_before(d)) for d in p],
                               lambda p=part: [decode(d).event() for d in p]),
        }
        for name, fns in cases.items():
            least = [float("inf"), float("inf")]
            for _ in range(args.rounds):
                for side in (0, 1):
                    least[side] = min(least[side], cpu_us(fns[side], n))
            for side in (0, 1):
                best[name, side] = best.get((name, side), 0.0) + least[side]
    print(f"{n} events of synthetic.city, {sum(map(len, data)) / n:.0f} bytes each on average; "
          f"CPU µs per event, least of {args.rounds} rounds")
    for name in ("decode", "event()", "decode+event()"):
        before, after = best[name, 0], best[name, 1]
        print(f"{name:16s} before {before:6.2f}  after {after:6.2f}  ({after / before:.0%})")


if __name__ == "__main__":
    main()
