"""`GET /totals` bodies kept per (year, org, Shanghai date) at the projection position they were computed at.

Fifty dashboards refreshing every second ask the same few questions; the answer changes only when an event is
folded (the position moves) or the day turns (deadlines, same-day-last-year trends). So a request reads the
position (one row), and if a body was computed at that position today it is served as is. The body computed
carries the position it was read at, in one transaction, so a cached body is exactly the totals of its
position. Concurrent misses for one key compute once (the others wait for that result)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import date

Key = tuple[int, str | None, date]


class TotalsCache:
    def __init__(self, size: int = 512):
        self._size = size
        self._bodies: OrderedDict[Key, tuple[int, bytes]] = OrderedDict()
        self._computing: dict[Key, asyncio.Future[tuple[int, bytes]]] = {}

    async def get(self, key: Key, position: int, compute: Callable[[], Awaitable[tuple[int, bytes]]]) -> bytes:
        """The body for `key` at `position` or later; `compute` returns (the position it read at, the body)."""
        hit = self._bodies.get(key)
        if hit is not None and hit[0] >= position:
            self._bodies.move_to_end(key)
            return hit[1]
        running = self._computing.get(key)
        if running is not None:
            at, body = await asyncio.shield(running)
            if at >= position:
                return body
        return await self._compute(key, compute)

    async def _compute(self, key: Key, compute: Callable[[], Awaitable[tuple[int, bytes]]]) -> bytes:
        future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._computing[key] = future
        try:
            at, body = await compute()
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: the waiters, if any, re-raise it; none is not an error
            raise
        finally:
            if self._computing.get(key) is future:
                del self._computing[key]
        future.set_result((at, body))
        current = self._bodies.get(key)
        if current is None or current[0] <= at:
            self._bodies[key] = (at, body)
            self._bodies.move_to_end(key)
            while len(self._bodies) > self._size:
                self._bodies.popitem(last=False)
        return body
