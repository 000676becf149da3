"""The CLI's plain-text formatting helpers, shared by the table and the rich renderings.

Standard library only: ``threadline threads`` prints its table with these alone.
"""

from __future__ import annotations

MIB = 1024 * 1024


def short_path(path: str, width: int) -> str:
    """``path`` cut from the left to ``width`` characters (its end says the most)."""
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def when(value: str | None) -> str:
    """An ISO timestamp to the minute, as ``2026-10-05 14:02``."""
    return value[:16].replace("T", " ") if value else ""


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def one_line(text: str) -> str:
    return " ".join(text.split())


def size(n: int) -> str:
    """A byte count for a person: B, KiB or MiB."""
    if n < 1024:
        return f"{n} B"
    if n < MIB:
        return f"{n / 1024:.1f} KiB"
    return f"{n / MIB:.1f} MiB"
