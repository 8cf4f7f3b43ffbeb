"""Publishing an approved item: the aggregate's last check, and its 索引号 taken from the org's counter for
the year in the same atomic append, so numbers are consecutive with no gaps and never reused, even when
twenty items of one org are published at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from contracts import subjects
from contracts.envelope import Actor, Envelope
from contracts.items import IndexAssigned, ItemStatus
from contracts.lifecycle import year_of
from gongkai.deployment import Deployment
from gongkai.eventlog import ConcurrencyConflict, EventLog, Stored
from services.items.domain import Item

ATTEMPTS = 200  # each lost race means another publication got the number: someone always makes progress


async def publish(log: EventLog, deployment: Deployment, load, item_id: str, submission: int,
                  workflow_id: str) -> Item:
    """Publish `submission` of the item (or apply the change it asks for) once; a repeated call returns the
    item as it is after that."""
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gongkai:publish:{workflow_id}"))
    for _ in range(ATTEMPTS):
        item: Item = await load(item_id)
        if item.submission == submission and not item.review_open and (
                item.status is ItemStatus.PUBLISHED or item.status is ItemStatus.RETRACTED):
            return item  # done already: a retried command
        if item.change is not None:  # an approved retraction or validity change, not a first publication
            return await _change(log, item, submission, workflow_id, event_id)
        published_at = datetime.now(UTC)
        year = year_of(published_at)
        counter = subjects.index_subject(item.org, year)
        last = await log.last(counter)
        seq = (last.envelope.payload["seq"] if last else 0) + 1
        index_no = deployment.org(item.org).index_no(year, seq)
        published = item.publish(submission=submission, published_at=published_at, index_no=index_no)
        actor = Actor(user="system", via=f"workflow:{workflow_id}")
        assigned = IndexAssigned(year=year, seq=seq, index_no=index_no, item_id=item.id)
        entries = [
            (counter, Envelope.wrap(assigned, aggregate_id=f"{item.org}-{year}", org=item.org, actor=actor,
                                    occurred_at=published_at, correlation_id=workflow_id), last.seq if last else 0),
            (subjects.event_subject("item", item.id),
             Envelope.wrap(published, aggregate_id=item.id, org=item.org, actor=actor, event_id=event_id,
                           occurred_at=published_at, correlation_id=workflow_id), item.version),
        ]
        try:
            seqs = await log.append_atomic(entries)
        except ConcurrencyConflict:
            continue  # another publication took the number (or the item moved): look again
        item.apply(Stored(seqs[-1], entries[-1][1]))
        return item
    raise ConcurrencyConflict(f"index counter of {item_id}", -1)


async def _change(log: EventLog, item: Item, submission: int, workflow_id: str, event_id: str) -> Item:
    event = item.apply_change(submission=submission, at=datetime.now(UTC))
    env = Envelope.wrap(event, aggregate_id=item.id, org=item.org, event_id=event_id, correlation_id=workflow_id,
                        actor=Actor(user="system", via=f"workflow:{workflow_id}"))
    seq = await log.append(subjects.event_subject("item", item.id), env, item.version)
    item.apply(Stored(seq, env))
    return item
