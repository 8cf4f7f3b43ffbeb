"""Every event type in the log, by its name."""

from __future__ import annotations

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
    Section2Submitted,
)
from contracts.envelope import Event
from contracts.items import (
    ChangeRequested,
    IndexAssigned,
    ItemDrafted,
    ItemImported,
    ItemPublished,
    ItemRetracted,
    ItemRevised,
    ItemSubmitted,
    ItemWithdrawn,
    ValidityChanged,
)
from contracts.reviews import DecisionRecorded, ReviewAgainDue, ReviewOverdue

EVENT_CLASSES: list[type[Event]] = [
    ItemDrafted, ItemRevised, ItemSubmitted, ItemWithdrawn, DecisionRecorded, ItemPublished, ItemImported,
    IndexAssigned, ReviewOverdue, ReviewAgainDue, ChangeRequested, ItemRetracted, ValidityChanged,
    ApplicationReceived, ClockEventRecorded, FeeNotified, AnswerSubmitted, ApplicationAnswered, ApplicationClosed,
    CaseRecorded, CaseDecided, ProposalReceived, ProposalAnswered, ReportTextSet,
    Section2Submitted, Section2Approved, ReportYearClosed,
]
EVENT_TYPES: dict[str, type[Event]] = {c.TYPE: c for c in EVENT_CLASSES}
