"""The annual totals read model: one row per item, enough to count what the year's report counts.

The year of an item is the year of its publication in Asia/Shanghai time.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import func
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
from gongkai.eventlog import Stored
from gongkai.projection import Projection


class ReportItem(SQLModel, table=True):
    __tablename__ = "reports_items_v9"  # versioned: a changed table is a new projection, rebuilt on start
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


class ReportApplication(SQLModel, table=True):
    """One row per application: enough to fill table 三 for any year."""

    __tablename__ = "reports_applications_v9"
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

    __tablename__ = "reports_cases_v9"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    kind: str
    filed_year: int = Field(index=True)
    result: str


class ReportProposal(SQLModel, table=True):
    __tablename__ = "reports_proposals_v9"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    kind: str
    received_year: int = Field(index=True)
    answered_year: int | None = None


class ReportText(SQLModel, table=True):
    """The latest text of each narrative section of an org's report for a year."""

    __tablename__ = "reports_texts_v9"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    year: int = Field(index=True)
    section: str
    text: str


class ReportReview(SQLModel, table=True):
    """What waits for a decision, for the leaders' pipeline: one row per item, application or table-二 record."""

    __tablename__ = "reports_reviews_v9"
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


def apply_review(session: Session, st: Stored) -> None:
    env, ev = st.envelope, st.envelope.event()
    if isinstance(ev, ItemDrafted | ApplicationReceived):
        session.merge(ReportReview(id=env.aggregate_id, aggregate=env.aggregate, org=env.org,
                                   title=getattr(ev, "title", None) or getattr(ev, "subject", "")))
        return
    row = session.get(ReportReview, env.aggregate_id)
    if row is None:
        if not isinstance(ev, Section2Submitted):
            return
        row = ReportReview(id=env.aggregate_id, aggregate="record", org=env.org,
                           title=f"{ev.year}年度报告第二部分数据")
    if isinstance(ev, ItemRevised) and "title" in ev.changes:
        row.title = str(ev.changes["title"])
    elif isinstance(ev, ItemSubmitted | ChangeRequested | AnswerSubmitted | Section2Submitted):
        row.open, row.stage, row.since, row.overdue_recorded = True, "initial", env.occurred_at, False
        row.purpose = ev.change if isinstance(ev, ChangeRequested) else (
            "answer" if isinstance(ev, AnswerSubmitted) else "publish")
        row.author = getattr(ev, "drafted_by", row.author)
    elif isinstance(ev, DecisionRecorded) and row.open and row.stage:
        nxt = chain.advance(chain.ChainState(author="", stage=chain.Stage(row.stage)),
                            chain.Decision(ev.stage, ev.outcome, ev.decided_by))
        row.stage, row.since, row.overdue_recorded = nxt.stage, env.occurred_at, False
        row.open = nxt.stage is not None
    elif isinstance(ev, ReviewOverdue) and ev.deadline == "stage":
        row.overdue_recorded = True
    row.open = review_open_after(ev, row.open)
    if not row.open:
        row.stage = None
    session.add(row)


class ReportClosed(SQLModel, table=True):
    """A closed year: the report's figures as they were when the office closed it."""

    __tablename__ = "reports_closed_v9"
    id: str = Field(primary_key=True)  # <org>-<year>
    org: str = Field(index=True)
    year: int
    digest: str
    figures: str
    closed_at: datetime
    closed_by: str


class ReportSection2(SQLModel, table=True):
    """An org's table-二 figures for a year: the last submitted, and the approved ones the report shows."""

    __tablename__ = "reports_section2_v9"
    id: str = Field(primary_key=True)  # <org>-<year>
    org: str = Field(index=True)
    year: int = Field(index=True)
    submitted: str = "{}"
    approved: str | None = None


def apply_section2(session: Session, st: Stored) -> None:
    env, ev = st.envelope, st.envelope.event()
    if isinstance(ev, Section2Submitted):
        row = session.get(ReportSection2, env.aggregate_id) or ReportSection2(id=env.aggregate_id, org=env.org,
                                                                              year=ev.year)
        row.submitted = ev.figures.model_dump_json()
        session.add(row)
    elif isinstance(ev, Section2Approved) and (row := session.get(ReportSection2, env.aggregate_id)):
        row.approved = row.submitted
        session.add(row)


def section2_figures(session: Session, *, year: int, org: str) -> Section2Figures | None:
    row = session.get(ReportSection2, f"{org}-{year}")
    return Section2Figures.model_validate_json(row.approved) if row and row.approved else None


def narrative(session: Session, *, year: int, org: str) -> dict[str, str]:
    rows = session.exec(select(ReportText).where(ReportText.org == org, ReportText.year == year)).all()
    return {r.section: r.text for r in rows}


def apply_proposal(session: Session, st: Stored) -> None:
    env, ev = st.envelope, st.envelope.event()
    if isinstance(ev, ProposalReceived):
        session.merge(ReportProposal(id=env.aggregate_id, org=env.org, kind=ev.kind,
                                     received_year=ev.received_on.year))
    elif isinstance(ev, ProposalAnswered) and (row := session.get(ReportProposal, env.aggregate_id)):
        row.answered_year = ev.answered_on.year
        session.add(row)


def apply_application(session: Session, st: Stored) -> None:
    env, ev = st.envelope, st.envelope.event()
    if isinstance(ev, CaseRecorded):
        session.merge(ReportCase(id=ev.case_id, org=env.org, kind=ev.kind, filed_year=ev.filed_on.year,
                                 result=ev.result))
        return
    if isinstance(ev, CaseDecided):
        if case := session.get(ReportCase, ev.case_id):
            case.result = ev.result
            session.add(case)
        return
    if isinstance(ev, ApplicationReceived):
        session.merge(ReportApplication(
            id=env.aggregate_id, org=env.org, applicant_type=ev.applicant_type, received_on=ev.received_on,
            received_year=ev.received_on.year, clock=json.dumps([{"kind": "received", "on": str(ev.received_on)}]),
            due_on=_due([{"kind": "received", "on": str(ev.received_on)}])))
        return
    row = session.get(ReportApplication, env.aggregate_id)
    if row is None:
        return
    row.review_open = review_open_after(ev, row.review_open)
    match ev:
        case ClockEventRecorded() | FeeNotified():
            steps = [*json.loads(row.clock), {"kind": getattr(ev, "kind", "fee_notified"), "on": str(ev.on),
                                              "days": getattr(ev, "days", None)}]
            row.clock, row.due_on = json.dumps(steps), _due(steps)
            if isinstance(ev, FeeNotified):
                row.fee_yuan = ev.amount_yuan
            elif ev.kind == "fee_paid":
                row.fee_paid_year = ev.on.year
        case ApplicationAnswered():
            row.outcome, row.finished_on, row.finished_year = ev.outcome, ev.answered_on, ev.answered_on.year
        case ApplicationClosed():
            row.outcome, row.finished_on, row.finished_year = ev.outcome, ev.closed_on, ev.closed_on.year
    session.add(row)


def _due(steps: list[dict]) -> date | None:
    try:
        return appclock.clock([appclock.ClockEvent(**s) for s in steps]).reply_due_on
    except (appclock.ClockError, ValueError):
        return None


def cases_table(session: Session, *, year: int, org: str | None) -> dict[str, int]:
    """Table 四: the year's cases by kind and result, with the totals (T4-1…T4-3 hold by construction)."""
    q = select(ReportCase.kind, ReportCase.result, func.count()).where(ReportCase.filed_year == year)
    if org:
        q = q.where(ReportCase.org == org)
    cells = dict.fromkeys(TABLE4_COLUMNS, 0)
    for kind, result, n in session.exec(q.group_by(ReportCase.kind, ReportCase.result)).all():
        cells[TABLE4_KEYS[(CaseKind(kind), CaseResult(result))]] += n
        cells[TABLE4_TOTAL_KEYS[CaseKind(kind)]] += n
    return cells


def _published(session: Session, year: int, org: str | None, kind: ItemKind) -> list[datetime]:
    q = select(ReportItem.published_at).where(ReportItem.year == year, ReportItem.kind == kind)
    if org:
        q = q.where(ReportItem.org == org)
    return [p if p.tzinfo else p.replace(tzinfo=UTC) for p in session.exec(q).all() if p]


def trends(session: Session, *, year: int, org: str | None, today: date | None = None) -> dict:
    """For the leaders: this year by month against last year, by org, and last year as of the same date."""
    today = today or datetime.now(SHANGHAI).date()
    same_day = date(year - 1, today.month, min(today.day, 28 if today.month == 2 else today.day)) \
        if year == today.year else date(year - 1, 12, 31)

    def by_month(moments: list[datetime]) -> dict[str, int]:
        months = dict.fromkeys([str(m) for m in range(1, 13)], 0)
        for m in moments:
            months[str(m.astimezone(SHANGHAI).month)] += 1
        return months

    def upto(moments: list[datetime]) -> int:
        return sum(1 for m in moments if m.astimezone(SHANGHAI).date() <= same_day)

    by_org = select(ReportItem.org, func.count()).where(ReportItem.year == year,
                                                        ReportItem.kind == ItemKind.PROACTIVE)
    apps = select(ReportApplication.received_on, ReportApplication.finished_on)
    if org:
        by_org, apps = by_org.where(ReportItem.org == org), apps.where(ReportApplication.org == org)
    received = session.exec(apps).all()
    last = {k: _published(session, year - 1, org, k) for k in (ItemKind.PROACTIVE, ItemKind.INTERPRETATION,
                                                                ItemKind.RESPONSE)}
    return {
        "by_month": by_month(_published(session, year, org, ItemKind.PROACTIVE)),
        "last_year_by_month": by_month(last[ItemKind.PROACTIVE]),
        "by_org": dict(session.exec(by_org.group_by(ReportItem.org)).all()),
        "last_year_same_date": {
            "as_of": same_day.isoformat(), "proactive": upto(last[ItemKind.PROACTIVE]),
            "interpretations": upto(last[ItemKind.INTERPRETATION]), "responses": upto(last[ItemKind.RESPONSE]),
            "applications_new": sum(1 for r, _ in received if r.year == year - 1 and r <= same_day),
            "applications_answered": sum(1 for _, f in received if f and f.year == year - 1 and f <= same_day)},
    }


def fees_collected(session: Session, *, year: int, org: str | None) -> dict[str, int]:
    """信息处理费 paid in the year."""
    q = select(func.count(), func.coalesce(func.sum(ReportApplication.fee_yuan), 0)).where(
        ReportApplication.fee_paid_year == year, ReportApplication.fee_yuan > 0)
    if org:
        q = q.where(ReportApplication.org == org)
    count, total = session.exec(q).one()
    return {"charged_count": count, "charged_yuan": int(total)}


def proposals_count(session: Session, *, year: int, org: str | None) -> dict:
    out = {}
    for kind in ("npc_suggestion", "cppcc_proposal"):
        base = select(func.count()).select_from(ReportProposal).where(ReportProposal.kind == kind)
        if org:
            base = base.where(ReportProposal.org == org)
        out[kind] = {"received": session.exec(base.where(ReportProposal.received_year == year)).one(),
                     "answered": session.exec(base.where(ReportProposal.answered_year == year)).one()}
    return out


def applications_table(session: Session, *, year: int, org: str | None) -> dict:
    """Table 三 of `year`, counted from the register: every cell, and T3-1 holds by construction — an
    application open at the end of a year is carried forward and is the next year's carried-over."""
    q = select(ReportApplication).where(ReportApplication.received_year <= year).where(
        (ReportApplication.finished_year == None) | (ReportApplication.finished_year >= year))  # noqa: E711
    if org:
        q = q.where(ReportApplication.org == org)
    columns = [t.value for t in ApplicantType]
    rows = ["new_applications", "carried_over_from_last_year", *[o.value for o in Outcome], "results_total",
            "carried_forward_to_next_year"]
    table = {r: dict.fromkeys([*columns, "total"], 0) for r in rows}

    def count(row: str, column: str) -> None:
        table[row][column] += 1
        table[row]["total"] += 1

    for a in session.exec(q).all():
        count("new_applications" if a.received_year == year else "carried_over_from_last_year", a.applicant_type)
        if a.finished_year == year:
            count(a.outcome, a.applicant_type)
            count("results_total", a.applicant_type)
        else:
            count("carried_forward_to_next_year", a.applicant_type)
    return table


class AnnualTotals(Projection):
    name = "reports.totals.v9"
    tables = [ReportItem, ReportApplication, ReportCase, ReportProposal, ReportText, ReportSection2, ReportClosed,
              ReportReview]

    def apply(self, session: Session, st: Stored) -> None:
        env = st.envelope
        apply_review(session, st)
        if env.aggregate == "application":
            return apply_application(session, st)
        if env.aggregate == "proposal":
            return apply_proposal(session, st)
        if env.aggregate == "record":
            return apply_section2(session, st)
        if env.aggregate == "report":
            ev = env.event()
            if isinstance(ev, ReportYearClosed):
                session.merge(ReportClosed(id=f"{env.org}-{ev.year}", org=env.org, year=ev.year, digest=ev.digest,
                                           figures=json.dumps(ev.figures, ensure_ascii=False),
                                           closed_at=env.occurred_at, closed_by=ev.closed_by))
            if isinstance(ev, ReportTextSet):
                session.merge(ReportText(id=f"{env.org}|{ev.year}|{ev.section}", org=env.org, year=ev.year,
                                         section=ev.section, text=ev.text))
            return None
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
    table3 = applications_table(session, year=year, org=org)
    pending = select(func.count()).select_from(ReportApplication).where(ReportApplication.finished_on == None)  # noqa: E711
    late = pending.where(ReportApplication.due_on < datetime.now(SHANGHAI).date())
    if org:
        pending, late = pending.where(ReportApplication.org == org), late.where(ReportApplication.org == org)
    open_apps, overdue_apps = session.exec(pending).one(), session.exec(late).one()
    by_category = {code: 0 for code in categories}
    by_kind = {k.value: 0 for k in ItemKind}
    for kind, category, n in session.exec(published.group_by(ReportItem.kind, ReportItem.category)).all():
        by_kind[kind] = by_kind.get(kind, 0) + n
        if kind == ItemKind.PROACTIVE and category:
            by_category[category] = by_category.get(category, 0) + n
    extra = trends(session, year=year, org=org)
    return {
        "year": year,
        "org": org,
        "proactive": {"total": by_kind[ItemKind.PROACTIVE], "by_category": by_category,
                      "by_month": extra.pop("by_month"),
                      "category_names": {c: categories.get(c, c) for c in by_category}},
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
        "in_review": session.exec(in_review).one() + open_apps,
        "overdue": session.exec(overdue).one() + overdue_apps,
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
