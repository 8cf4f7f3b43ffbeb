"""`gongkai.pull` parses NATS message headers itself (`_header_lines`, a faster copy of nats-py's): it must
give exactly what nats-py's own parser gives, whatever the bytes."""

import random

from nats.aio.client import Client

from gongkai.pull import Headers, _header_lines, quicker_headers, status_of

CASES = [
    b"Nats-Msg-Id: 2c1c0b3e\r\nGongkai-Type: item.drafted\r\nGongkai-Digest: " + b"a" * 64 + b"\r\n\r\n",
    b"A B: spaced name\r\n\x1cK: odd whitespace\r\nK\xff: not ascii\r\n: empty name\r\nno colon\r\n Sp : y \r\n",
    b"X:\xff\xfe bad utf-8\r\na:b:c\r\nName:\tValue\r\n",
    b"",
    b"\r\n\r\n",
]


def test_the_same_headers_as_nats_py():
    rng = random.Random(5)
    alphabet = b"ab: \t\r\n\x1c\x0b\x85Z\xff-"
    fuzz = [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    for raw in CASES + fuzz:
        theirs = Client._parse_header_lines(raw)
        assert _header_lines(raw) == theirs, raw
        lazy = Headers(raw)  # as a connection hands them on: read when asked
        assert dict(lazy) == theirs and lazy.get("a") == theirs.get("a"), raw
        assert bool(lazy) or not theirs, raw  # (true and empty only where nats-py passes every name over)


def test_only_a_connection_that_has_the_parser_gets_ours():
    class Other:
        pass

    nc, other = Client(), Other()
    quicker_headers(nc)
    quicker_headers(other)
    assert nc._parse_header_lines is Headers
    assert not hasattr(other, "_parse_header_lines")


async def _headers_as_a_connection_reads(raw: bytes, quicker: bool):
    """What a nats-py connection (with or without ours) hands on as a message's headers for `NATS/1.0…` bytes."""
    nc = Client()
    if quicker:
        quicker_headers(nc)
    headers = await nc._process_headers(raw)
    return headers, isinstance(headers, Headers) and headers._read is None  # (unread: checked before any repr)


def test_a_status_is_told_without_reading_an_events_headers():
    import asyncio
    from types import SimpleNamespace

    event = b"NATS/1.0\r\nNats-Msg-Id: 1\r\nGongkai-Type: item.drafted\r\n\r\n"
    ended = b"NATS/1.0 404 No Messages\r\n\r\n"
    heartbeat = b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 3\r\n\r\n"
    for quicker in (True, False):
        got, unread = {}, {}
        for name, raw in [("event", event), ("ended", ended), ("heartbeat", heartbeat)]:
            got[name], unread[name] = asyncio.run(_headers_as_a_connection_reads(raw, quicker))
        assert unread == {"event": quicker, "ended": False, "heartbeat": False}
        assert status_of(SimpleNamespace(headers=got["event"])) is None
        assert dict(got["event"]) == {"Nats-Msg-Id": "1", "Gongkai-Type": "item.drafted"}
        assert status_of(SimpleNamespace(headers=got["ended"])) == "404"
        assert status_of(SimpleNamespace(headers=got["heartbeat"])) == "100"
        assert got["heartbeat"]["Nats-Last-Consumer"] == "3"
        assert status_of(SimpleNamespace(headers=None)) is None
