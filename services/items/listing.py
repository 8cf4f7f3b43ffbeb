"""The items service's own read model: one row per item for `GET /items`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Field, Session, SQLModel

from contracts.items import (
    ItemDrafted,
    ItemImported,
    ItemPublished,
    ItemRevised,
    ItemStatus,
    ItemSubmitted,
    ItemWithdrawn,
)
from contracts.reviews import DecisionRecorded
from gongkai.eventlog import Stored
from gongkai.projection import Projection

SHANGHAI = ZoneInfo("Asia/Shanghai")


class ItemRow(SQLModel, table=True):
    __tablename__ = "items_listing"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    kind: str
    category: str | None = Field(default=None, index=True)
    title: str
    author: str
    status: str = Field(index=True)
    submission: int = 0
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    year: int | None = Field(default=None, index=True)  # publication year, Asia/Shanghai
    imported: bool = False
    version: int = 0


class ItemListing(Projection):
    name = "items.listing"
    tables = [ItemRow]

    def apply(self, session: Session, st: Stored) -> None:
        env = st.envelope
        if env.aggregate != "item":
            return
        ev = env.event()
        if isinstance(ev, ItemDrafted | ItemImported):
            row = ItemRow(id=env.aggregate_id, org=env.org, kind=ev.kind, category=ev.category, title=ev.title,
                          author=ev.author, status=ItemStatus.DRAFT, created_at=env.occurred_at,
                          updated_at=env.occurred_at, version=st.seq)
            if isinstance(ev, ItemImported):
                row.status, row.imported, row.published_at = ItemStatus.PUBLISHED, True, ev.published_at
                row.year = ev.published_at.astimezone(SHANGHAI).year
            session.merge(row)
            return
        row = session.get(ItemRow, env.aggregate_id)
        if row is None:
            return
        row.updated_at, row.version = env.occurred_at, st.seq
        match ev:
            case ItemRevised():
                for k in ("title", "category"):
                    if k in ev.changes:
                        setattr(row, k, ev.changes[k])
            case ItemSubmitted():
                row.status, row.submission = ItemStatus.IN_REVIEW, ev.submission
            case DecisionRecorded(outcome="return"):
                row.status = ItemStatus.RETURNED
            case DecisionRecorded(outcome="reject"):
                row.status = ItemStatus.REJECTED
            case ItemPublished():
                row.status, row.published_at = ItemStatus.PUBLISHED, ev.published_at
                row.year = ev.published_at.astimezone(SHANGHAI).year
            case ItemWithdrawn():
                row.status = ItemStatus.WITHDRAWN
        session.add(row)
