"""The items service's register of applications: one row per application, for the office's list and for the
per-applicant monthly count that the per-application fee depends on (国办函〔2020〕109号). The applicant is kept
only as a hash: the list never needs the person, only whether two applications come from the same one."""

from __future__ import annotations

import hashlib
from datetime import date

from sqlalchemy import func, or_
from sqlmodel import Field, Session, SQLModel, select

from contracts.application_events import Applicant, ApplicationAnswered, ApplicationClosed, ApplicationReceived
from contracts.envelope import Event
from gongkai.eventlog import Stored
from gongkai.projection import Projection
from services.items.listing import Memo, Rows, decoded, defer, fold_each


def applicant_key(org: str, applicant: Applicant) -> str:
    """The same applicant, whatever channel they used: by 证件号码 when given, else by name and organization."""
    who = (applicant.id_number or f"{applicant.name}|{applicant.organization or ''}").strip().upper()
    return hashlib.sha256(f"{org}|{who}".encode()).hexdigest()


class RegisterRow(SQLModel, table=True):
    __tablename__ = "applications_register_v1"
    id: str = Field(primary_key=True)
    org: str = Field(index=True)
    seq: int  # order of registration, to count an applicant's applications in a month
    applicant_key: str = Field(index=True)
    applicant_type: str
    received_on: date
    month: str = Field(index=True)  # YYYY-MM of receipt
    subject: str
    status: str = "open"
    outcome: str | None = None


class ApplicationRegister(Projection):
    name = "items.applications.v1"
    tables = [RegisterRow]
    # the other aggregates' events (nine in ten) are passed over undecoded
    aggregates = frozenset({"application"})

    def __init__(self) -> None:
        self.memo = Memo(self.tables)

    def apply(self, session: Session, st: Stored) -> None:
        """One event, as `gongkai.projection` hands them over: its payload is validated now (an event that
        cannot be read fails here), its fold waits for the rest of the batch (`fold_batch`)."""
        if st.envelope.aggregate == "application":
            defer(session, self, st, st.envelope.event())

    def apply_many(self, session: Session, batch: list[Stored]) -> None:
        """Fold a batch of events at once, in order."""
        self.fold_batch(session, decoded(batch, lambda env: env.aggregate == "application"))

    def fold_batch(self, session: Session, events: list[tuple[Stored, Event]]) -> None:
        """The rows the batch touches are read with one query, folded, and written once each."""
        rows = Rows(session, self.memo)
        rows.load(RegisterRow, {st.envelope.aggregate_id for st, _ in events})
        fold_each(events, lambda st, ev: self._fold(rows, st, ev))
        rows.write()

    @staticmethod
    def _fold(rows: Rows, st: Stored, ev: Event) -> None:
        env = st.envelope
        if isinstance(ev, ApplicationReceived):
            rows.put(RegisterRow, rows.new(RegisterRow, id=env.aggregate_id, org=env.org, seq=st.seq,
                                           applicant_key=applicant_key(env.org, ev.applicant),
                                           applicant_type=ev.applicant_type, received_on=ev.received_on,
                                           month=ev.received_on.strftime("%Y-%m"), subject=ev.subject))
        elif isinstance(ev, ApplicationAnswered | ApplicationClosed) and (
                row := rows.get(RegisterRow, env.aggregate_id)):
            row.status = "answered" if isinstance(ev, ApplicationAnswered) else "closed"
            row.outcome = ev.outcome
            rows.put(RegisterRow, row)


def nth_in_month(session: Session, org: str, key: str, received_on: date, app_id: str) -> int:
    """Which of the applicant's applications this one is in its calendar month (1 = the first)."""
    mine = session.get(RegisterRow, app_id)
    month = received_on.strftime("%Y-%m")
    q = select(func.count()).select_from(RegisterRow).where(
        RegisterRow.org == org, RegisterRow.applicant_key == key, RegisterRow.month == month)
    if mine is None:  # not yet in the register: it comes after every one that is
        return session.exec(q).one() + 1
    earlier = or_(RegisterRow.received_on < received_on,
                  (RegisterRow.received_on == received_on) & (RegisterRow.seq <= mine.seq))
    return session.exec(q.where(earlier)).one()
