"""Reading the log with pull requests driven by hand: how a message's headers are read (`Headers`, when asked
for), how a server's status is told from an event (`status_of`), an event's sequence (`seq_of`), and `Reader`,
which reads the log from one sequence to another in batches, one read ahead.

Light on imports (nats-py, no database, no models): `gongkai.readerprocess` runs a `Reader` in a process of its
own, which must start quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import nats
import orjson
from nats.errors import Error as NatsError
from nats.js import api

from contracts import subjects


def servers(url: str | list[str]) -> list[str]:
    """The server URLs in a `GONGKAI_NATS_URL` such as `nats://u:p@nats-1:4222,nats://u:p@nats-2:4222`."""
    return [u.strip() for u in (url.split(",") if isinstance(url, str) else url) if u.strip()]


@dataclass(frozen=True)
class Dial:
    """How a client connects to NATS (`EventLog.connect`); a reader process is handed it to connect alike."""

    url: str | list[str]
    name: str = "gongkai"
    user: str | None = None
    password: str | None = None
    inbox_prefix: str = "_INBOX"  # where replies arrive (`natsauth.inbox_prefix`: each service user has its own)

    async def connect(self, name: str | None = None) -> nats.NATS:
        return await nats.connect(servers(self.url), name=name or self.name, user=self.user,
                                  password=self.password, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                  connect_timeout=5, inbox_prefix=self.inbox_prefix)


_VISIBLE = re.compile(r"[!-~]*")  # printable ASCII without the space: a header name with no whitespace


def _header_name(name: bytes) -> str | None:
    """A header line's name as nats-py reads it, or None for a name it passes over."""
    try:
        key = name.strip().decode("ascii")
    except UnicodeDecodeError:
        return None
    if not _VISIBLE.fullmatch(key) and any(c.isspace() for c in key):
        return None
    return key


#: the names seen (an event carries the same half-dozen): read once, not once per message
_NAMES: dict[bytes, str | None] = {}
_UNSEEN = object()


def _header_lines(raw: bytes) -> dict[str, str]:
    """nats-py's `Client._parse_header_lines`, giving the same dict at a fraction of the cost: its check of a
    name for whitespace, one generator step per character, was the larger part of receiving an event."""
    out: dict[str, str] = {}
    for line in raw.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = _NAMES.get(name, _UNSEEN)
        if key is _UNSEEN:
            if len(_NAMES) > 1024:  # names are few; many mean odd input, which must not grow this
                _NAMES.clear()
            key = _NAMES[name] = _header_name(name)
        if key is not None:
            out[key] = value.strip().decode("utf-8", "replace")
    return out


class Headers(Mapping[str, str]):
    """A message's headers (the dict `_header_lines` gives), read when first asked for: a fold never looks at
    most events' headers, and reading them cost a tenth of folding an event."""

    __slots__ = ("_raw", "_read")

    def __init__(self, raw: bytes):
        self._raw, self._read = raw, None

    def _lines(self) -> dict[str, str]:
        if self._read is None:
            self._read = _header_lines(self._raw)
        return self._read

    def __getitem__(self, name: str) -> str:
        return self._lines()[name]

    def get(self, name: str, default=None):
        return self._lines().get(name, default)

    def __iter__(self):
        return iter(self._lines())

    def __len__(self) -> int:
        return len(self._lines())

    def __bool__(self) -> bool:
        # asked of every message (nats-py hands on `headers or None`): without reading them. Lines whose names
        # nats-py passes over make true headers that hold nothing, where nats-py gives None
        return b":" in self._raw

    def __repr__(self) -> str:
        return f"Headers({self._lines()!r})"


def quicker_headers(nc) -> None:
    """Have the connection parse message headers with `_header_lines`, when they are read (`Headers`); it stays
    a nats-py client otherwise."""
    if callable(getattr(nc, "_parse_header_lines", None)):
        nc._parse_header_lines = Headers


def status_of(msg) -> str | None:
    """The status a server's message about a pull request carries (100 idle, 404/408 the request ended, 409
    the consumer changed), None for an event. nats-py reads a status line into a dict of its own, so an
    event's `Headers` need not be read to tell."""
    headers = msg.headers
    if not headers or isinstance(headers, Headers):
        return None
    return headers.get("Status")


def seq_of(msg) -> int:
    """A JetStream message's stream sequence, read from its reply subject without nats-py's full parse of it
    (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.…`; the longer form with a domain goes the slow way)."""
    known = getattr(msg, "position", None)  # (read in the reader process: `readerprocess.Message`)
    if known is not None:
        return known[0]
    tokens = msg.reply.split(".")
    return int(tokens[5]) if len(tokens) == 9 else msg.metadata.sequence.stream


def position_of(msg) -> tuple[int, int]:
    """(stream sequence, messages the consumer still holds after it), as `seq_of` reads them."""
    known = getattr(msg, "position", None)
    if known is not None:
        return known
    tokens = msg.reply.split(".")
    if len(tokens) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
        return int(tokens[5]), int(tokens[8])
    meta = msg.metadata
    return meta.sequence.stream, meta.num_pending


#: how long the reader waits for the next message of a request before asking again
QUIET_S = 10.0


class Reader:
    """The log up to `head` in batches, read ahead by one batch: each request is sent as soon as the one
    before it has arrived. A request that ends early (a lost message, a new consumer leader) ends its batch
    early; what is missing is found by the caller, who `restart`s the reader there. Once a message says the
    consumer holds nothing after it, the reader has `ended`: the log has no more up to `head` (the sequences
    up to there were never stored or were deleted), and it asks for no more."""

    def __init__(self, eventlog, head: int, batch_size: int):
        self.log, self.head, self.batch_size = eventlog, head, batch_size
        self.queue: asyncio.Queue = asyncio.Queue()
        self.consumer: str | None = None
        self.sub = None
        self.asked = 0  # messages the outstanding request may still deliver
        self.ended = False
        self.last = 0  # the sequence of the last message received (or before where the reader starts)

    async def open(self, start: int) -> None:
        quicker_headers(self.log.nc)
        self.inbox = self.log.nc.new_inbox()
        self.sub = await self.log.nc.subscribe(self.inbox, cb=self.queue.put,
                                               pending_msgs_limit=2 * self.batch_size + 16)
        await self.restart(start)

    async def restart(self, start: int) -> None:
        """Read on from `start`, with a consumer of its own (what the last one still sends is dropped)."""
        await self._drop_consumer()
        policy = dict(deliver_policy=api.DeliverPolicy.ALL) if start <= 1 else dict(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
        info = await self.log.js.add_consumer(self.log.stream, api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE, filter_subject=f"{subjects.EVENTS}.>", inactive_threshold=60.0,
            mem_storage=True, **policy))
        self.consumer = info.name
        self.mine = f".{self.log.stream}.{self.consumer}."  # in the reply subject of what it sends
        while not self.queue.empty():
            self.queue.get_nowait()
        self.last, self.asked, self.ended = start - 1, 0, False
        await self._ask()

    async def _ask(self) -> None:
        n = 0 if self.ended else min(self.batch_size, self.head - self.last)
        if n > 0:
            await self.log.nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{self.log.stream}.{self.consumer}",
                                      orjson.dumps({"batch": n, "expires": int(QUIET_S * 1e9)}), reply=self.inbox)
        self.asked = max(n, 0)

    async def take(self) -> list:
        """The outstanding request's messages, in the order sent; the next request is out when it returns."""
        msgs: list = []
        queue = self.queue
        while self.asked > 0:
            if queue.empty():  # waiting costs a timer: only when there is nothing to take
                try:
                    msg = await asyncio.wait_for(queue.get(), timeout=QUIET_S + 2)
                except TimeoutError:
                    break
            else:
                msg = queue.get_nowait()
            if status := status_of(msg):
                if status == "100":
                    continue
                break  # the request ended (it expired, or the consumer went away)
            if self.mine not in msg.reply:  # still on its way from the consumer a `restart` replaced
                continue
            msgs.append(msg)
            self.asked -= 1
            if position_of(msg)[1] == 0:  # (the request would wait out its expiry)
                self.ended = True
                break
        if msgs:
            self.last = seq_of(msgs[-1])
        await self._ask()
        return msgs

    async def _drop_consumer(self) -> None:
        if self.consumer:
            with contextlib.suppress(NatsError):
                await self.log.js.delete_consumer(self.log.stream, self.consumer)
            self.consumer = None

    async def close(self) -> None:
        if self.sub is not None:
            with contextlib.suppress(NatsError):
                await self.sub.unsubscribe()
        await self._drop_consumer()
