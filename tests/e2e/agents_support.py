"""A user's home holding all four agents' real data, each where its agent keeps it.

The shipped Claude Code samples in ``~/.claude/projects``, real Codex 0.169 rollouts in
``$CODEX_HOME``, a real OpenCode database in ``$XDG_DATA_HOME/opencode`` and real Gemini
CLI chats in ``~/.gemini`` (the fixtures under ``tests/fixtures``, written by each
agent's own binary). ``env`` points a CLI subprocess at it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"
CONVERSATIONS = {"claude-code": 3, "codex": 4, "opencode": 3, "gemini": 3}
"""Conversations (threads) in each agent's data: Claude Code's two sample sessions and
a sub-agent, Codex's two sessions with a sub-agent and a fork, OpenCode's two sessions
and a sub-agent session, Gemini's two chats and a sub-agent chat."""


@dataclass
class AgentsHome:
    home: Path
    env: dict[str, str]

    @property
    def claude(self) -> Path:
        return self.home / ".claude" / "projects"

    @property
    def codex(self) -> Path:
        return self.home / ".codex"

    @property
    def opencode(self) -> Path:
        return self.home / ".local" / "share" / "opencode"

    @property
    def gemini(self) -> Path:
        return self.home / ".gemini"

    @property
    def chats(self) -> Path:
        """The Gemini CLI chats of the fixture's one project."""
        return self.gemini / "tmp" / "weather-app" / "chats"


@pytest.fixture
def agents(tmp_path: Path) -> AgentsHome:
    home = tmp_path / "user"
    shutil.copytree(REPO / "samples" / "claude" / "projects", home / ".claude" / "projects")
    shutil.copytree(FIXTURES / "codex" / "real" / "exec", home / ".codex")
    shutil.copytree(FIXTURES / "opencode" / "real", home / ".local" / "share" / "opencode")
    shutil.copytree(FIXTURES / "gemini" / "real", home / ".gemini")
    env = {
        "HOME": str(home),
        "CODEX_HOME": str(home / ".codex"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "GEMINI_CLI_HOME": str(home),
    }
    return AgentsHome(home, env)
