"""The `/totals` cache serves a body only at the projection position it was computed at (or a later one), and
fifty readers missing at once compute it once."""

import asyncio
from datetime import date

import pytest

from services.reports.totals_cache import TotalsCache

DAY = date(2026, 11, 25)


class Source:
    """Stands in for the projection: its position and the body computed there."""

    def __init__(self):
        self.position, self.computed = 10, 0

    async def compute(self):
        self.computed += 1
        at = self.position
        await asyncio.sleep(0.01)  # a read that takes a while, so that concurrent requests overlap
        return at, f"totals@{at}".encode()


async def test_a_body_is_served_until_the_position_moves():
    cache, src = TotalsCache(), Source()
    assert await cache.get((2026, None, DAY), src.position, src.compute) == b"totals@10"
    assert await cache.get((2026, None, DAY), src.position, src.compute) == b"totals@10"
    assert src.computed == 1
    src.position = 11  # an event was folded
    assert await cache.get((2026, None, DAY), src.position, src.compute) == b"totals@11"
    assert src.computed == 2


async def test_year_org_and_day_are_separate_answers():
    cache, src = TotalsCache(), Source()
    for key in [(2026, None, DAY), (2026, "org-a", DAY), (2025, None, DAY), (2026, None, date(2026, 11, 26))]:
        await cache.get(key, src.position, src.compute)
    assert src.computed == 4


async def test_concurrent_misses_compute_once():
    cache, src = TotalsCache(), Source()
    bodies = await asyncio.gather(*(cache.get((2026, None, DAY), src.position, src.compute) for _ in range(50)))
    assert set(bodies) == {b"totals@10"} and src.computed == 1


async def test_a_failed_read_is_not_cached():
    cache, src = TotalsCache(), Source()

    async def broken():
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        await cache.get((2026, None, DAY), 10, broken)
    assert await cache.get((2026, None, DAY), 10, src.compute) == b"totals@10"


async def test_the_cache_is_bounded():
    cache, src = TotalsCache(size=3), Source()
    for year in range(2020, 2026):
        await cache.get((year, None, DAY), src.position, src.compute)
    await cache.get((2020, None, DAY), src.position, src.compute)  # evicted long ago: computed again
    assert src.computed == 7
