"""The agents Threadline imports: one line each (ADR 0013).

An agent is a package under ``adapters/`` with ``AGENT`` in its ``__init__``, a
``discovery`` module (``default_roots``, ``recognises``, ``discover``,
``conversation_of``, ``is_gone``; standard library only) and a ``reader`` module with
its reader class. ``AgentModules`` makes such a package the source port
(``application.ports.AgentSource``); ``Sources`` is every agent at once, reading each
source with its own agent's reader.

Nothing here imports a reader until a source of its agent is read, nor a discovery
module until its agent is asked something: an unchanged re-import loads only the
discovery of the agents it looks at (ADR 0004), and a worker process only the readers
of the sources it is given.
"""

import _thread
import importlib
import os
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

from threadline.application.sources import Problem, SourceFile, name_conversations

if TYPE_CHECKING:
    from threadline.application.ports import (
        BlobStore,
        ReadTranscript,
        ResumePoint,
        TranscriptReader,
    )


class Root(NamedTuple):
    """Where to look for one agent's sources: its home, a directory in it, or a file."""

    agent: str
    path: str


class AgentModules:
    """One agent's package as the source port: its discovery module, loaded when first
    asked, and its reader, loaded when a source is first read."""

    def __init__(self, agent: str, package: str, reader_class: str) -> None:
        self.agent = agent
        self.package = f"threadline.adapters.{package}"
        self.reader_class = reader_class
        self._discovery: ModuleType | None = None
        self._reader: TranscriptReader | None = None
        self._lock = _thread.allocate_lock()  # what threading.Lock is; threading costs ~1 ms

    @property
    def discovery(self) -> ModuleType:
        if self._discovery is None:
            self._discovery = importlib.import_module(f"{self.package}.discovery")
        return self._discovery

    @property
    def reader(self) -> "TranscriptReader":
        if self._reader is None:
            with self._lock:  # the import's threads may ask at once
                if self._reader is None:
                    module = importlib.import_module(f"{self.package}.reader")
                    self._reader = getattr(module, self.reader_class)()
        assert self._reader is not None
        return self._reader

    def default_roots(self) -> list[str]:
        roots: list[str] = self.discovery.default_roots()
        return roots

    def recognises(self, path: str) -> bool:
        return bool(self.discovery.recognises(path))

    def discover(self, paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
        found: tuple[list[SourceFile], list[Problem]] = self.discovery.discover(paths)
        return found

    def conversation_of(self, path: str) -> str | None:
        key: str | None = self.discovery.conversation_of(path)
        return key

    def is_gone(self, path: str) -> bool:
        return bool(self.discovery.is_gone(path))

    def read(
        self, source: SourceFile, resume: "ResumePoint | None", blobs: "BlobStore"
    ) -> "ReadTranscript":
        return self.reader.read(source, resume, blobs)


AGENTS: tuple[AgentModules, ...] = (
    AgentModules("claude-code", "claude_code", "ClaudeCodeReader"),
    AgentModules("codex", "codex", "CodexReader"),
    AgentModules("opencode", "opencode", "OpenCodeReader"),
    AgentModules("gemini", "gemini", "GeminiReader"),
)
"""Every agent, by the name stored in ``TranscriptSource.agent``; the first is the
default for a path no agent recognises by its shape."""

AGENT_NAMES = tuple(a.agent for a in AGENTS)

for _agent in AGENTS:  # the application names conversations through the port (ADR 0011)
    name_conversations(_agent.agent, _agent.conversation_of)


class UnknownAgentError(ValueError):
    pass


class Sources:
    """The agents an import looks at (all, or those named), as one reader and finder."""

    def __init__(self, agents: Sequence[str] = ()) -> None:
        unknown = [a for a in agents if a not in AGENT_NAMES]
        if unknown:
            raise UnknownAgentError(
                f"unknown agent {', '.join(unknown)} (known: {', '.join(AGENT_NAMES)})"
            )
        self.agents = [a for a in AGENTS if not agents or a.agent in agents]
        self._by_name = {a.agent: a for a in AGENTS}

    def agent(self, name: str) -> AgentModules:
        return self._by_name[name]

    def default_roots(self) -> list[Root]:
        """Each agent's homes that exist."""
        return [
            Root(a.agent, root)
            for a in self.agents
            for root in a.default_roots()
            if os.path.exists(root)
        ]

    def looked_in(self) -> list[str]:
        """Every agent's homes, whether they exist or not (to say where we looked)."""
        return [root for a in self.agents for root in a.default_roots()]

    def roots_of(self, path: str) -> list[Root]:
        """The agents a path belongs to, by its shape. One no agent claims is the default
        agent's (Claude Code's) when it is looked at, else the named agents' own."""
        claimed = [Root(a.agent, path) for a in self.agents if a.recognises(path)]
        if claimed:
            return claimed
        default = AGENTS[0]
        if default in self.agents:
            return [Root(default.agent, path)]
        return [Root(a.agent, path) for a in self.agents]

    def discover(self, roots: Sequence[Root]) -> tuple[list[SourceFile], list[Problem]]:
        """Every source under the roots, each agent's under its own roots."""
        sources: dict[str, SourceFile] = {}
        problems: list[Problem] = []
        for agent in self.agents:
            paths = [r.path for r in roots if r.agent == agent.agent]
            if paths:
                found, trouble = agent.discover(paths)
                for source in found:
                    sources.setdefault(source.path, source)
                problems.extend(trouble)
        return sorted(sources.values(), key=lambda s: s.path), problems

    def gone(self, roots: Sequence[Root], missing: Iterable[str]) -> list[Root]:
        """Of the recorded locations that ``discover`` did not find, those under a root
        directory that are no longer there, with that root's agent (a directory two
        agents look in names each: only the agent that recorded it has it)."""
        directories = [
            (r.agent, os.path.realpath(r.path) + os.sep) for r in roots if os.path.isdir(r.path)
        ]
        return [
            Root(agent, path)
            for path in missing
            for agent, directory in directories
            if path.startswith(directory) and self.agent(agent).is_gone(path)
        ]

    def read(
        self, source: SourceFile, resume: "ResumePoint | None", blobs: "BlobStore"
    ) -> "ReadTranscript":
        """``source`` read by its own agent's reader."""
        return self.agent(source.agent).read(source, resume, blobs)
