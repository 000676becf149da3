"""Where Gemini CLI keeps chats, and finding them.

``~/.gemini/tmp/<project>/chats/session-<time>-<id8>.json`` (one whole-file
record, older builds) or ``.jsonl`` (an upsert log, current builds); sub-agent
chats as ``chats/<parentSessionId>/<sessionId>.jsonl``. ``<project>`` is the
sha256 of the project root or a short name; ``<project>/.project_root`` and
``~/.gemini/projects.json`` (``{"projects": {root: name}}``) say which root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from threadline.adapters.gemini import AGENT
from threadline.application.sources import Problem, SourceFile

_SESSION = re.compile(r"^session-.*\.jsonl?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def default_roots(environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    home = env.get("GEMINI_CLI_HOME") or os.path.expanduser("~")
    return [os.path.join(home, ".gemini")]


def recognises(path: str) -> bool:
    """A path shaped like Gemini CLI's: its home (named ``.gemini``, or with project
    directories holding ``chats/`` under ``tmp/``), a project or ``chats`` directory,
    or a chat file in one."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        name = os.path.basename(path)
        return chats_dir_of(path) is not None and (
            bool(_SESSION.match(name)) or (is_subagent_file(path) and name.endswith(".jsonl"))
        )
    if os.path.basename(path) in (".gemini", "chats") or chats_dir_of(path) is not None:
        return True
    if os.path.isdir(os.path.join(path, "chats")):
        return True
    tmp = path if os.path.basename(path) == "tmp" else os.path.join(path, "tmp")
    try:
        with os.scandir(tmp) as entries:
            return any(os.path.isdir(os.path.join(e.path, "chats")) for e in entries)
    except OSError:
        return False


def conversation_of(path: str) -> str | None:
    """The conversation a chat holds when its path says (ADR 0011): a sub-agent's chat is
    named by its session id; a session file's name has only 8 of its id's characters, so
    its ``sessionId`` comes from its records (``ReadTranscript.conversation_id``)."""
    stem = os.path.basename(path).rsplit(".", 1)[0]
    return stem.lower() if is_subagent_file(path) and _UUID.match(stem) else None


def is_gone(path: str) -> bool:
    """A location the ledger knows that is no longer on disk."""
    return not os.path.lexists(path)


def discover(paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
    found: dict[str, SourceFile] = {}
    problems: list[Problem] = []
    for given in paths:
        path = os.path.abspath(os.path.expanduser(given))
        if not os.path.exists(path):
            problems.append(Problem(path, 0, "no such file or directory"))
            continue
        if os.path.isfile(path):
            _add(path, found, problems)
            continue
        for dirpath, dirs, files in os.walk(path):
            dirs.sort()
            # Tool outputs, logs and checkpoints live beside the chats; only chats are sessions.
            dirs[:] = [
                d for d in dirs if d not in ("logs", "tool-outputs", "history", "extensions")
            ]
            if os.path.basename(dirpath) == "chats":
                for name in sorted([*files, *dirs]):  # a directory so named: not a chat
                    if _SESSION.match(name):
                        _add(os.path.join(dirpath, name), found, problems)
            elif os.path.basename(os.path.dirname(dirpath)) == "chats":
                for name in sorted(files):  # chats/<parentId>/<id>.jsonl: sub-agents
                    if name.endswith(".jsonl"):
                        _add(os.path.join(dirpath, name), found, problems)
    return sorted(found.values(), key=lambda s: s.path), problems


def _add(path: str, found: dict[str, SourceFile], problems: list[Problem]) -> None:
    try:
        canonical = os.path.realpath(path, strict=True)
        st = os.stat(canonical)
    except OSError as exc:
        problems.append(Problem(path, 0, f"cannot read: {exc.strerror or exc}"))
        return
    if not os.path.isfile(canonical):
        problems.append(Problem(path, 0, "not a regular file"))
        return
    found.setdefault(canonical, SourceFile(AGENT, canonical, st.st_size, st.st_mtime_ns))


def chats_dir_of(path: str) -> str | None:
    """The ``chats`` directory a chat file is in (its own, or its parent's for a sub-agent)."""
    d = os.path.dirname(path)
    if os.path.basename(d) == "chats":
        return d
    if os.path.basename(os.path.dirname(d)) == "chats":
        return os.path.dirname(d)
    return None


def is_subagent_file(path: str) -> bool:
    d = os.path.dirname(path)
    return os.path.basename(d) != "chats" and os.path.basename(os.path.dirname(d)) == "chats"


def parent_chat(path: str) -> str | None:
    """The parent session's chat file for a sub-agent chat ``chats/<parentId>/<id>.jsonl``."""
    if not is_subagent_file(path):
        return None
    chats = os.path.dirname(os.path.dirname(path))
    parent_id = os.path.basename(os.path.dirname(path))
    short = parent_id[:8]
    try:
        names = sorted(os.listdir(chats))
    except OSError:
        return None
    for name in names:
        if _SESSION.match(name) and name.rsplit(".", 1)[0].endswith(f"-{short}"):
            return os.path.realpath(os.path.join(chats, name))
    return None


def project_root(path: str) -> str | None:
    """The project root of a chat: ``<project>/.project_root``, else ``projects.json``
    (by name, or by the sha256 of a root)."""
    chats = chats_dir_of(path)
    if chats is None:
        return None
    project_dir = os.path.dirname(chats)
    try:
        with open(os.path.join(project_dir, ".project_root"), encoding="utf-8") as f:
            root = f.read().strip()
        if root:
            return root
    except OSError:
        pass
    import hashlib

    import orjson

    name = os.path.basename(project_dir)
    gemini_home = os.path.dirname(os.path.dirname(project_dir))
    try:
        with open(os.path.join(gemini_home, "projects.json"), "rb") as f:
            registry = orjson.loads(f.read())
    except (OSError, orjson.JSONDecodeError):
        return None
    projects = registry.get("projects") if isinstance(registry, dict) else None
    if not isinstance(projects, dict):
        return None
    for root, short in projects.items():
        if short == name or hashlib.sha256(root.encode()).hexdigest() == name:
            return str(root)
    return None
