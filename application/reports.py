"""What an import run did, per source and in total: plain values, cheap to import.

Plain classes, not dataclasses: an unchanged re-import builds these and would
otherwise pay ~7 ms, a sixth of its run, to import ``dataclasses``.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from threadline.application.sources import Problem

SourceOutcome = Literal[
    "imported",
    "appended",
    "replaced",
    "skipped",
    "rejected",
    "failed",
    "known",
    "behind",
    "diverged_newer",
    "diverged_older",
    "gone",
]
"""``known`` … ``diverged_older``: a location of a conversation imported before (ADR 0011,
``domain.ledger.Outcome``); ``gone``: a location imported before that is no longer on
disk (its thread stays)."""
OUTCOMES: tuple[SourceOutcome, ...] = get_args(SourceOutcome)


class SourceReport:
    __slots__ = ("agent", "bytes_read", "outcome", "path", "problems", "store_error", "thread_id")

    def __init__(
        self,
        path: str,
        outcome: SourceOutcome,
        thread_id: str | None = None,
        bytes_read: int = 0,
        problems: list[Problem] | None = None,
        store_error: str | None = None,
        agent: str = "",
    ) -> None:
        self.agent = agent
        """The agent whose source this is (``TranscriptSource.agent``)."""
        self.path = path
        self.outcome = outcome
        self.thread_id = thread_id
        self.bytes_read = bytes_read
        self.problems = problems if problems is not None else []
        self.store_error = store_error
        """Why the store could not save this source (after the retries), if that is what failed."""

    def __repr__(self) -> str:
        return f"SourceReport({self.path!r}, {self.outcome!r}, {self.thread_id!r})"


class ImportReport:
    __slots__ = ("problems", "seconds", "sources", "store_error")

    def __init__(self, problems: list[Problem] | None = None) -> None:
        self.sources: list[SourceReport] = []
        self.problems = problems if problems is not None else []
        """Problems found while looking for sources (not tied to one source's import)."""
        self.seconds = 0.0
        self.store_error: str | None = None
        """The store failed: a source could not be saved, or the read models not caught up."""

    def count(self, outcome: SourceOutcome, agent: str | None = None) -> int:
        return sum(1 for s in self.sources if s.outcome == outcome and agent in (None, s.agent))

    @property
    def agents(self) -> list[str]:
        """The agents of the sources reported, in the order first seen."""
        return list(dict.fromkeys(s.agent for s in self.sources))

    @property
    def all_problems(self) -> list[Problem]:
        return [*self.problems, *(p for s in self.sources for p in s.problems)]

    @property
    def bytes_read(self) -> int:
        return sum(s.bytes_read for s in self.sources)

    def as_json(self) -> dict[str, Any]:
        """The machine-readable result of ``threadline import --json``."""
        return {
            "counts": {o: self.count(o) for o in OUTCOMES},
            "agents": {a: {o: self.count(o, a) for o in OUTCOMES} for a in self.agents},
            "problems": [p.as_json() for p in self.all_problems],
            "bytes": self.bytes_read,
            "seconds": round(self.seconds, 3),
            "store_error": self.store_error,
            "sources": [
                {
                    "agent": s.agent,
                    "path": s.path,
                    "outcome": s.outcome,
                    "thread_id": s.thread_id,
                    "problems": len(s.problems),
                }
                for s in self.sources
            ],
        }
