"""Sources found on disk and problems found in them: plain values, cheap to import.

Named tuples, not dataclasses: an unchanged re-import uses them and nothing else
that needs ``dataclasses`` (which costs ~7 ms to import, a sixth of that run).
"""

from collections.abc import Callable
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


ConversationOf = Callable[[str], "str | None"]
"""The conversation a source holds, by the agent's own id, when its path alone says so."""

_CONVERSATION_OF: dict[str, ConversationOf] = {}


def name_conversations(agent: str, conversation_of: ConversationOf) -> None:
    """How ``agent``'s adapter names the conversation at a path (``adapters/sources.py``
    registers every agent; a reader registers its own agent when it is loaded)."""
    _CONVERSATION_OF[agent] = conversation_of


def names_conversations(agent: str) -> bool:
    """Whether ``agent``'s adapter is registered and can name its conversations."""
    return agent in _CONVERSATION_OF


def conversation_of(agent: str, path: str) -> str | None:
    """The conversation at ``path``, by the agent's own id, if its path alone tells."""
    naming = _CONVERSATION_OF.get(agent)
    return naming(path) if naming is not None else None
