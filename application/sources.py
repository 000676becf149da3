"""Sources found on disk and problems found in them: plain values, cheap to import."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
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


@dataclass(frozen=True)
class SourceFile:
    """A transcript found on disk."""

    agent: str
    path: str
    """Canonical (symlinks resolved) absolute path: the source's identity."""
    size: int
    mtime_ns: int
