"""The annual totals read model: one row per item, enough to count what the year's report counts.

The year of an item is the year of its publication in Asia/Shanghai time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Field, Session, SQLModel, select

from contracts.items import (
    ItemDrafted,
    ItemImported,
    ItemKind,
    ItemPublished,
    ItemRevised,
)
from contracts.lifecycle import review_open_after, status_after, year_of
from contracts.reviews import DecisionRecorded, ReviewOverdue
from gongkai.eventlog import Stored
from gongkai.projection import Projection


class ReportItem(SQLModel, table=True):
    __tablename__ = "reports_items_v2"  # versioned: a changed table is a new projection, rebuilt on start
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    kind: str
    category: str | None = None
    status: str = Field(index=True)
    published_at: datetime | None = None
    year: int | None = Field(default=None, index=True)
    imported: bool = False
    review_open: bool = False
    overdue: bool = False  # the current stage passed its deadline and is still undecided


class AnnualTotals(Projection):
    name = "reports.totals.v2"
    tables = [ReportItem]

    def apply(self, session: Session, st: Stored) -> None:
        env = st.envelope
        if env.aggregate != "item":
            return
        ev = env.event()
        if isinstance(ev, ItemDrafted | ItemImported):
            row = ReportItem(id=env.aggregate_id, org=env.org, kind=ev.kind, category=ev.category,
                             status=status_after(ev))
            if isinstance(ev, ItemImported):
                row.imported, row.published_at, row.year = True, ev.published_at, year_of(ev.published_at)
            session.merge(row)
            return
        row = session.get(ReportItem, env.aggregate_id)
        if row is None:
            return
        row.status = status_after(ev) or row.status
        row.review_open = review_open_after(ev, row.review_open)
        if isinstance(ev, ReviewOverdue) and ev.deadline == "stage":
            row.overdue = True
        elif isinstance(ev, DecisionRecorded) or not row.review_open:
            row.overdue = False  # decided: the next stage has a deadline of its own
        if isinstance(ev, ItemRevised) and "category" in ev.changes:
            row.category = ev.changes["category"]  # type: ignore[assignment]
        elif isinstance(ev, ItemPublished):
            row.published_at, row.year = ev.published_at, year_of(ev.published_at)
        session.add(row)


def totals(session: Session, *, year: int, org: str | None, categories: dict[str, str], position: int) -> dict:
    """The year's totals in the shape of DESIGN.md's `GET /totals`."""
    # published in the year, whatever happened to it later (a retraction keeps its place in the year's count)
    published = select(ReportItem.kind, ReportItem.category, func.count()).where(ReportItem.year == year)
    in_review = select(func.count()).select_from(ReportItem).where(ReportItem.review_open)
    overdue = select(func.count()).select_from(ReportItem).where(ReportItem.review_open, ReportItem.overdue)
    if org:
        published = published.where(ReportItem.org == org)
        in_review = in_review.where(ReportItem.org == org)
        overdue = overdue.where(ReportItem.org == org)
    by_category = {code: 0 for code in categories}
    by_kind = {k.value: 0 for k in ItemKind}
    for kind, category, n in session.exec(published.group_by(ReportItem.kind, ReportItem.category)).all():
        by_kind[kind] = by_kind.get(kind, 0) + n
        if kind == ItemKind.PROACTIVE and category:
            by_category[category] = by_category.get(category, 0) + n
    return {
        "year": year,
        "org": org,
        "proactive": {"total": by_kind[ItemKind.PROACTIVE], "by_category": by_category,
                      "category_names": {c: categories.get(c, c) for c in by_category}},
        "interpretations": by_kind[ItemKind.INTERPRETATION],
        "responses": by_kind[ItemKind.RESPONSE],
        "applications": {"new": 0, "carried_over": 0, "results": {}, "carried_forward": 0},
        "in_review": session.exec(in_review).one(),
        "overdue": session.exec(overdue).one(),
        "position": position,
    }
