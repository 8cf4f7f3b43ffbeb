"""Decoding a stored event (`eventlog.decode`, `Envelope.event()`) gives what the former code gave, one event of
every registered type, and fails where and how it failed: a bad envelope when decoded, a bad payload or an
unknown type when the payload is asked for (so the dead letter still names its event)."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
import pytest
from pydantic import ValidationError

from contracts import envelope as envelope_module
from contracts.envelope import Actor, Envelope, Event
from contracts.registry import EVENT_CLASSES, EVENT_TYPES
from gongkai.eventlog import decode, encode
from tests.unit.test_contracts import EXAMPLES, WHEN


def decode_before(data: bytes) -> Envelope:
    """`eventlog.decode` as it was."""
    return Envelope.model_validate(orjson.loads(data))


def event_before(env: Envelope) -> Event:
    """`Envelope.event` as it was."""
    from contracts.registry import EVENT_TYPES

    cls = EVENT_TYPES.get(env.type)
    if cls is None:
        raise LookupError(f"unknown event type {env.type!r}")
    payload = env.payload
    if env.schema_version < cls.VERSION:
        payload = cls.upcast(env.schema_version, dict(payload))
    return cls.model_validate(payload)


def stored(event: Event, **changes: Any) -> bytes:
    env = Envelope.wrap(event, aggregate_id="x1", org="org-1", actor=Actor(user="li", roles=["officer"]),
                        occurred_at=WHEN, correlation_id="c-1", event_id="e-1")
    return orjson.dumps(env.model_dump(mode="json") | changes)


def outcome(fn, *args) -> tuple[str, object]:
    """What a call gave: its value, or its error's type and details."""
    try:
        return "ok", fn(*args)
    except ValidationError as e:
        return "error", (type(e), e.title, e.errors())
    except Exception as e:
        return "error", (type(e), str(e))


def test_there_is_an_example_of_every_registered_type():
    assert {type(e) for e in EXAMPLES} == set(EVENT_CLASSES) == set(EVENT_TYPES.values())


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.TYPE)
def test_decoded_event_is_what_the_former_code_gave(event):
    data = stored(event)
    env, before = decode(data), decode_before(data)
    assert type(env) is Envelope and env == before
    assert env.model_fields_set == before.model_fields_set and env.actor.model_fields_set == before.actor.model_fields_set
    ev, ev_before = env.event(), event_before(before)
    assert type(ev) is type(event) and ev == ev_before == event
    assert ev.model_fields_set == ev_before.model_fields_set
    assert encode(env) == encode(before)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.TYPE)
def test_a_bad_payload_decodes_and_fails_when_read(event):
    bad = orjson.loads(stored(event))
    bad["payload"] = bad["payload"] | {"no_such_field": 1}
    data = orjson.dumps(bad)
    env = decode(data)  # the envelope is fine: the event can be dead-lettered under its type and id
    assert env == decode_before(data)
    with pytest.raises(ValidationError):
        env.event()
    assert outcome(env.event) == outcome(event_before, env)


@pytest.mark.parametrize("payload", [{}, {"submission": "not a number"}, [], None, "x"])
def test_a_payload_of_the_wrong_shape_fails_alike(payload):
    data = stored(EXAMPLES[2], payload=payload)
    assert outcome(decode, data) == outcome(decode_before, data)
    if outcome(decode, data)[0] == "ok":
        assert outcome(decode(data).event) == outcome(event_before, decode_before(data))
        assert outcome(decode(data).event)[0] == "error"


def test_an_unknown_type_decodes_and_fails_when_read():
    data = stored(EXAMPLES[0], type="item.no_such_event")
    env = decode(data)
    assert env == decode_before(data)
    with pytest.raises(LookupError, match="no_such_event"):
        env.event()
    assert outcome(env.event) == outcome(event_before, env)


@pytest.mark.parametrize("data", [
    b"not json", b"", b"[]", b"{}", b'{"type": "item.drafted"}',
    stored(EXAMPLES[0], occurred_at="yesterday"), stored(EXAMPLES[0], actor={"roles": []}),
    stored(EXAMPLES[0], schema_version="one"), stored(EXAMPLES[0], payload=None),
], ids=["not-json", "empty", "list", "no-fields", "only-type", "bad-time", "no-user", "bad-version",
      "null-payload"])
def test_a_bad_envelope_fails_to_decode_alike(data):
    got, before = outcome(decode, data), outcome(decode_before, data)
    assert got[0] == "error" and got == before


def test_an_older_payload_is_upcast_as_before(monkeypatch):
    class Renamed(Event):
        TYPE: ClassVar[str] = "test.renamed"
        VERSION: ClassVar[int] = 2
        AGGREGATE: ClassVar[str] = "item"
        name: str

        @classmethod
        def upcast(cls, version: int, payload: dict[str, Any]) -> dict[str, Any]:
            return {"name": payload.pop("title")} if version < 2 else payload

    monkeypatch.setitem(EVENT_TYPES, Renamed.TYPE, Renamed)
    envelope_module._load_event_types()
    env = decode(orjson.dumps({"event_id": "e", "type": Renamed.TYPE, "schema_version": 1, "aggregate": "item",
                               "aggregate_id": "a", "org": "o", "actor": {"user": "u"},
                               "occurred_at": "2026-03-01T09:30:00Z", "payload": {"title": "t"}}))
    assert env.event() == event_before(env) == Renamed(name="t")
    assert env.payload == {"title": "t"}  # the stored payload is left as it was
