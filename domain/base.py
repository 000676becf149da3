"""Pydantic-based aggregates for eventsourcing 9.5.

The library's declarative style (``@event("PastTense")`` commands on an
``Aggregate``), with events that are frozen pydantic models, so that datetimes,
UUIDs and item value objects round-trip exactly through an orjson transcoder.
This mirrors the library's ``examples/aggregate8`` pattern, which 9.5.6 does not
ship as a module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import (
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    datetime_now_with_tzinfo,
)
from pydantic import BaseModel, ConfigDict, Field


class Immutable(BaseModel):
    """A frozen value object that rejects unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DomainEvent(Immutable):
    originator_id: UUID
    originator_version: int
    timestamp: datetime = Field(default_factory=datetime_now_with_tzinfo)


class Aggregate(BaseAggregate[UUID]):
    """Base for Threadline's aggregates: events are pydantic models."""

    class Event(DomainEvent, CanMutateAggregate[UUID]):
        pass

    class Created(Event, CanInitAggregate[UUID]):
        originator_topic: str

    @staticmethod
    def create_id(*_: Any, **__: Any) -> UUID:  # pragma: no cover - every aggregate overrides
        raise NotImplementedError("Threadline aggregates have deterministic ids")
