"""Where Codex keeps rollouts, and finding them.

``$CODEX_HOME`` (default ``~/.codex``) holds ``sessions/YYYY/MM/DD/rollout-*.jsonl``,
older flat ``sessions/rollout-*.jsonl`` and ``archived_sessions/``. A thread in
both ``sessions/`` and ``archived_sessions/`` is read from ``sessions/`` only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from threadline.adapters.codex import AGENT
from threadline.application.sources import Problem, SourceFile

_ROLLOUT = re.compile(
    r"^rollout-.*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$", re.I
)
SESSION_DIRS = ("sessions", "archived_sessions")


def default_roots(environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    home = env.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
    return [home]


def thread_id_of(path: str) -> str | None:
    """The thread id a rollout's file name carries."""
    m = _ROLLOUT.match(os.path.basename(path))
    return m.group(1).lower() if m else None


def codex_home_of(path: str) -> str | None:
    """The ``CODEX_HOME`` a rollout lives in: the parent of its ``sessions/`` or
    ``archived_sessions/`` directory."""
    parts = path.split(os.sep)
    for i in range(len(parts) - 1, 0, -1):
        if parts[i] in SESSION_DIRS:
            return os.sep.join(parts[:i]) or os.sep
    return None


def find_rollout(codex_home: str, thread_id: str) -> str | None:
    """The rollout of a thread in a Codex home, by the id in its file name."""
    for sub in SESSION_DIRS:
        for dirpath, _dirs, files in os.walk(os.path.join(codex_home, sub)):
            for name in files:
                if name.endswith(f"{thread_id}.jsonl") and name.startswith("rollout-"):
                    return os.path.realpath(os.path.join(dirpath, name))
    return None


def discover(paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
    """Rollouts under each path: a Codex home, a sessions directory, any directory, or a file."""
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
        roots = [
            os.path.join(path, d) for d in SESSION_DIRS if os.path.isdir(os.path.join(path, d))
        ]
        for root in roots or [path]:
            for dirpath, dirs, files in os.walk(
                root,
                onerror=lambda e: problems.append(
                    Problem(e.filename or "", 0, f"cannot list directory: {e.strerror}")
                ),
            ):
                dirs.sort()
                for name in sorted([*files, *dirs]):  # a directory so named: not a rollout
                    if _ROLLOUT.match(name):
                        _add(os.path.join(dirpath, name), found, problems)
    # A thread both live and archived: the live copy only.
    live = {
        thread_id_of(s.path)
        for s in found.values()
        if f"{os.sep}archived_sessions{os.sep}" not in s.path
    }
    kept = [
        s
        for s in found.values()
        if f"{os.sep}archived_sessions{os.sep}" not in s.path or thread_id_of(s.path) not in live
    ]
    return sorted(kept, key=lambda s: s.path), problems


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


def recognises(path: str) -> bool:
    """A path shaped like Codex's: a rollout, a Codex home (``sessions/`` or
    ``archived_sessions/`` in it, or named ``.codex``), or a directory under those."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        return bool(_ROLLOUT.match(os.path.basename(path)))
    return (
        os.path.basename(path) == ".codex"
        or any(os.path.isdir(os.path.join(path, d)) for d in SESSION_DIRS)
        or codex_home_of(path) is not None
    )


def conversation_of(path: str) -> str | None:
    """The conversation a rollout holds, by Codex's own id: its thread id (ADR 0011)."""
    return thread_id_of(path)


def is_gone(path: str) -> bool:
    """A location the ledger knows that is no longer on disk."""
    return not os.path.lexists(path)
