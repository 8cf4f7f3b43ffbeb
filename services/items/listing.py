"""The items service's own read model: one row per item for `GET /items`."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, Session, SQLModel

from contracts.envelope import Event
from contracts.items import (
    ItemDrafted,
    ItemImported,
    ItemPublished,
    ItemRevised,
    ItemSubmitted,
)
from contracts.lifecycle import status_after, year_of
from gongkai.batchfold import Memo, Rows, decoded, defer, fold_each, folding  # noqa: F401 (register.py imports them here)
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
    aggregates = frozenset({"item"})

    def __init__(self) -> None:
        self.memo = Memo(self.tables)

    def apply(self, session: Session, st: Stored) -> None:
        """One event, as `gongkai.projection` hands them over: its payload is validated now (an event that
        cannot be read fails here), its fold waits for the rest of the batch (`fold_batch`)."""
        if st.envelope.aggregate == "item":
            defer(session, self, st, st.envelope.event())

    def apply_many(self, session: Session, batch: list[Stored]) -> None:
        """Fold a batch of events at once, in order."""
        self.fold_batch(session, decoded(batch, lambda env: env.aggregate == "item"))

    def fold_batch(self, session: Session, events: list[tuple[Stored, Event]]) -> None:
        """The rows the batch touches are read with one query, folded, and written once each."""
        rows = Rows(session, self.memo)
        rows.load(ItemRow, {st.envelope.aggregate_id for st, _ in events})
        fold_each(events, lambda st, ev: self._fold(rows, st, ev))
        rows.write()

    def _fold(self, rows: Rows, st: Stored, ev) -> None:
        env = st.envelope
        if isinstance(ev, ItemDrafted | ItemImported):
            row = rows.new(ItemRow, id=env.aggregate_id, org=env.org, kind=ev.kind, category=ev.category,
                           title=ev.title, author=ev.author, status=status_after(ev), created_at=env.occurred_at,
                           updated_at=env.occurred_at, version=st.seq)
            if isinstance(ev, ItemImported):
                row.imported, row.published_at, row.year = True, ev.published_at, year_of(ev.published_at)
            rows.put(ItemRow, row)
            return
        row = rows.get(ItemRow, env.aggregate_id)
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
        rows.put(ItemRow, row)
