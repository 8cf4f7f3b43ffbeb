"""A rebuild reads the log in a process of its own (`python -m gongkai.readerprocess`).

Receiving a message costs nats-py about as much as decoding it and more than folding it into a projection,
and a rebuild is bound by one core (the GIL): in a second process the receiving runs on the other core. The
child runs a `pull.Reader` and writes each batch to its stdout as one frame; the parent reads the frames back
into messages that `projection.decode_all` reads like nats-py's, at a few per cent of nats-py's cost.

The child connects as the parent's `EventLog` did (its `Dial`, handed over in the environment, so no password
shows in a process list). `restart <seq>` on its stdin starts the reading again from there; the frames sent
before it carry an older generation and are dropped. Closing its stdin ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import struct
import sys
import threading
from types import SimpleNamespace

from nats.aio.msg import Msg

from gongkai.pull import Dial, Headers, Reader, position_of

#: the environment variable that hands the child its `Dial` (JSON)
DIAL_ENV = "GONGKAI_READER_DIAL"
#: a batch: its generation, how many messages, the sequence the reader reached, whether the reader `ended`,
#: the bytes that follow
BATCH = struct.Struct("<IIQ?Q")
#: a message: its stream sequence and how many the consumer holds after it (`pull.position_of`, read here
#: rather than in the parent, whose core is the rebuild's bottleneck); the lengths of its subject, reply
#: subject, raw headers and data, which follow in that order
MESSAGE = struct.Struct("<QQHHII")


class Message:
    """A message as the child received it: what `projection.decode_all` and `pull.seq_of` read of nats-py's."""

    __slots__ = ("data", "headers", "position", "reply", "subject")

    def __init__(self, subject: str, reply: str, headers: Headers | None, data: bytes, position: tuple[int, int]):
        self.subject, self.reply, self.headers, self.data = subject, reply, headers, data
        self.position = position  # (stream sequence, pending): what `pull.position_of` reads

    @property
    def metadata(self) -> Msg.Metadata:
        """As nats-py reads it from the reply subject (`seq_of` asks for it when the subject names a domain)."""
        return Msg.Metadata._from_reply(self.reply)


def reader_for(eventlog, head: int, batch_size: int):
    """A reader process for a log connected with `EventLog.connect`; any other is read in this process."""
    if eventlog.dial is None:
        return Reader(eventlog, head, batch_size)
    return ProcessReader(eventlog.dial, eventlog.stream, head, batch_size)


class ProcessReader:
    """`pull.Reader`'s interface (`open`, `take`, `restart`, `close`, `last`), read from a child process."""

    def __init__(self, dial: Dial, stream: str, head: int, batch_size: int):
        self.dial, self.stream, self.head, self.batch_size = dial, stream, head, batch_size
        self.generation = 0
        self.last = 0
        self.ended = False
        self.proc: asyncio.subprocess.Process | None = None

    async def open(self, start: int) -> None:
        env = {**os.environ, DIAL_ENV: json.dumps(dataclasses.asdict(self.dial))}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gongkai.readerprocess", self.stream, str(self.head), str(self.batch_size),
            str(start), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            limit=1 << 20)
        self.last = start - 1

    async def restart(self, start: int) -> None:
        assert self.proc and self.proc.stdin
        self.generation += 1
        self.proc.stdin.write(f"restart {start}\n".encode())
        await self.proc.stdin.drain()
        self.last, self.ended = start - 1, False

    async def take(self) -> list[Message]:
        assert self.proc and self.proc.stdout
        if self.ended:  # (the child sends no more until it is restarted)
            return []
        while True:
            try:
                generation, count, last, ended, size = BATCH.unpack(
                    await self.proc.stdout.readexactly(BATCH.size))
                body = await self.proc.stdout.readexactly(size)
            except asyncio.IncompleteReadError as e:
                code = await self.proc.wait()
                raise RuntimeError(f"the log's reader process ended (exit code {code})") from e
            if generation == self.generation:  # (older: sent before the last restart)
                self.last, self.ended = last, ended
                return messages(body, count)

    async def close(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self._drain_and_wait(), timeout=10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    async def _drain_and_wait(self) -> None:
        assert self.proc and self.proc.stdout
        while await self.proc.stdout.read(1 << 16):  # what it still sends, so it is never stuck writing
            pass
        await self.proc.wait()


def messages(body: bytes, count: int) -> list[Message]:
    out = []
    at, unpack, size = 0, MESSAGE.unpack_from, MESSAGE.size
    for _ in range(count):
        seq, pending, ls, lr, lh, ld = unpack(body, at)
        at += size
        subject = body[at:at + ls].decode()
        at += ls
        reply = body[at:at + lr].decode()
        at += lr
        headers = Headers(body[at:at + lh]) if lh else None
        at += lh
        out.append(Message(subject, reply, headers, body[at:at + ld], (seq, pending)))
        at += ld
    return out


def frame(generation: int, msgs: list, last: int, ended: bool = False) -> bytes:
    parts = []
    for m in msgs:
        fields = (m.subject.encode(), m.reply.encode(), _raw_headers(m.headers), m.data)
        parts += [MESSAGE.pack(*position_of(m), *map(len, fields)), *fields]
    body = b"".join(parts)
    return BATCH.pack(generation, len(msgs), last, ended, len(body)) + body


def _raw_headers(headers) -> bytes:
    """The header lines as received (what `Headers` reads), or written again from nats-py's dict."""
    if headers is None:
        return b""
    if isinstance(headers, Headers):
        return headers._raw
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()


async def serve(stream: str, head: int, batch_size: int, start: int) -> None:
    """The child: read the log up to `head` into stdout, restarting where told, until stdin closes."""
    dial = Dial(**json.loads(os.environ[DIAL_ENV]))
    nc = await dial.connect(f"{dial.name}-reader")
    reader = Reader(SimpleNamespace(nc=nc, js=nc.jetstream(), stream=stream), head, batch_size)
    commands: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def listen() -> None:  # (a daemon thread: it never holds up the end, whatever ends it)
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line)
        loop.call_soon_threadsafe(commands.put_nowait, None)

    threading.Thread(target=listen, daemon=True).start()
    out = sys.stdout.buffer
    generation = 0
    try:
        await reader.open(start)
        while True:
            if reader.last >= head or reader.ended or not commands.empty():  # (read to the end: wait to be told)
                command = await commands.get()
                if command is None:
                    return
                generation += 1
                await reader.restart(int(command.split()[1]))
                continue
            msgs = await reader.take()
            data = frame(generation, msgs, reader.last, reader.ended)
            # written from a thread, so the next batch keeps arriving while the parent reads this one
            await asyncio.to_thread(_write, out, data)
    finally:
        with contextlib.suppress(Exception):
            await reader.close()
        with contextlib.suppress(Exception):
            await nc.close()


def _write(out, data: bytes) -> None:
    out.write(data)
    out.flush()


if __name__ == "__main__":
    _stream, _head, _batch, _start = sys.argv[1], *map(int, sys.argv[2:5])
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        asyncio.run(serve(_stream, _head, _batch, _start))
