"""`gongkai.submission.KeptEvents` against a real NATS server: what it hands out is always the subject as the
log holds it now, whoever appended since, and an append from a stale read is refused by the log itself."""

from __future__ import annotations

import uuid

import pytest

from contracts.envelope import Actor, Envelope
from contracts.items import ItemDrafted, ItemRevised
from contracts.subjects import event_subject
from gongkai.eventlog import ConcurrencyConflict, EventLog
from gongkai.submission import KeptEvents


def drafted(item_id: str) -> Envelope:
    return Envelope.wrap(ItemDrafted(kind="proactive", category="meetings", title="t", author="a"),
                         aggregate_id=item_id, org="org1", actor=Actor(user="a"))


def revised(item_id: str, title: str) -> Envelope:
    return Envelope.wrap(ItemRevised(changes={"title": title}), aggregate_id=item_id, org="org1",
                         actor=Actor(user="a"))


@pytest.fixture
async def logs(nats_server):
    """Two processes' connections: `mine` reads through KeptEvents, `other` appends behind its back."""
    mine, other = await EventLog.connect(nats_server.url), await EventLog.connect(nats_server.url)
    await mine.ensure_stream()
    yield mine, other
    await mine.close()
    await other.close()


async def test_events_appended_by_another_process_are_fetched_and_kept(logs):
    mine, other = logs
    kept = KeptEvents(mine)
    item = str(uuid.uuid4())
    subject = event_subject("item", item)
    assert await kept.load(subject) == ()
    s1 = await other.append(subject, drafted(item), 0)
    first = await kept.load(subject)
    assert [st.seq for st in first] == [s1]
    s2 = await other.append(subject, revised(item, "again"), s1)
    s3 = await other.append(subject, revised(item, "and again"), s2)
    now = await kept.load(subject)
    assert [st.seq for st in now] == [s1, s2, s3]
    assert [st.envelope.event_id for st in now] == [st.envelope.event_id for st in await mine.load(subject)]
    assert [st.digest for st in now] == [st.digest for st in await mine.load(subject)]  # the chain continues


async def test_an_append_on_a_stale_read_is_refused_by_the_log(logs):
    mine, other = logs
    kept = KeptEvents(mine)
    item = str(uuid.uuid4())
    subject = event_subject("item", item)
    s1 = await mine.append(subject, drafted(item), 0)
    stale = await kept.load(subject)
    await other.append(subject, revised(item, "theirs"), s1)
    with pytest.raises(ConcurrencyConflict):
        await mine.append(subject, revised(item, "mine"), stale[-1].seq)
    assert len(await kept.load(subject)) == 2
