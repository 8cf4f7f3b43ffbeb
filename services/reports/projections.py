"""The annual totals read model: one row per item, enough to count what the year's report counts.

The year of an item is the year of its publication in Asia/Shanghai time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from functools import lru_cache
from types import SimpleNamespace

from sqlalchemy import Index, bindparam, case, func
from sqlmodel import Field, Session, SQLModel, select

from contracts import chain
from contracts.application_events import (
    AnswerSubmitted,
    ApplicationAnswered,
    ApplicationClosed,
    ApplicationReceived,
    CaseDecided,
    CaseRecorded,
    ClockEventRecorded,
    FeeNotified,
    ProposalAnswered,
    ProposalReceived,
    ReportTextSet,
    ReportYearClosed,
    Section2Approved,
    Section2Figures,
    Section2Submitted,
)
from contracts.applications import (
    TABLE4_COLUMNS,
    TABLE4_KEYS,
    TABLE4_TOTAL_KEYS,
    ApplicantType,
    CaseKind,
    CaseResult,
    Outcome,
)
from contracts.envelope import Event
from contracts.items import (
    ChangeRequested,
    ItemDrafted,
    ItemImported,
    ItemKind,
    ItemPublished,
    ItemRevised,
    ItemSubmitted,
)
from contracts.lifecycle import SHANGHAI, review_open_after, status_after, year_of
from contracts.reviews import DecisionRecorded, ReviewOverdue
from gongkai import appclock
from gongkai.batchfold import Memo, Rows, decoded, defer, fold_each
from gongkai.eventlog import Stored
from gongkai.projection import Projection
from gongkai.workdays import Calendar, default_calendar


class ReportItem(SQLModel, table=True):
    __tablename__ = "reports_items_v10"  # versioned: a changed table is a new projection, rebuilt on start
    __table_args__ = (  # what /totals and the report count: by year and kind, for the city or one org
        Index("ix_reports_items_v10_year_kind", "year", "kind", "category", "org", "month", "published_on"),
        Index("ix_reports_items_v10_org_year_kind", "org", "year", "kind", "category", "month", "published_on"),
        Index("ix_reports_items_v10_open_org", "review_open", "org"),
    )
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    kind: str
    category: str | None = None
    status: str = Field(index=True)
    published_at: datetime | None = None
    year: int | None = Field(default=None, index=True)
    # the publication's month and day in Asia/Shanghai (the year's by-month counts, "last year by this date")
    month: int | None = None
    published_on: date | None = None
    imported: bool = False
    review_open: bool = False
    overdue: bool = False  # the current stage passed its deadline and is still undecided


class ReportApplication(SQLModel, table=True):
    """One row per application: enough to fill table 三 for any year."""

    __tablename__ = "reports_applications_v10"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    applicant_type: str
    received_on: date
    received_year: int = Field(index=True)
    finished_on: date | None = None
    finished_year: int | None = Field(default=None, index=True)
    outcome: str | None = None
    review_open: bool = False
    clock: str = "[]"  # the legal clock's events (JSON), to recompute the due date
    due_on: date | None = None
    fee_yuan: int = 0  # the fee notified (信息处理费)
    fee_paid_year: int | None = None


class ReportCase(SQLModel, table=True):
    """One 复议 or 诉讼 (table 四), counted in the year it was filed with its result as known now."""

    __tablename__ = "reports_cases_v10"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    kind: str
    filed_year: int = Field(index=True)
    result: str


class ReportProposal(SQLModel, table=True):
    __tablename__ = "reports_proposals_v10"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    kind: str
    received_year: int = Field(index=True)
    answered_year: int | None = None


class ReportText(SQLModel, table=True):
    """The latest text of each narrative section of an org's report for a year."""

    __tablename__ = "reports_texts_v10"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    year: int = Field(index=True)
    section: str
    text: str


class ReportReview(SQLModel, table=True):
    """What waits for a decision, for the leaders' pipeline: one row per item, application or table-二 record."""

    __tablename__ = "reports_reviews_v10"
    id: str = Field(primary_key=True)
    aggregate: str
    org: str = Field(index=True)
    title: str = ""
    author: str = ""
    purpose: str = "publish"
    open: bool = Field(default=False, index=True)
    stage: str | None = None
    since: datetime | None = None
    overdue_recorded: bool = False


def apply_review(rows: Rows, env, ev, open_after: bool | None) -> None:
    """`open_after`: `review_open_after(ev, None)` (None: the event leaves it as it was)."""
    if isinstance(ev, ItemDrafted):
        rows.put(ReportReview, rows.new(ReportReview, id=env.aggregate_id, aggregate=env.aggregate, org=env.org,
                                        title=ev.title or ""))
        return
    if isinstance(ev, ApplicationReceived):
        rows.put(ReportReview, rows.new(ReportReview, id=env.aggregate_id, aggregate=env.aggregate, org=env.org,
                                        title=ev.subject))
        return
    row = rows.get(ReportReview, env.aggregate_id)
    if row is None:
        if not isinstance(ev, Section2Submitted):
            return
        row = rows.new(ReportReview, id=env.aggregate_id, aggregate="record", org=env.org,
                       title=f"{ev.year}年度报告第二部分数据")
    changed = True
    if isinstance(ev, DecisionRecorded):  # most of the log: tried first
        if row.open and row.stage:
            row.stage, row.since, row.overdue_recorded = _next_stage(row.stage, ev.stage, ev.outcome), \
                env.occurred_at, False
            row.open = row.stage is not None
        else:
            changed = False
    elif isinstance(ev, ItemRevised):
        if "title" in ev.changes:
            row.title = str(ev.changes["title"])
        else:
            changed = False
    elif isinstance(ev, _SUBMITTING):
        row.open, row.stage, row.since, row.overdue_recorded = True, "initial", env.occurred_at, False
        if isinstance(ev, ChangeRequested):
            row.purpose = ev.change
        elif isinstance(ev, AnswerSubmitted):
            row.purpose, row.author = "answer", ev.drafted_by
        else:
            row.purpose = "publish"
            if isinstance(ev, Section2Submitted):
                row.author = ev.drafted_by
    elif isinstance(ev, ReviewOverdue) and ev.deadline == "stage":
        row.overdue_recorded = True
    else:
        changed = False
    before = row.open, row.stage
    if open_after is not None:
        row.open = open_after
    if not row.open:
        row.stage = None
    if changed or before != (row.open, row.stage):  # (a publication closes a review already closed)
        rows.put(ReportReview, row)


#: the submissions that open a review
_SUBMITTING = (ItemSubmitted, ChangeRequested, AnswerSubmitted, Section2Submitted)


@lru_cache(maxsize=1024)
def _next_stage(stage: str, decided_stage: str, outcome: str) -> str | None:
    """The stage after a decision, remembered: the chain's step depends on these three alone."""
    return chain.advance(chain.ChainState(author="", stage=chain.Stage(stage)),
                         chain.Decision(decided_stage, outcome, "")).stage  # type: ignore[arg-type]


class ReportClosed(SQLModel, table=True):
    """A closed year: the report's figures as they were when the office closed it."""

    __tablename__ = "reports_closed_v10"
    id: str = Field(primary_key=True)  # <org>-<year>
    org: str = Field(index=True)
    year: int
    digest: str
    figures: str
    closed_at: datetime
    closed_by: str


class ReportSection2(SQLModel, table=True):
    """An org's table-二 figures for a year: the last submitted, and the approved ones the report shows."""

    __tablename__ = "reports_section2_v10"
    id: str = Field(primary_key=True)  # <org>-<year>
    org: str = Field(index=True)
    year: int = Field(index=True)
    submitted: str = "{}"
    approved: str | None = None


def apply_section2(rows: Rows, env, ev) -> None:
    if isinstance(ev, Section2Submitted):
        row = rows.get(ReportSection2, env.aggregate_id) or rows.new(ReportSection2, id=env.aggregate_id,
                                                                     org=env.org, year=ev.year)
        row.submitted = ev.figures.model_dump_json()
        rows.put(ReportSection2, row)
    elif isinstance(ev, Section2Approved) and (row := rows.get(ReportSection2, env.aggregate_id)):
        row.approved = row.submitted
        rows.put(ReportSection2, row)


def section2_figures(session: Session, *, year: int, org: str) -> Section2Figures | None:
    row = session.get(ReportSection2, f"{org}-{year}")
    return Section2Figures.model_validate_json(row.approved) if row and row.approved else None


def narrative(session: Session, *, year: int, org: str) -> dict[str, str]:
    rows = session.exec(select(ReportText).where(ReportText.org == org, ReportText.year == year)).all()
    return {r.section: r.text for r in rows}


def apply_proposal(rows: Rows, env, ev) -> None:
    if isinstance(ev, ProposalReceived):
        rows.put(ReportProposal, rows.new(ReportProposal, id=env.aggregate_id, org=env.org, kind=ev.kind,
                                          received_year=ev.received_on.year))
    elif isinstance(ev, ProposalAnswered) and (row := rows.get(ReportProposal, env.aggregate_id)):
        row.answered_year = ev.answered_on.year
        rows.put(ReportProposal, row)


def apply_application(rows: Rows, env, ev, open_after: bool | None) -> None:
    """`open_after`: as for `apply_review`."""
    if isinstance(ev, CaseRecorded):
        rows.put(ReportCase, rows.new(ReportCase, id=ev.case_id, org=env.org, kind=ev.kind,
                                      filed_year=ev.filed_on.year, result=ev.result))
        return
    if isinstance(ev, CaseDecided):
        if case := rows.get(ReportCase, ev.case_id):
            case.result = ev.result
            rows.put(ReportCase, case)
        return
    if isinstance(ev, ApplicationReceived):
        clock = json.dumps([{"kind": "received", "on": str(ev.received_on)}])
        rows.put(ReportApplication, rows.new(
            ReportApplication,
            id=env.aggregate_id, org=env.org, applicant_type=ev.applicant_type, received_on=ev.received_on,
            received_year=ev.received_on.year, clock=clock, due_on=_due_of(clock, default_calendar())))
        return
    row = rows.get(ReportApplication, env.aggregate_id)
    if row is None:
        return
    if open_after is not None:
        row.review_open = open_after
    match ev:
        case ClockEventRecorded() | FeeNotified():
            step = {"kind": ev.kind, "on": str(ev.on), "days": ev.days} if isinstance(ev, ClockEventRecorded) \
                else {"kind": "fee_notified", "on": str(ev.on), "days": None}
            steps = [*json.loads(row.clock), step]
            row.clock = json.dumps(steps)
            row.due_on = _due_of(row.clock, default_calendar())
            if isinstance(ev, FeeNotified):
                row.fee_yuan = ev.amount_yuan
            elif ev.kind == "fee_paid":
                row.fee_paid_year = ev.on.year
        case ApplicationAnswered():
            row.outcome, row.finished_on, row.finished_year = ev.outcome, ev.answered_on, ev.answered_on.year
        case ApplicationClosed():
            row.outcome, row.finished_on, row.finished_year = ev.outcome, ev.closed_on, ev.closed_on.year
    rows.put(ReportApplication, row)


@lru_cache(maxsize=8192)
def _due_of(clock: str, calendar: Calendar) -> date | None:
    """The reply due date of a clock (its JSON), remembered: most applications share their few steps' dates."""
    try:
        return appclock.reply_due_on([appclock.ClockEvent(**s) for s in json.loads(clock)], calendar=calendar)
    except (appclock.ClockError, ValueError):
        return None


def cases_table(session: Session, *, year: int, org: str | None) -> dict[str, int]:
    """Table 四: the year's cases by kind and result, with the totals (T4-1…T4-3 hold by construction)."""
    q = _counting(session, "cases", org, ReportCase.org, lambda: select(
        ReportCase.kind, ReportCase.result, func.count()).where(ReportCase.filed_year == bindparam("year"))
        .group_by(ReportCase.kind, ReportCase.result), year=year)
    cells = dict.fromkeys(TABLE4_COLUMNS, 0)
    for kind, result, n in q.all():
        cells[TABLE4_KEYS[(CaseKind(kind), CaseResult(result))]] += n
        cells[TABLE4_TOTAL_KEYS[CaseKind(kind)]] += n
    return cells


def trends(session: Session, *, year: int, org: str | None, today: date | None = None) -> dict:
    """For the leaders: this year by month against last year, by org, and last year as of the same date."""
    today = today or datetime.now(SHANGHAI).date()
    same_day = date(year - 1, today.month, min(today.day, 28 if today.month == 2 else today.day)) \
        if year == today.year else date(year - 1, 12, 31)

    last = year - 1
    months = {y: dict.fromkeys([str(m) for m in range(1, 13)], 0) for y in (year, last)}
    for y, month, n in _counting(session, "by_month", org, ReportItem.org, lambda: select(
            ReportItem.year, ReportItem.month, func.count()).where(
            ReportItem.year.in_([bindparam("year"), bindparam("last")]),  # type: ignore[union-attr]
            ReportItem.kind == ItemKind.PROACTIVE).group_by(ReportItem.year, ReportItem.month),
            year=year, last=last).all():
        months[y][str(month)] += n
    by_org = _counting(session, "by_org", org, ReportItem.org, lambda: select(ReportItem.org, func.count()).where(
        ReportItem.year == bindparam("year"), ReportItem.kind == ItemKind.PROACTIVE).group_by(ReportItem.org),
        year=year).all()
    upto = dict(_counting(session, "upto", org, ReportItem.org, lambda: select(ReportItem.kind, func.count()).where(
        ReportItem.year == bindparam("last"), ReportItem.published_on <= bindparam("same_day")).group_by(
        ReportItem.kind), last=last, same_day=same_day).all())
    apps_new, apps_answered = _counting(session, "apps_upto", org, ReportApplication.org, lambda: select(
        _count_if((ReportApplication.received_year == bindparam("last"))
                  & (ReportApplication.received_on <= bindparam("same_day"))),
        _count_if((ReportApplication.finished_year == bindparam("last"))
                  & (ReportApplication.finished_on <= bindparam("same_day")))), last=last, same_day=same_day).one()
    return {
        "by_month": months[year],
        "last_year_by_month": months[year - 1],
        "by_org": dict(by_org),
        "last_year_same_date": {
            "as_of": same_day.isoformat(), "proactive": upto.get(ItemKind.PROACTIVE, 0),
            "interpretations": upto.get(ItemKind.INTERPRETATION, 0), "responses": upto.get(ItemKind.RESPONSE, 0),
            "applications_new": apps_new, "applications_answered": apps_answered},
    }


def fees_collected(session: Session, *, year: int, org: str | None) -> dict[str, int]:
    """信息处理费 paid in the year."""
    count, total = _counting(session, "fees", org, ReportApplication.org, lambda: select(
        func.count(), func.coalesce(func.sum(ReportApplication.fee_yuan), 0)).where(
        ReportApplication.fee_paid_year == bindparam("year"), ReportApplication.fee_yuan > 0), year=year).one()
    return {"charged_count": count, "charged_yuan": int(total)}


def proposals_count(session: Session, *, year: int, org: str | None) -> dict:
    kinds = ("npc_suggestion", "cppcc_proposal")
    q = _counting(session, "proposals", org, ReportProposal.org, lambda: select(
        ReportProposal.kind, _count_if(ReportProposal.received_year == bindparam("year")),
        _count_if(ReportProposal.answered_year == bindparam("year"))).where(
        ReportProposal.kind.in_(kinds)).group_by(ReportProposal.kind), year=year)  # type: ignore[attr-defined]
    got = {kind: (received, answered) for kind, received, answered in q}
    return {kind: {"received": got.get(kind, (0, 0))[0], "answered": got.get(kind, (0, 0))[1]} for kind in kinds}


_COUNTING: dict[tuple[str, bool], object] = {}


def _counting(session: Session, name: str, org: str | None, org_column, build, **params):
    """The rows of one of the counting queries, for the city or one org (`org` falsy: all), in the session's
    transaction. Each query is built once per shape, with bind parameters: building a statement costs
    SQLAlchemy several times what the database needs to answer these small aggregates."""
    key = (name, bool(org))
    statement = _COUNTING.get(key)
    if statement is None:
        statement = build()
        if org:
            statement = statement.where(org_column == bindparam("org"))
        _COUNTING[key] = statement
    if org:
        params["org"] = org
    return session.connection().execute(statement, params)


def _count_if(condition):
    """COUNT(*) FILTER (WHERE condition), in SQL that SQLite and PostgreSQL both speak."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def applications_table(session: Session, *, year: int, org: str | None) -> dict:
    """Table 三 of `year`, counted from the register: every cell, and T3-1 holds by construction — an
    application open at the end of a year is carried forward and is the next year's carried-over."""
    kinds = (ReportApplication.applicant_type, ReportApplication.received_year, ReportApplication.finished_year,
             ReportApplication.outcome)
    q = _counting(session, "table3", org, ReportApplication.org, lambda: select(*kinds, func.count()).where(
        ReportApplication.received_year <= bindparam("year")).where(
        (ReportApplication.finished_year == None)  # noqa: E711
        | (ReportApplication.finished_year >= bindparam("year"))).group_by(*kinds), year=year)
    columns = [t.value for t in ApplicantType]
    rows = ["new_applications", "carried_over_from_last_year", *[o.value for o in Outcome], "results_total",
            "carried_forward_to_next_year"]
    table = {r: dict.fromkeys([*columns, "total"], 0) for r in rows}

    def count(row: str, column: str, n: int) -> None:
        table[row][column] += n
        table[row]["total"] += n

    # counted by kind: applicant type, year received, year finished and how
    for applicant_type, received_year, finished_year, outcome, n in q.all():
        count("new_applications" if received_year == year else "carried_over_from_last_year", applicant_type, n)
        if finished_year == year:
            count(outcome, applicant_type, n)
            count("results_total", applicant_type, n)
        else:
            count("carried_forward_to_next_year", applicant_type, n)
    return table


#: the row of each aggregate's own (besides its review's)
_TABLE_OF = {"item": ReportItem, "application": ReportApplication, "proposal": ReportProposal,
             "record": ReportSection2}


class AnnualTotals(Projection):
    name = "reports.totals.v10"
    tables = [ReportItem, ReportApplication, ReportCase, ReportProposal, ReportText, ReportSection2, ReportClosed,
              ReportReview]
    # all but the 索引号 counters' events, which change no row here (one shares its id with a table-二 record,
    # whose review row it leaves as it is): an aggregate added to the log must be added here to be counted
    aggregates = frozenset({"item", "application", "proposal", "record", "report"})

    def __init__(self) -> None:
        self.memo = Memo(self.tables)

    def apply(self, session: Session, st: Stored) -> None:
        """One event, as `gongkai.projection` hands them over: its payload is validated now (an event that
        cannot be read fails here), its fold waits for the rest of the batch (`fold_batch`)."""
        defer(session, self, st, st.envelope.event())

    def apply_many(self, session: Session, batch: list[Stored]) -> None:
        """Fold a batch of events at once, in order."""
        self.fold_batch(session, decoded(batch, lambda env: env.aggregate in self.aggregates))

    def fold_batch(self, session: Session, events: list[tuple[Stored, Event]]) -> None:
        """The rows the batch touches are read with one query per table, folded, and written once each."""
        rows = Rows(session, self.memo)
        wanted: dict[type[SQLModel], set[str]] = defaultdict(set)
        for st, ev in events if not rows.complete else ():  # (all rows at hand: nothing to read)
            env = st.envelope
            wanted[ReportReview].add(env.aggregate_id)
            table = _TABLE_OF.get(env.aggregate)
            if table is not None:
                wanted[table].add(env.aggregate_id)
            if isinstance(ev, CaseRecorded | CaseDecided):
                wanted[ReportCase].add(ev.case_id)
            elif isinstance(ev, ReportYearClosed):
                wanted[ReportClosed].add(f"{env.org}-{ev.year}")
            elif isinstance(ev, ReportTextSet):
                wanted[ReportText].add(f"{env.org}|{ev.year}|{ev.section}")
        for table, ids in wanted.items():
            rows.load(table, ids)
        fold_each(events, lambda st, ev: self._fold(rows, st.envelope, ev))
        rows.write()

    def _fold(self, rows: Rows, env, ev) -> None:
        open_after, status = _lifecycle(ev)  # (once for the review and the row)
        apply_review(rows, env, ev, open_after)
        if env.aggregate == "item":
            return self._fold_item(rows, env, ev, open_after, status)
        if env.aggregate == "application":
            return apply_application(rows, env, ev, open_after)
        if env.aggregate == "proposal":
            return apply_proposal(rows, env, ev)
        if env.aggregate == "record":
            return apply_section2(rows, env, ev)
        if env.aggregate == "report":
            if isinstance(ev, ReportYearClosed):
                rows.put(ReportClosed, rows.new(ReportClosed, id=f"{env.org}-{ev.year}", org=env.org, year=ev.year,
                                                digest=ev.digest, figures=json.dumps(ev.figures, ensure_ascii=False),
                                                closed_at=env.occurred_at, closed_by=ev.closed_by))
            if isinstance(ev, ReportTextSet):
                rows.put(ReportText, rows.new(ReportText, id=f"{env.org}|{ev.year}|{ev.section}", org=env.org,
                                              year=ev.year, section=ev.section, text=ev.text))
        return None

    @staticmethod
    def _fold_item(rows: Rows, env, ev, open_after: bool | None, status: str | None) -> None:
        """`open_after` and `status`: `_lifecycle(ev)`."""
        if isinstance(ev, _NEW_ITEM):
            row = rows.new(ReportItem, id=env.aggregate_id, org=env.org, kind=ev.kind, category=ev.category,
                           status=status)
            if isinstance(ev, ItemImported):
                row.imported = True
                _published_at(row, ev.published_at)
            rows.put(ReportItem, row)
            return
        row = rows.get(ReportItem, env.aggregate_id)
        if row is None:
            return
        before = (row.status, row.review_open, row.overdue)
        row.status = status or row.status
        if open_after is not None:
            row.review_open = open_after
        if isinstance(ev, ReviewOverdue) and ev.deadline == "stage":
            row.overdue = True
        elif isinstance(ev, DecisionRecorded) or not row.review_open:
            row.overdue = False  # decided: the next stage has a deadline of its own
        if isinstance(ev, ItemRevised) and "category" in ev.changes:
            row.category = ev.changes["category"]  # type: ignore[assignment]
        elif isinstance(ev, ItemPublished):
            _published_at(row, ev.published_at)
        elif before == (row.status, row.review_open, row.overdue):
            return  # (most decisions): a row left as it was is not written again
        rows.put(ReportItem, row)


_NEW_ITEM = (ItemDrafted, ItemImported)


def _lifecycle_key(ev: Event) -> tuple:
    """What `status_after` and `review_open_after` read of an event: its type, and a decision's outcome and
    purpose (a field they come to read must be added here)."""
    fields = ev.__dict__
    return type(ev), fields.get("outcome"), fields.get("purpose")


_LIFECYCLE: dict[tuple, tuple[bool | None, str | None]] = {}


def _lifecycle(ev: Event) -> tuple[bool | None, str | None]:
    """(`review_open_after(ev, None)`, `status_after(ev)`), remembered by `_lifecycle_key`: their matching cost
    more than the rest of the fold."""
    key = _lifecycle_key(ev)
    known = _LIFECYCLE.get(key)
    if known is None:
        known = _LIFECYCLE[key] = (review_open_after(ev, None), status_after(ev))  # type: ignore[arg-type]
    return known


def _published_at(row: SimpleNamespace, moment: datetime) -> None:
    """The publication's moment, its statistical year, and its month and day in Asia/Shanghai."""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(SHANGHAI)
    row.published_at, row.year, row.month, row.published_on = moment, year_of(moment), local.month, local.date()


def year_counts(session: Session, *, year: int, org: str | None, categories: dict[str, str]) -> dict:
    """What the year's report counts: items published in the year by kind and category, table 三."""
    # published in the year, whatever happened to it later (a retraction keeps its place in the year's count)
    published = _counting(session, "published", org, ReportItem.org, lambda: select(
        ReportItem.kind, ReportItem.category, func.count()).where(ReportItem.year == bindparam("year")).group_by(
        ReportItem.kind, ReportItem.category), year=year).all()
    by_category = {code: 0 for code in categories}
    by_kind = {k.value: 0 for k in ItemKind}
    for kind, category, n in published:
        by_kind[kind] = by_kind.get(kind, 0) + n
        if kind == ItemKind.PROACTIVE and category:
            by_category[category] = by_category.get(category, 0) + n
    return {"by_kind": by_kind, "by_category": by_category,
            "category_names": {c: categories.get(c, c) for c in by_category},
            "table3": applications_table(session, year=year, org=org)}


def totals(session: Session, *, year: int, org: str | None, categories: dict[str, str], position: int) -> dict:
    """The year's totals in the shape of DESIGN.md's `GET /totals`."""
    counts = year_counts(session, year=year, org=org, categories=categories)
    table3, by_kind, by_category = counts["table3"], counts["by_kind"], counts["by_category"]
    # applications not finished, and of them those past their reply date
    open_apps, overdue_apps = _counting(session, "pending", org, ReportApplication.org, lambda: select(
        func.count(), _count_if(ReportApplication.due_on < bindparam("today"))).select_from(ReportApplication).where(
        ReportApplication.finished_on == None), today=datetime.now(SHANGHAI).date()).one()  # noqa: E711
    # items in review, and of them those past their stage's deadline
    items_in_review, items_overdue = _counting(session, "in_review", org, ReportItem.org, lambda: select(
        func.count(), _count_if(ReportItem.overdue)).select_from(ReportItem).where(ReportItem.review_open)).one()
    extra = trends(session, year=year, org=org)
    return {
        "year": year,
        "org": org,
        "proactive": {"total": by_kind[ItemKind.PROACTIVE], "by_category": by_category,
                      "by_month": extra.pop("by_month"),
                      "category_names": counts["category_names"]},
        "interpretations": by_kind[ItemKind.INTERPRETATION],
        "responses": by_kind[ItemKind.RESPONSE],
        "applications": {
            "new": table3["new_applications"]["total"],
            "carried_over": table3["carried_over_from_last_year"]["total"],
            "results": {o.value: table3[o.value]["total"] for o in Outcome},
            "results_total": table3["results_total"]["total"],
            "carried_forward": table3["carried_forward_to_next_year"]["total"],
            "pending": open_apps,
            "overdue": overdue_apps,
            "table3": table3,
        },
        **extra,
        "cases": cases_table(session, year=year, org=org),
        "proposals": proposals_count(session, year=year, org=org),
        "fees": fees_collected(session, year=year, org=org),
        "in_review": items_in_review + open_apps,
        "overdue": items_overdue + overdue_apps,
        "position": position,
    }


def explain(session: Session, *, year: int, org: str | None, key: str) -> dict:
    """The ids behind one number of `totals` (drill-down): `proactive.total`, `proactive.by_category.<code>`,
    `interpretations`, `responses`, `applications.table3.<row>.<column>`, `cases.<table-四 key>`."""
    parts = key.split(".")
    ids: list[str]
    if parts[0] in ("proactive", "interpretations", "responses"):
        kind = {"proactive": ItemKind.PROACTIVE, "interpretations": ItemKind.INTERPRETATION,
                "responses": ItemKind.RESPONSE}[parts[0]]
        q = select(ReportItem.id).where(ReportItem.year == year, ReportItem.kind == kind)
        if parts[0] == "proactive" and parts[1:2] == ["by_category"] and len(parts) == 3:
            q = q.where(ReportItem.category == parts[2])
        elif parts[0] == "proactive" and parts[1:] != ["total"]:
            raise KeyError(key)
        if org:
            q = q.where(ReportItem.org == org)
        return {"key": key, "aggregate": "item", "ids": sorted(session.exec(q).all())}
    if parts[:2] == ["applications", "table3"] and len(parts) == 4:
        row, column = parts[2], parts[3]
        q = select(ReportApplication).where(ReportApplication.received_year <= year).where(
            (ReportApplication.finished_year == None) | (ReportApplication.finished_year >= year))  # noqa: E711
        if org:
            q = q.where(ReportApplication.org == org)
        ids = []
        for a in session.exec(q).all():
            if column not in ("total", a.applicant_type):
                continue
            rows = {"new_applications" if a.received_year == year else "carried_over_from_last_year"}
            rows |= {a.outcome, "results_total"} if a.finished_year == year else {"carried_forward_to_next_year"}
            if row in rows:
                ids.append(a.id)
        return {"key": key, "aggregate": "application", "ids": sorted(ids)}
    if parts[0] == "cases" and len(parts) == 2:
        wanted = [(k, r) for (k, r), name in TABLE4_KEYS.items() if name == parts[1]]
        wanted += [(k, r) for k, name in TABLE4_TOTAL_KEYS.items() if name == parts[1] for r in CaseResult]
        if not wanted:
            raise KeyError(key)
        q = select(ReportCase.id, ReportCase.kind, ReportCase.result).where(ReportCase.filed_year == year)
        if org:
            q = q.where(ReportCase.org == org)
        ids = [cid for cid, k, r in session.exec(q).all() if (CaseKind(k), CaseResult(r)) in wanted]
        return {"key": key, "aggregate": "case", "ids": sorted(ids)}
    raise KeyError(key)
