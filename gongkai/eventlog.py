"""The event log on NATS JetStream: the source of truth.

One file-storage stream that forbids delete and purge; one subject per aggregate; appends carry the
expected last sequence of the aggregate's subject (optimistic concurrency) and the event id as
`Nats-Msg-Id` (de-duplication of retried appends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import nats
import orjson
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import api
from nats.js.errors import BadRequestError, NotFoundError

from contracts import subjects
from contracts.envelope import Envelope
from contracts.errors import Conflict
from gongkai import observability

log = logging.getLogger(__name__)

WRONG_LAST_SEQUENCE = 10071


class ConcurrencyConflict(Conflict):
    def __init__(self, subject: str, expected: int):
        super().__init__("该记录已被其他操作修改，请刷新后重试",
                         f"{subject} changed since sequence {expected}; reload and retry", code="concurrent_change")


@dataclass(frozen=True)
class Stored:
    """An event as stored: its stream sequence and its envelope; when read from the log also its message
    headers (`traceparent` carries the trace of the request that stored it) and, from a consumer, how many
    events were still pending behind it (`observability.batch_head`)."""

    seq: int
    envelope: Envelope
    headers: Mapping[str, str] | None = field(default=None, compare=False)
    pending: int | None = field(default=None, compare=False)


def stored(msg) -> Stored:
    """A message delivered by a JetStream consumer (push or pull) as a `Stored`, with its headers."""
    meta = msg.metadata
    return Stored(meta.sequence.stream, decode(msg.data), headers=dict(msg.headers) if msg.headers else None,
                  pending=meta.num_pending)


def encode(env: Envelope) -> bytes:
    return orjson.dumps(env.model_dump(mode="json"))


def decode(data: bytes) -> Envelope:
    return Envelope.model_validate(orjson.loads(data))


class EventLog:
    def __init__(self, nc: nats.NATS, stream: str = subjects.STREAM, timeout: float = 5.0):
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.stream = stream
        self.timeout = timeout

    @classmethod
    async def connect(cls, url: str, *, name: str = "gongkai", stream: str = subjects.STREAM,
                      user: str | None = None, password: str | None = None) -> EventLog:
        nc = await nats.connect(url, name=name, user=user, password=password, max_reconnect_attempts=-1,
                                reconnect_time_wait=0.5, connect_timeout=5)
        return cls(nc, stream)

    async def close(self) -> None:
        await self.nc.drain()

    async def ensure_stream(self, replicas: int = 1) -> None:
        """Create the stream, or check the one there. `replicas` is how many cluster nodes keep a copy; it
        is raised on an existing stream (JetStream moves the data), never lowered by a service starting."""
        config = api.StreamConfig(
            name=self.stream, subjects=subjects.STREAM_SUBJECTS, storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS, deny_delete=True, deny_purge=True,
            duplicate_window=120.0, allow_direct=True, num_replicas=replicas, allow_atomic=True,
        )
        try:
            info = await self.js.stream_info(self.stream)
        except NotFoundError:
            await self.js.add_stream(config)
            return
        if not (info.config.deny_delete and info.config.deny_purge):
            raise RuntimeError(f"stream {self.stream} exists but allows delete or purge; refusing to use it")
        changed = False
        if not info.config.allow_atomic:  # a log created by an earlier version: enable atomic batches
            info.config.allow_atomic, changed = True, True
        if (info.config.num_replicas or 1) < replicas:
            info.config.num_replicas, changed = replicas, True
        if changed:
            await self.js.update_stream(info.config)

    async def append(self, subject: str, envelope: Envelope, expected_seq: int, *, attempts: int = 3) -> int:
        """Store one event if the subject's last sequence is still `expected_seq` (0 = no event yet).

        A retry after a lost ack is stored once: JetStream answers such a retry with "wrong last sequence"
        rather than a duplicate ack (server 2.15), so on that error we look at the subject's last message
        and treat it as ours when its message id is our event id.
        """
        with observability.producer_span(f"append {envelope.type}", **{"gongkai.event_type": envelope.type}):
            seq = await self._append(subject, envelope, expected_seq, attempts)
        observability.event_appended(envelope.type)
        return seq

    async def _append(self, subject: str, envelope: Envelope, expected_seq: int, attempts: int) -> int:
        headers = observability.inject({
            api.Header.MSG_ID: envelope.event_id,
            api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(expected_seq),
            "Gongkai-Type": envelope.type,
        })
        data = encode(envelope)
        for attempt in range(attempts):
            try:
                ack = await self.js.publish(subject, data, stream=self.stream, headers=headers,
                                            timeout=self.timeout)
                return ack.seq
            except BadRequestError as e:
                if e.err_code != WRONG_LAST_SEQUENCE:
                    raise
                if seq := await self._ours(subject, envelope.event_id):
                    return seq
                raise ConcurrencyConflict(subject, expected_seq) from None
            except (TimeoutError, NatsTimeout):
                if seq := await self._ours(subject, envelope.event_id):
                    return seq
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    async def append_atomic(self, entries: list[tuple[str, Envelope, int]]) -> list[int]:
        """Store several events on several subjects all or none, each under its own expected sequence
        (a JetStream atomic batch): e.g. the next 索引号 of an org's year and the item it is given to."""
        types = ", ".join(env.type for _, env, _ in entries)
        with observability.producer_span(f"append {types}", **{"gongkai.event_type": types}):
            seqs = await self._append_atomic(entries)
        for _, env, _ in entries:
            observability.event_appended(env.type)
        return seqs

    async def _append_atomic(self, entries: list[tuple[str, Envelope, int]]) -> list[int]:
        batch_id = str(uuid.uuid4())
        last = len(entries)
        for i, (subject, env, expected) in enumerate(entries, 1):
            headers = observability.inject({
                api.Header.MSG_ID: env.event_id, api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(expected),
                "Gongkai-Type": env.type, api.Header.BATCH_ID: batch_id, api.Header.BATCH_SEQUENCE: str(i)})
            if i < last:
                await self.nc.publish(subject, encode(env), headers=headers)
                continue
            headers[api.Header.BATCH_COMMIT] = "1"
            try:
                reply = await self.nc.request(subject, encode(env), headers=headers, timeout=self.timeout)
            except NatsTimeout:
                if seq := await self._ours(subject, env.event_id):  # committed, the reply was lost
                    return list(range(seq - last + 1, seq + 1))
                raise
            ack = orjson.loads(reply.data)
            if "error" in ack:
                if ack["error"].get("err_code") == WRONG_LAST_SEQUENCE:
                    if seq := await self._ours(subject, env.event_id):
                        return list(range(seq - last + 1, seq + 1))
                    raise ConcurrencyConflict(", ".join(s for s, _, _ in entries), -1)
                raise RuntimeError(f"atomic append refused: {ack['error']}")
            return list(range(ack["seq"] - last + 1, ack["seq"] + 1))
        raise ValueError("append_atomic needs at least one event")

    async def last(self, subject: str) -> Stored | None:
        """The subject's last event, if any."""
        try:
            msg = await self.js.get_last_msg(self.stream, subject)
        except NotFoundError:
            return None
        return Stored(msg.seq, decode(msg.data), headers=dict(msg.headers) if msg.headers else None)

    async def _ours(self, subject: str, event_id: str) -> int | None:
        try:
            last = await self.js.get_last_msg(self.stream, subject)
        except NotFoundError:
            return None
        if last.headers and last.headers.get(api.Header.MSG_ID) == event_id:
            return last.seq
        return None

    async def last_seq(self, subject: str) -> int:
        try:
            return (await self.js.get_last_msg(self.stream, subject)).seq
        except NotFoundError:
            return 0

    async def load(self, subject: str) -> list[Stored]:
        """All events of one aggregate, in order."""
        last = await self.last_seq(subject)
        out: list[Stored] = []
        seq = 1
        while last and seq <= last:
            msg = await self.js.get_msg(self.stream, seq=seq, subject=subject, next=True, direct=True)
            out.append(Stored(msg.seq, decode(msg.data), headers=dict(msg.headers) if msg.headers else None))
            seq = msg.seq + 1
        return out

    async def head(self) -> int:
        """The stream's last sequence: how far the log goes."""
        return (await self.js.stream_info(self.stream)).state.last_seq

    async def follow(self, start_seq: int, handle: Callable[[list[Stored]], Awaitable[None]], *,
                     batch_size: int = 500, stop: asyncio.Event | None = None) -> None:
        """Deliver every event from `start_seq` on, in order, in batches, until `stop` is set.

        An ordered push consumer (flow controlled, re-created by the client on a gap) feeds a queue; each
        batch is whatever has arrived, up to `batch_size`, so a quiet log gives small batches and low latency
        while a replay gives large ones.
        """
        queue: asyncio.Queue = asyncio.Queue(maxsize=batch_size * 8)

        async def on_msg(msg) -> None:
            await queue.put(msg)

        policy = dict(deliver_policy=api.DeliverPolicy.ALL) if start_seq <= 1 else dict(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq)
        sub = await self.js.subscribe(f"{subjects.EVENTS}.>", cb=on_msg, ordered_consumer=True,
                                      stream=self.stream, config=api.ConsumerConfig(**policy),
                                      pending_msgs_limit=batch_size * 16)
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                try:
                    first = await asyncio.wait_for(queue.get(), timeout=0.5)
                except TimeoutError:
                    continue
                msgs = [first]
                while len(msgs) < batch_size and not queue.empty():
                    msgs.append(queue.get_nowait())
                await handle([stored(m) for m in msgs])
        finally:
            with contextlib.suppress(NatsError):  # the connection may already be closed at shutdown
                await sub.unsubscribe()
