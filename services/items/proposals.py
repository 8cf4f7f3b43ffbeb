"""人大代表建议 and 政协委员提案 handed to the body: received and answered (the seed's §十)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from contracts.application_events import ProposalAnswered, ProposalReceived
from contracts.envelope import Event
from contracts.errors import Conflict, Forbidden, Invalid
from contracts.roles import Principal, Role
from gongkai.eventlog import Stored


@dataclass
class Proposal:
    AGGREGATE: ClassVar[str] = "proposal"
    id: str
    org: str = ""
    received: ProposalReceived | None = None
    answered_on: date | None = None
    version: int = 0
    history: list[Stored] = field(default_factory=list)

    @classmethod
    def from_events(cls, pid: str, events: list[Stored]) -> Proposal:
        p = cls(id=pid)
        for st in events:
            p.apply(st)
        return p

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, st: Stored) -> None:
        ev = st.envelope.event()
        self.version = st.seq
        self.history.append(st)
        if isinstance(ev, ProposalReceived):
            self.org, self.received = st.envelope.org, ev
        elif isinstance(ev, ProposalAnswered):
            self.answered_on = ev.answered_on

    def receive(self, by: Principal, *, kind: str, received_on: date, title: str, number: str | None) -> Event:
        if Role.OFFICE not in by.roles:
            raise Forbidden("建议提案由公开办公室登记", "only role office records proposals", code="wrong_role")
        return ProposalReceived(kind=kind, received_on=received_on, title=title, number=number)

    def answer(self, by: Principal, answered_on: date) -> Event:
        if by.org != self.org or Role.OFFICE not in by.roles:
            raise Forbidden("建议提案由公开办公室办理", "only the office of the org answers proposals", code="wrong_role")
        if self.answered_on is not None:
            raise Conflict("该建议提案已办复", "the proposal was already answered", code="finished")
        if self.received and answered_on < self.received.received_on:
            raise Invalid("办复日期早于收到日期", "answered_on is before received_on", code="bad_date")
        return ProposalAnswered(answered_on=answered_on)
