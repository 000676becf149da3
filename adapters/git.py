"""Git facts about a working directory, read from ``.git`` files directly.

No ``git`` process is started: an import may see hundreds of sessions and the
answer for a cwd is cached. Handles worktrees (``.git`` file), symbolic and
detached HEADs, loose and packed refs.
"""

from __future__ import annotations

import configparser
import os
from functools import lru_cache

from threadline.domain.session import GitInfo


@lru_cache(maxsize=1024)
def git_info(cwd: str) -> GitInfo | None:
    """Branch, HEAD commit and origin URL of the repository containing ``cwd``."""
    git_dir = _find_git_dir(cwd)
    if git_dir is None:
        return None
    common_dir = _common_dir(git_dir)
    try:
        head = _read(os.path.join(git_dir, "HEAD")).strip()
    except OSError:
        return None
    branch: str | None = None
    sha: str | None = None
    if head.startswith("ref:"):
        ref = head[4:].strip()
        branch = ref.removeprefix("refs/heads/")
        sha = _resolve_ref(git_dir, common_dir, ref)
    elif len(head) >= 40:
        sha = head
    return GitInfo(branch=branch, sha=sha, origin=_origin(common_dir))


def _find_git_dir(cwd: str) -> str | None:
    path = os.path.abspath(cwd)
    while True:
        candidate = os.path.join(path, ".git")
        if os.path.isdir(candidate):
            return candidate
        if os.path.isfile(candidate):
            try:
                text = _read(candidate).strip()
            except OSError:
                return None
            if text.startswith("gitdir:"):
                target = text[len("gitdir:") :].strip()
                return os.path.normpath(os.path.join(path, target))
            return None
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _common_dir(git_dir: str) -> str:
    try:
        rel = _read(os.path.join(git_dir, "commondir")).strip()
    except OSError:
        return git_dir
    return os.path.normpath(os.path.join(git_dir, rel))


def _resolve_ref(git_dir: str, common_dir: str, ref: str) -> str | None:
    for base in (git_dir, common_dir):
        try:
            return _read(os.path.join(base, ref)).strip() or None
        except OSError:
            continue
    try:
        packed = _read(os.path.join(common_dir, "packed-refs"))
    except OSError:
        return None
    for line in packed.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] == ref:
            return parts[0]
    return None


def _origin(common_dir: str) -> str | None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read(os.path.join(common_dir, "config"), encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    section = 'remote "origin"'
    return parser.get(section, "url", fallback=None) if parser.has_section(section) else None


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()
