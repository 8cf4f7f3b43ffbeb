"""The event envelope: what every event in the log carries, whatever its type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    """Base of every event payload. `TYPE` and `VERSION` name it in the log."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    AGGREGATE: ClassVar[str]

    @classmethod
    def upcast(cls, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Bring an older payload up to `VERSION`; each event class overrides this when it changes."""
        return payload


class Actor(BaseModel):
    """Who caused the event: a person (with the roles they acted in) or the system on someone's behalf."""

    user: str
    roles: list[str] = Field(default_factory=list)
    via: str | None = None  # e.g. "workflow:review-item-…" when a workflow acted


class Envelope(BaseModel):
    event_id: str
    type: str
    schema_version: int = 1
    aggregate: str
    aggregate_id: str
    org: str
    actor: Actor
    occurred_at: datetime
    correlation_id: str | None = None
    causation_id: str | None = None
    payload: dict[str, Any]

    @classmethod
    def wrap(cls, event: Event, *, aggregate_id: str, org: str, actor: Actor, event_id: str | None = None,
             occurred_at: datetime | None = None, correlation_id: str | None = None,
             causation_id: str | None = None, aggregate: str | None = None) -> Envelope:
        """`aggregate` names the aggregate when an event type serves several (a review decision is recorded
        on an item or on an application)."""
        return cls(
            event_id=event_id or str(uuid.uuid4()),
            type=event.TYPE,
            schema_version=event.VERSION,
            aggregate=aggregate or event.AGGREGATE,
            aggregate_id=aggregate_id,
            org=org,
            actor=actor,
            occurred_at=occurred_at or datetime.now(UTC),
            correlation_id=correlation_id,
            causation_id=causation_id,
            payload=event.model_dump(mode="json"),
        )

    def event(self) -> Event:
        """The typed payload, upcast to the current version of its type."""
        cls = (_event_types or _load_event_types()).get(self.type)
        if cls is None:
            raise LookupError(f"unknown event type {self.type!r}")
        payload = self.payload
        if self.schema_version < cls.VERSION:
            payload = cls.upcast(self.schema_version, dict(payload))
        # the validator `model_validate` calls, without its per-call Python overhead (every event of a replay
        # comes through here)
        return cls.__pydantic_validator__.validate_python(payload)


#: the registry's `EVENT_TYPES`, once imported: an import statement in `event` cost more than a small
#: payload's validation. Not imported at module level: the registry imports the event modules, which import this.
_event_types: dict[str, type[Event]] = {}


def _load_event_types() -> dict[str, type[Event]]:
    global _event_types
    from contracts.registry import EVENT_TYPES

    _event_types = EVENT_TYPES
    return EVENT_TYPES
