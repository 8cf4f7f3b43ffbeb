"""The items service's own read model: one row per item for `GET /items`."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, Session, SQLModel

from contracts.items import (
    ItemDrafted,
    ItemImported,
    ItemPublished,
    ItemRevised,
    ItemSubmitted,
)
from contracts.lifecycle import status_after, year_of
from gongkai.eventlog import Stored
from gongkai.projection import Projection


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
                          author=ev.author, status=status_after(ev), created_at=env.occurred_at,
                          updated_at=env.occurred_at, version=st.seq)
            if isinstance(ev, ItemImported):
                row.imported, row.published_at, row.year = True, ev.published_at, year_of(ev.published_at)
            session.merge(row)
            return
        row = session.get(ItemRow, env.aggregate_id)
        if row is None:
            return
        row.updated_at, row.version = env.occurred_at, st.seq
        row.status = status_after(ev) or row.status
        match ev:
            case ItemRevised():
                for k in ("title", "category"):
                    if k in ev.changes:
                        setattr(row, k, ev.changes[k])
            case ItemSubmitted():
                row.submission = ev.submission
            case ItemPublished():
                row.published_at, row.year = ev.published_at, year_of(ev.published_at)
        session.add(row)
