"""`gongkai.projection` parses NATS message headers itself (`_header_lines`, a faster copy of nats-py's): it must
give exactly what nats-py's own parser gives, whatever the bytes."""

import random

from nats.aio.client import Client

from gongkai.projection import _header_lines, quicker_headers

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
        assert _header_lines(raw) == Client._parse_header_lines(raw), raw


def test_only_a_connection_that_has_the_parser_gets_ours():
    class Other:
        pass

    nc, other = Client(), Other()
    quicker_headers(nc)
    quicker_headers(other)
    assert nc._parse_header_lines is _header_lines
    assert not hasattr(other, "_parse_header_lines")
