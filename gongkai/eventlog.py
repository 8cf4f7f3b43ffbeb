"""The event log on NATS JetStream: the source of truth.

One file-storage stream that forbids delete and purge; one subject per aggregate; appends carry the
expected last sequence of the aggregate's subject (optimistic concurrency) and the event id as
`Nats-Msg-Id` (de-duplication of retried appends).

Tamper evidence: each event's headers carry `Gongkai-Prev-Digest`, the chain digest of the previous event of
its subject (`GENESIS` for the first), and `Gongkai-Digest`, its own: `chain_digest(prev, subject, data)`, a
SHA-256 over the previous digest, the subject and the stored payload bytes. So each digest commits to the
subject's whole history. `gongkai.audit` walks the log and checks the chains; what each kind of tampering is
detected by is written there. The append path knows the previous digest without a read in the usual case:
`load` and `last` remember the digest of a subject's last event, as does a successful append; only an append
whose expected sequence this process has not seen reads that one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
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
from gongkai.pull import Dial, position_of

log = logging.getLogger(__name__)

WRONG_LAST_SEQUENCE = 10071
#: messages a push subscription may hold before nats-py drops them as a slow consumer
SLOW_CONSUMER_MSGS = 1_000_000

#: tamper evidence (see the module docstring and `gongkai.audit`)
PREV_DIGEST = "Gongkai-Prev-Digest"
DIGEST = "Gongkai-Digest"
GENESIS = "0" * 64  # the "previous digest" of a subject's first event
_TIPS_KEPT = 50_000  # subjects whose last digest an EventLog remembers


def chain_digest(prev: str, subject: str, data: bytes) -> str:
    """The chain digest of one stored event: SHA-256 (hex) of the previous event's digest on the same subject,
    the subject and the payload bytes exactly as stored."""
    return hashlib.sha256(b"%s\n%s\n%s" % (prev.encode(), subject.encode(), data)).hexdigest()


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
    #: its chain digest (`chain_digest`), when read by `EventLog.load` or `EventLog.last`
    digest: str | None = field(default=None, compare=False)


def stored(msg) -> Stored:
    """A message delivered by a JetStream consumer (push or pull) as a `Stored`, with its headers."""
    seq, pending = position_of(msg)
    return Stored(seq, decode(msg.data), headers=dict(msg.headers) if msg.headers else None, pending=pending)


def encode(env: Envelope) -> bytes:
    return orjson.dumps(env.model_dump(mode="json"))


def decode(data: bytes) -> Envelope:
    """The envelope of a stored event. Its payload stays the stored dict, validated by `Envelope.event()` when a
    reader asks for it: an event whose payload cannot be read still decodes (and its error names its event)."""
    # the validator `model_validate` calls, without its per-call Python overhead
    return Envelope.__pydantic_validator__.validate_python(orjson.loads(data))


def stream_config(stream: str = subjects.STREAM, replicas: int = 1, *,
                  extra_subjects: tuple[str, ...] = (), relaxed: bool = False) -> api.StreamConfig:
    """The event stream's configuration, the one definition (services create it, a restore recreates it).
    Append-only: no deletes, no purges; a 2-minute window in which a retried append is stored once.
    `relaxed` only while a restore re-creates the log, which needs to delete its placeholder messages."""
    return api.StreamConfig(
        name=stream, subjects=[*subjects.STREAM_SUBJECTS, *extra_subjects], storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS, deny_delete=not relaxed, deny_purge=not relaxed,
        duplicate_window=0.1 if relaxed else 120.0, allow_direct=True, num_replicas=replicas, allow_atomic=True)


class EventLog:
    def __init__(self, nc: nats.NATS, stream: str = subjects.STREAM, timeout: float = 5.0):
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.stream = stream
        self.timeout = timeout
        self._tips: dict[str, tuple[int, str]] = {}  # subject -> (sequence, chain digest) of its last event seen
        self.dial: Dial | None = None  # how it connected (`connect`): a reader process connects the same way

    @classmethod
    async def connect(cls, url: str | list[str], *, name: str = "gongkai", stream: str = subjects.STREAM,
                      user: str | None = None, password: str | None = None,
                      inbox_prefix: str = "_INBOX") -> EventLog:
        """`url` may list the nodes of a cluster, comma-separated (nats-py takes one URL per list entry).
        `inbox_prefix`: where replies arrive (`natsauth.inbox_prefix`: each service user has its own)."""
        dial = Dial(url, name, user, password, inbox_prefix)
        log = cls(await dial.connect(), stream)
        log.dial = dial
        return log

    async def close(self) -> None:
        await self.nc.drain()

    async def ensure_stream(self, replicas: int = 1) -> None:
        """Create the stream, or check the one there. `replicas` is how many cluster nodes keep a copy; it
        is raised on an existing stream (JetStream moves the data), never lowered by a service starting."""
        config = stream_config(self.stream, replicas)
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
        data = encode(envelope)
        prev = await self._prev_digest(subject, expected_seq)
        digest = chain_digest(prev, subject, data)
        headers = observability.inject({
            api.Header.MSG_ID: envelope.event_id,
            api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(expected_seq),
            "Gongkai-Type": envelope.type,
            PREV_DIGEST: prev,
            DIGEST: digest,
        })
        for attempt in range(attempts):
            try:
                ack = await self.js.publish(subject, data, stream=self.stream, headers=headers,
                                            timeout=self.timeout)
                self._remember(subject, ack.seq, digest)
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

    def _remember(self, subject: str, seq: int, digest: str) -> None:
        self._tips.pop(subject, None)
        self._tips[subject] = (seq, digest)
        if len(self._tips) > _TIPS_KEPT:
            del self._tips[next(iter(self._tips))]  # the subject seen longest ago

    async def _prev_digest(self, subject: str, expected_seq: int) -> str:
        """The chain digest of the event at `expected_seq`, which the append expects to be the subject's last.

        Remembered from a `load`, `last` or append of this process, or else read (one direct get). If that
        message is not the subject's last, or not on the subject at all, the server refuses the append with
        "wrong last sequence" whatever digest it carries, so a wrong guess here is never stored.
        """
        if expected_seq <= 0:
            return GENESIS
        tip = self._tips.get(subject)
        if tip and tip[0] == expected_seq:
            return tip[1]
        try:
            msg = await self.js.get_msg(self.stream, seq=expected_seq, direct=True)
        except NotFoundError:
            return GENESIS
        if msg.subject != subject:
            return GENESIS
        prev = msg.headers.get(PREV_DIGEST) if msg.headers else None
        if prev is not None:
            digest = chain_digest(prev, subject, msg.data)
            self._remember(subject, expected_seq, digest)
            return digest
        # written before tamper evidence: the chain continues from a digest over the subject's unchained events
        for st in await self.load(subject):
            if st.seq == expected_seq:
                return st.digest or GENESIS
        return GENESIS

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
        """A subject's first event in the batch carries its expected sequence; its later ones carry none (the
        server refuses one there, and the first already guards the subject) and chain to the one before."""
        if not entries:
            raise ValueError("append_atomic needs at least one event")
        batch_id = str(uuid.uuid4())
        last = len(entries)
        tips: dict[str, str] = {}  # subject -> digest of its latest event in this batch
        messages = []
        for i, (subject, env, expected) in enumerate(entries, 1):
            data = encode(env)
            headers = {api.Header.MSG_ID: env.event_id}
            if subject in tips:
                prev = tips[subject]
            else:
                prev = await self._prev_digest(subject, expected)
                headers[api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE] = str(expected)
            tips[subject] = chain_digest(prev, subject, data)
            headers.update({"Gongkai-Type": env.type, PREV_DIGEST: prev, DIGEST: tips[subject],
                            api.Header.BATCH_ID: batch_id, api.Header.BATCH_SEQUENCE: str(i)})
            messages.append((subject, data, observability.inject(headers)))
        for subject, data, headers in messages[:-1]:
            await self.nc.publish(subject, data, headers=headers)
        subject, data, headers = messages[-1]
        env = entries[-1][1]
        headers[api.Header.BATCH_COMMIT] = "1"
        try:
            reply = await self.nc.request(subject, data, headers=headers, timeout=self.timeout)
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
        seqs = list(range(ack["seq"] - last + 1, ack["seq"] + 1))
        for seq, (subject, _, headers) in zip(seqs, messages, strict=True):  # a subject's latest comes last
            self._remember(subject, seq, headers[DIGEST])
        return seqs

    async def last(self, subject: str) -> Stored | None:
        """The subject's last event, if any."""
        try:
            msg = await self.js.get_last_msg(self.stream, subject)
        except NotFoundError:
            return None
        headers = dict(msg.headers) if msg.headers else None
        digest = None
        if headers and PREV_DIGEST in headers:
            digest = chain_digest(headers[PREV_DIGEST], subject, msg.data)
            self._remember(subject, msg.seq, digest)
        return Stored(msg.seq, decode(msg.data), headers=headers, digest=digest)

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

    async def load(self, subject: str, *, after: Stored | None = None, last: int | None = None) -> list[Stored]:
        """All events of one aggregate, in order; or those `after` one already read (its digest continues the
        chain), up to `last` when the caller has just read the subject's last sequence."""
        last = await self.last_seq(subject) if last is None else last
        out: list[Stored] = []
        seq, digest = (after.seq + 1, after.digest) if after is not None else (1, GENESIS)
        while last and seq <= last:
            msg = await self.js.get_msg(self.stream, seq=seq, subject=subject, next=True, direct=True)
            headers = dict(msg.headers) if msg.headers else None
            # an event written before tamper evidence has no previous digest: chain it to the one before (unknown
            # when `after` came from an append, which does not compute it: then this process does not either)
            prev = headers.get(PREV_DIGEST, digest) if headers else digest
            digest = chain_digest(prev, subject, msg.data) if prev else None
            out.append(Stored(msg.seq, decode(msg.data), headers=headers, digest=digest))
            seq = msg.seq + 1
        if out and digest:
            self._remember(subject, out[-1].seq, digest)
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
                                      # the server's flow control bounds what is in flight; a small client
                                      # limit made a slow fold drop messages ("slow consumer") in a replay
                                      pending_msgs_limit=SLOW_CONSUMER_MSGS)
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
