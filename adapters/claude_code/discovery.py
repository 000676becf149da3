"""Where Claude Code keeps transcripts, and finding them: the cheap first step of an import.

Only the standard library, so that an import with nothing to do stays fast.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable

from threadline.adapters.claude_code import AGENT
from threadline.application.sources import Problem, SourceFile

_AGENT_FILE = re.compile(r"^agent-.+\.jsonl$")
_SESSION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def default_roots(environ: dict[str, str] | None = None) -> list[str]:
    """Every ``CLAUDE_CONFIG_DIR`` (comma-separated), else the two default homes."""
    env = os.environ if environ is None else environ
    configured = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    homes = configured or [
        os.path.join(os.path.expanduser("~"), ".claude"),
        os.path.join(os.path.expanduser("~"), ".config", "claude"),
    ]
    return [os.path.join(h, "projects") for h in homes]


def recognises(path: str) -> bool:
    """A directory shaped like Claude Code's: a home (``projects/`` in it) or a projects
    root. A project directory or a file is Claude Code's when no other agent claims it
    (Claude Code is the default agent, ``adapters/sources.py``)."""
    path = os.path.abspath(os.path.expanduser(path))
    return os.path.basename(path) == "projects" or os.path.isdir(os.path.join(path, "projects"))


def is_gone(path: str) -> bool:
    """A location the ledger knows that is no longer on disk."""
    return not os.path.lexists(path)


def discover(paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
    """Transcripts under each path: a Claude home, a projects root, a project or a file."""
    found: dict[str, SourceFile] = {}
    problems: list[Problem] = []
    for given in paths:
        for path, directory in _candidates(given, problems):
            _add(path, directory, found, problems)
    return sorted(found.values(), key=lambda s: s.path), problems


def _candidates(given: str, problems: list[Problem]) -> Iterable[tuple[str, str | None]]:
    """Each transcript's path, and the canonical path of the directory it was listed in
    when that makes its own (it is no symbolic link): one stat a source, not one a
    component of its path."""
    path = os.path.abspath(os.path.expanduser(given))
    if not os.path.exists(path):
        if not os.path.lexists(path):
            problems.append(Problem(path, 0, "no such file or directory"))
        else:
            problems.append(Problem(path, 0, "broken or looping symbolic link"))
        return
    if not os.path.isdir(path):
        yield path, None
        return
    if os.path.isdir(os.path.join(path, "projects")):
        path = os.path.join(path, "projects")
    if _is_project_dir(path):
        yield from _project_files(path, problems)
        return
    for entry in _entries(path, problems):
        if _is_dir(entry):
            yield from _project_files(entry.path, problems)


def _add(
    path: str, directory: str | None, found: dict[str, SourceFile], problems: list[Problem]
) -> None:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        problems.append(Problem(shown, 0, "file name is not valid UTF-8; not imported"))
        return
    try:
        if directory is None:
            canonical = os.path.realpath(path, strict=True)
        else:
            canonical = os.path.join(directory, os.path.basename(path))
        st = os.stat(canonical)
    except OSError as exc:
        reason = "symbolic link loop" if exc.errno == 40 else (exc.strerror or str(exc))
        problems.append(Problem(path, 0, f"cannot read: {reason}"))
        return
    if not stat.S_ISREG(st.st_mode):
        problems.append(Problem(path, 0, "not a regular file"))
        return
    found.setdefault(canonical, SourceFile(AGENT, canonical, st.st_size, st.st_mtime_ns))


def is_subagent_file(path: str) -> bool:
    """``path`` is canonical (absolute, symlinks resolved), as every source path is."""
    *directories, name = path.split(os.sep)
    return bool(_AGENT_FILE.match(name)) or "subagents" in directories


def conversation_of(
    path: str, session_id: str | None = None, agent_id: str | None = None
) -> str | None:
    """The conversation a transcript holds, by Claude Code's own ids (ADR 0011).

    A session file is named by its ``sessionId``; a sub-agent's is ``agent-<agentId>``,
    under ``<sessionId>/subagents/`` (2.1.x) or beside the session (2.0.x, whose lines
    carry the parent's ``sessionId``): ``<sessionId>/agent-<agentId>``. ``session_id`` and
    ``agent_id`` are what the lines say, for names that do not tell; None when neither
    the path nor the lines name the conversation.
    """
    *directories, name = path.split(os.sep)
    stem = name.removesuffix(".jsonl")
    if is_subagent_file(path):
        agent = stem.removeprefix("agent-") if stem.startswith("agent-") else agent_id
        session = session_id
        if "subagents" in directories:
            index = len(directories) - 1 - directories[::-1].index("subagents")
            session = directories[index - 1] if index > 0 else session_id
        return f"{session}/agent-{agent}" if session and agent else None
    if _SESSION_ID.match(stem):
        return stem.lower()
    return session_id


def parent_conversation(path: str, session_id: str | None) -> str | None:
    """The session a sub-agent transcript belongs to, by its ``sessionId``."""
    key = conversation_of(path, session_id, "-")
    return key.split("/agent-")[0] if key else None


def parent_transcript(path: str, session_id: str | None) -> str | None:
    """The main session file a sub-agent transcript belongs to: ``<session>.jsonl`` beside
    ``<session>/subagents/``, else the session's file in the same directory."""
    *directories, _ = path.split(os.sep)
    if "subagents" in directories:
        index = len(directories) - 1 - directories[::-1].index("subagents")
        return os.sep.join(directories[:index]) + ".jsonl"
    if session_id:
        return os.path.join(os.path.dirname(path), f"{session_id}.jsonl")
    return None


def _is_project_dir(path: str) -> bool:
    try:
        with os.scandir(path) as it:
            return any(e.name.endswith(".jsonl") for e in it)
    except OSError:
        return False


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _project_files(project: str, problems: list[Problem]) -> Iterable[tuple[str, str | None]]:
    """Session files, old-style ``agent-*.jsonl`` beside them, and ``<session>/subagents/**``."""
    directory = _canonical_directory(project)
    for entry in _entries(project, problems):
        if entry.name.endswith(".jsonl"):
            yield entry.path, None if directory is None or _is_link(entry) else directory
        elif _is_dir(entry):
            sub = os.path.join(entry.path, "subagents")
            if os.path.isdir(sub):
                for dirpath, _dirs, files in os.walk(sub):
                    canonical = _canonical_directory(dirpath)
                    for name in sorted(files):
                        if _AGENT_FILE.match(name):
                            path = os.path.join(dirpath, name)
                            yield path, None if os.path.islink(path) else canonical


def _canonical_directory(path: str) -> str | None:
    try:
        return os.path.realpath(path, strict=True)
    except OSError:
        return None  # each source's own path says what is wrong


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return True  # resolved the long way, which says what is wrong


def _entries(directory: str, problems: list[Problem]) -> list[os.DirEntry[str]]:
    """A directory's entries by name; none, and a problem, if it cannot be listed."""
    try:
        return sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        problems.append(Problem(directory, 0, f"cannot list directory: {exc.strerror}"))
        return []
