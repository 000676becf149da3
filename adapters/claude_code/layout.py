"""Where a Claude Code transcript goes back to: its path relative to a Claude home.

``projects/<slug>/<session>.jsonl`` for a session, and
``projects/<slug>/<session>/subagents/agent-*.jsonl`` for a sub-agent's file (with
its ``agent-*.meta.json`` beside it): the layout Claude Code itself reads, so its
resume picker finds a restored session.
"""

from __future__ import annotations

import os

from threadline.adapters.claude_code.discovery import default_roots


def relative_path(path: str) -> str:
    """``path`` from its ``projects`` directory on (a file imported from elsewhere goes
    under ``projects/<its directory's name>/``)."""
    parts = path.split(os.sep)
    if "subagents" in parts[:-1]:
        # projects/<slug>/<session>/subagents/…: the project is three above ``subagents``.
        at = len(parts) - 1 - parts[::-1].index("subagents")
        start = at - 3
    else:
        start = len(parts) - 3
    if start >= 0 and parts[start] == "projects":
        return os.path.join(*parts[start:])
    return os.path.join("projects", *parts[-2:])


def meta_path(path: str) -> str:
    """The meta file Claude Code 2.1.x keeps beside a sub-agent's transcript."""
    return path.removesuffix(".jsonl") + ".meta.json"


def home() -> str:
    """The Claude home to restore into: the first of ``$CLAUDE_CONFIG_DIR``, else ~/.claude."""
    return os.path.dirname(default_roots()[0])
