"""A thread's title, whichever agent wrote the conversation: the name the agent or the
user gave it, else the first line of the first real prompt."""

from __future__ import annotations

from typing import Literal

TITLE_MAX_CHARS = 120
FALLBACK_TITLE = "Imported session"


def first_line(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return truncate(line, limit)
    return ""


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def choose_title(
    custom_title: str | None, ai_title: str | None, first_prompt: str
) -> tuple[str, Literal["custom", "ai", "prompt", "fallback"]]:
    """Last custom title > last AI title > first real prompt's first line."""
    if custom_title and (line := first_line(custom_title)):
        return line, "custom"
    if ai_title and (line := first_line(ai_title)):
        return line, "ai"
    if first_prompt and (line := first_line(first_prompt)):
        return line, "prompt"
    return FALLBACK_TITLE, "fallback"
