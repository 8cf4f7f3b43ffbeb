"""An item's status as its events move it, and the year it counts in: one place for every fold."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from contracts.application_events import (
    AnswerSubmitted,
    ApplicationAnswered,
    ApplicationClosed,
    Section2Approved,
    Section2Submitted,
)
from contracts.chain import Outcome
from contracts.envelope import Event
from contracts.items import (
    ChangeRequested,
    ItemDrafted,
    ItemImported,
    ItemPublished,
    ItemRetracted,
    ItemStatus,
    ItemSubmitted,
    ItemWithdrawn,
    ValidityChanged,
)
from contracts.reviews import DecisionRecorded

SHANGHAI = ZoneInfo("Asia/Shanghai")


def status_after(event: Event) -> ItemStatus | None:
    """The status an event puts the item in, or None when the event leaves the status as it was."""
    match event:
        case ItemDrafted():
            return ItemStatus.DRAFT
        case ItemImported() | ItemPublished():
            return ItemStatus.PUBLISHED
        case ItemSubmitted():
            return ItemStatus.IN_REVIEW
        case DecisionRecorded(purpose="publish", outcome=Outcome.RETURN):
            return ItemStatus.RETURNED
        case DecisionRecorded(purpose="publish", outcome=Outcome.REJECT):
            return ItemStatus.REJECTED
        case ItemWithdrawn():
            return ItemStatus.WITHDRAWN
        case ItemRetracted():
            return ItemStatus.RETRACTED
    return None  # a change under review leaves a published item published until it is approved


def review_open_after(event: Event, open_: bool) -> bool:
    """Whether a submission (to publish, or to change a published item) awaits decisions after `event`."""
    match event:
        case ItemSubmitted() | ChangeRequested() | AnswerSubmitted() | Section2Submitted():
            return True
        case DecisionRecorded(outcome=Outcome.RETURN | Outcome.REJECT):
            return False
        case ItemPublished() | ItemRetracted() | ValidityChanged() | ItemWithdrawn() | ApplicationAnswered() \
                | ApplicationClosed() | Section2Approved():
            return False
    return open_


def year_of(moment: datetime) -> int:
    """The statistical year of a moment: its calendar year in Asia/Shanghai (a report covers 1 Jan – 31 Dec).
    The log stores aware times; a naive one (read back from SQLite) is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).year
