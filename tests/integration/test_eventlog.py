"""The event log on a real nats-server with JetStream: append, conflicts, de-duplication, loading."""

import asyncio
import uuid

import pytest

from contracts.envelope import Actor, Envelope
from contracts.items import ItemDrafted, ItemRevised
from contracts.subjects import event_subject
from gongkai.eventlog import ConcurrencyConflict, EventLog


def drafted(item_id: str, title: str = "t", event_id: str | None = None) -> Envelope:
    return Envelope.wrap(ItemDrafted(kind="proactive", category="meetings", title=title, author="a"),
                         aggregate_id=item_id, org="o", actor=Actor(user="a"), event_id=event_id)


def revised(item_id: str, title: str) -> Envelope:
    return Envelope.wrap(ItemRevised(changes={"title": title}), aggregate_id=item_id, org="o", actor=Actor(user="a"))


@pytest.fixture
async def log(nats_server):
    log = await EventLog.connect(nats_server.url)
    await log.ensure_stream()
    yield log
    await log.close()


async def test_the_stream_forbids_delete_and_purge(log):
    info = await log.js.stream_info(log.stream)
    assert info.config.deny_delete and info.config.deny_purge
    assert info.config.storage == "file"
    head = await log.head()
    with pytest.raises(Exception, match="purge not permitted"):
        await log.js.purge_stream(log.stream)
    with pytest.raises(Exception, match=r"not permitted|denied"):
        await log.js.delete_msg(log.stream, 1)
    assert await log.head() == head


async def test_append_then_load_gives_the_events_in_order(log):
    item = str(uuid.uuid4())
    subject = event_subject("item", item)
    s1 = await log.append(subject, drafted(item), 0)
    s2 = await log.append(subject, revised(item, "t2"), s1)
    other = str(uuid.uuid4())
    await log.append(event_subject("item", other), drafted(other), 0)  # interleaved aggregate
    s3 = await log.append(subject, revised(item, "t3"), s2)
    loaded = await log.load(subject)
    assert [st.seq for st in loaded] == [s1, s2, s3]
    assert [st.envelope.type for st in loaded] == ["item.drafted", "item.revised", "item.revised"]
    assert loaded[2].envelope.event().changes == {"title": "t3"}


async def test_two_concurrent_appends_on_one_aggregate_exactly_one_wins(log):
    item = str(uuid.uuid4())
    subject = event_subject("item", item)
    s1 = await log.append(subject, drafted(item), 0)
    results = await asyncio.gather(*(log.append(subject, revised(item, f"v{i}"), s1) for i in range(10)),
                                   return_exceptions=True)
    assert sum(isinstance(r, int) for r in results) == 1
    assert sum(isinstance(r, ConcurrencyConflict) for r in results) == 9
    assert all(r.status == 409 for r in results if isinstance(r, ConcurrencyConflict))
    assert len(await log.load(subject)) == 2


async def test_the_first_event_of_an_aggregate_cannot_be_written_twice(log):
    item = str(uuid.uuid4())
    subject = event_subject("item", item)
    await log.append(subject, drafted(item), 0)
    with pytest.raises(ConcurrencyConflict):
        await log.append(subject, drafted(item, "again"), 0)


async def test_a_retried_append_is_stored_once(log):
    """A retry with the same event id (after a lost ack) must not store a second copy, even though the
    server answers the retry with 'wrong last sequence' instead of a duplicate ack."""
    item = str(uuid.uuid4())
    subject = event_subject("item", item)
    env = drafted(item)
    first = await log.append(subject, env, 0)
    head = await log.head()
    retried = await log.append(subject, env, 0)
    assert retried == first
    assert await log.head() == head
    assert len(await log.load(subject)) == 1


async def test_same_message_id_without_expectation_is_deduplicated_by_the_server(log):
    item = str(uuid.uuid4())
    subject = event_subject("item", item)
    env = drafted(item)
    a = await log.js.publish(subject, b"{}", stream=log.stream, headers={"Nats-Msg-Id": env.event_id})
    b = await log.js.publish(subject, b"{}", stream=log.stream, headers={"Nats-Msg-Id": env.event_id})
    assert b.duplicate and a.seq == b.seq


async def test_loading_an_unknown_aggregate_gives_nothing(log):
    assert await log.load(event_subject("item", str(uuid.uuid4()))) == []
