"""Sources found on disk and problems found in them: plain values, cheap to import.

Named tuples, not dataclasses: an unchanged re-import uses them and nothing else
that needs ``dataclasses`` (which costs ~7 ms to import, a sixth of that run).
"""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """Something wrong with the input, with where it is."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.reason}"
            if self.line
            else f"{self.path}: {self.reason}"
        )

    def as_json(self) -> dict[str, str | int]:
        return {"path": self.path, "line": self.line, "reason": self.reason}


class SourceFile(NamedTuple):
    """A transcript found on disk."""

    agent: str
    path: str
    """Canonical (symlinks resolved) absolute path: the source's identity."""
    size: int
    mtime_ns: int
