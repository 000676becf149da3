"""Bad input from Codex, OpenCode and Gemini CLI, imported through the real CLI.

Each case puts one bad file where its agent keeps it, in a home that also holds every
agent's real data (the fixtures written by each agent's own binary, as in
``test_import_agents.py``), and runs ``threadline import`` with no PATH. The run exits 1
(problems: documented in ``adapters/cli/import_command.py``), names the file and, where
the file has lines, the line, prints no traceback, and imports every good source beside
it fully. Then the bad file is fixed and a second run imports it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from agents_support import CONVERSATIONS, FIXTURES, AgentsHome, agents
from conftest import (
    CliResult,
    file_modes_bind,
    jsonl,
    needs_file_modes,
    run_cli,
    without_file_permission_override,
)

pytestmark = pytest.mark.both_stores
__all__ = ["agents"]  # a fixture, used by name

EXIT_PROBLEMS = 1
"""``threadline import``'s status when some sources had problems (README, "Exit status")."""
THREAD = "0199a213-81c0-7800-8aa1-bbab2a035a00"
GEMINI_SESSION = "5d6e7f80-1111-4222-8333-944455556666"


# -- the bad files ---------------------------------------------------------------------


def codex_line(second: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": f"2026-12-01T10:00:{second:02}.000Z", "type": kind, "payload": payload}


def session_meta() -> dict[str, Any]:
    payload = {"id": THREAD, "timestamp": "2026-12-01T10:00:00.000Z", "cwd": "/work/app"}
    return codex_line(0, "session_meta", payload | {"originator": "codex_cli_rs"})


def codex_message(second: int, role: str, text: str) -> dict[str, Any]:
    kind = "input_text" if role == "user" else "output_text"
    content = [{"type": kind, "text": text}]
    return codex_line(
        second, "response_item", {"type": "message", "role": role, "content": content}
    )


GOOD_ROLLOUT = [
    session_meta(),
    codex_message(1, "user", "Rename the module"),
    codex_message(2, "assistant", "Renamed it."),
    codex_message(3, "user", "Now run the tests"),
]


def rollout(agents: AgentsHome) -> Path:
    path = (
        agents.codex
        / "sessions"
        / "2026"
        / "12"
        / "01"
        / f"rollout-2026-12-01T10-00-00-{THREAD}.jsonl"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def gemini_meta() -> dict[str, Any]:
    return {
        "sessionId": GEMINI_SESSION,
        "projectHash": "ab" * 32,
        "startTime": "2026-12-01T10:00:00.000Z",
        "lastUpdated": "2026-12-01T10:00:02.000Z",
        "kind": "main",
    }


GEMINI_MESSAGES = [
    {
        "id": "m1",
        "timestamp": "2026-12-01T10:00:01.000Z",
        "type": "user",
        "content": [{"text": "Rename the module"}],
    },
    {
        "id": "m2",
        "timestamp": "2026-12-01T10:00:02.000Z",
        "type": "gemini",
        "content": "Renamed it.",
        "model": "gemini-2.5-pro",
    },
]
GOOD_CHAT_JSON = json.dumps(gemini_meta() | {"messages": GEMINI_MESSAGES}, indent=2).encode()
GOOD_CHAT_JSONL = jsonl([gemini_meta(), *GEMINI_MESSAGES])


def chat(agents: AgentsHome, suffix: str) -> Path:
    return agents.chats / f"session-2026-12-01T10-00-5d6e7f80.{suffix}"


@dataclass
class Case:
    """One bad file: where and how it is written, what is reported, how it is fixed."""

    kind: str
    agent: str
    write: Callable[[AgentsHome], Path]
    """Writes the bad file where the agent keeps it; returns its path."""
    problems: list[tuple[int, str]]
    """(line, words the reason holds) for the bad file; line 0 is about the whole file."""
    fix: Callable[[Path], None]
    imported: int = 0
    """Conversations of the bad file imported in spite of it (its good part)."""
    items: int = 0
    """Items of the bad file's conversation in the first run (when imported)."""
    fixed_items: int = 0
    """Items of the bad file's conversation once it is fixed and imported again."""
    replaces_agent: bool = False
    """The bad file is the agent's only store (opencode.db): none of its good data is there."""
    hold: Callable[[Path], AbstractContextManager[None]] | None = None
    """A lock held on the bad file during the first run only."""
    fixed_outcomes: tuple[str, ...] = ("imported", "appended", "replaced")
    """What the second run does with the fixed file."""
    source_of: Callable[[Path], Path] = field(default=lambda bad: bad)
    """The source the bad file belongs to (itself, or the session of a legacy tree file)."""


def codex_case(kind: str, content: bytes, problems: list[tuple[int, str]], **kw: Any) -> Case:
    def write(agents: AgentsHome) -> Path:
        path = rollout(agents)
        path.write_bytes(content)
        return path

    def fix(path: Path) -> None:
        path.write_bytes(jsonl(GOOD_ROLLOUT))

    return Case(kind, "codex", write, problems, kw.pop("fix", fix), fixed_items=3, **kw)


def torn_rollout_grows(path: Path) -> None:
    """The writer finishes the torn line: the rollout grows, its start unchanged."""
    path.write_bytes(jsonl(GOOD_ROLLOUT))


def gemini_case(
    kind: str, suffix: str, content: bytes, problems: list[tuple[int, str]], **kw: Any
) -> Case:
    def write(agents: AgentsHome) -> Path:
        path = chat(agents, suffix)
        path.write_bytes(content)
        return path

    def fix(path: Path) -> None:
        path.write_bytes(GOOD_CHAT_JSON if suffix == "json" else GOOD_CHAT_JSONL)

    return Case(kind, "gemini", write, problems, fix, fixed_items=2, **kw)


def opencode_case(
    kind: str, write_db: Callable[[Path], None], problems: list[tuple[int, str]], **kw: Any
) -> Case:
    def write(agents: AgentsHome) -> Path:
        path = agents.opencode / "opencode.db"
        write_db(path)
        return path

    def fix(path: Path) -> None:
        shutil.copy(FIXTURES / "opencode" / "real" / "opencode.db", path)

    return Case(kind, "opencode", write, problems, fix, replaces_agent=True, **kw)


def keep_real_db(path: Path) -> None:
    """The real database stays; the lock makes it bad."""


@contextmanager
def exclusive_lock(db: Path) -> Iterator[None]:
    """Another process (a connection of this one: the CLI is a child) holds the database in
    an exclusive transaction, as OpenCode does while it writes."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("UPDATE session SET title = title")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def corrupt_db(path: Path) -> None:
    """The real database with its pages after the first overwritten: the header says
    SQLite, the tables are garbage."""
    data = bytearray((FIXTURES / "opencode" / "real" / "opencode.db").read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    data[page:] = bytes((i * 37 + 11) % 256 for i in range(len(data) - page))
    path.write_bytes(bytes(data))


def empty_db(path: Path) -> None:
    path.write_bytes(b"")


def foreign_db(path: Path) -> None:
    """A text file at OpenCode's database path."""
    path.write_text('{"theme": "dark", "share": "manual"}\n')


def db_without_opencode_tables(path: Path) -> None:
    path.unlink()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE settings (name TEXT, value TEXT)")
    conn.commit()
    conn.close()


T0 = 1_790_000_000_000
LEGACY_SESSION = {
    "id": "ses_old",
    "projectID": "prj",
    "directory": "/work/app",
    "title": "Legacy session",
    "version": "0.5.1",
    "time": {"created": T0, "updated": T0 + 5000},
}
LEGACY_FILES = {  # the legacy storage/ tree, pretty-printed as OpenCode wrote it
    "session/prj/ses_old.json": LEGACY_SESSION,
    "message/ses_old/msg_1.json": {
        "id": "msg_1",
        "sessionID": "ses_old",
        "role": "user",
        "time": {"created": T0 + 1000},
    },
    "part/msg_1/prt_1.json": {"id": "prt_1", "type": "text", "text": "Old prompt"},
    "message/ses_old/msg_2.json": {
        "id": "msg_2",
        "sessionID": "ses_old",
        "role": "assistant",
        "modelID": "claude-sonnet",
        "time": {"created": T0 + 2000},
    },
    "part/msg_2/prt_2.json": {"id": "prt_2", "type": "text", "text": "Old answer"},
}


def legacy_case(
    kind: str, name: str, content: bytes, problems: list[tuple[int, str]], **kw: Any
) -> Case:
    """A bad file in the legacy storage/ tree, beside the good database."""

    def write(agents: AgentsHome) -> Path:
        storage = agents.opencode / "storage"
        for file, data in LEGACY_FILES.items():
            (storage / file).parent.mkdir(parents=True, exist_ok=True)
            (storage / file).write_text(json.dumps(data, indent=2))
        (storage / name).write_bytes(content)
        return storage / name

    def fix(path: Path) -> None:
        path.write_text(json.dumps(LEGACY_FILES[name], indent=2))

    def session_file(bad: Path) -> Path:
        return bad.parents[len(Path(name).parts) - 1] / "session" / "prj" / "ses_old.json"

    return Case(kind, "opencode", write, problems, fix, fixed_items=2, source_of=session_file, **kw)


def as_unreadable(case: Case, problems: list[tuple[int, str]]) -> Case:
    """The case's file once fixed, but without read permission; the fix gives it back."""

    def write(agents: AgentsHome) -> Path:
        path = case.write(agents)
        case.fix(path)
        path.chmod(0)
        return path

    def fix(path: Path) -> None:
        path.chmod(0o644)

    kind = case.kind.replace("_empty", "_unreadable")
    return Case(
        kind,
        case.agent,
        write,
        problems,
        fix,
        fixed_items=case.fixed_items,
        replaces_agent=case.replaces_agent,
    )


def as_directory(case: Case) -> Case:
    """The case's file, but a directory of that name (holding a stray file): not a source."""

    def write(agents: AgentsHome) -> Path:
        path = case.write(agents)
        path.unlink()
        path.mkdir()
        (path / "stray.txt").write_text("not a transcript")
        return path

    def fix(path: Path) -> None:
        shutil.rmtree(path)
        path.touch()
        case.fix(path)

    kind = case.kind.replace("_empty", "_directory")
    return Case(
        kind,
        case.agent,
        write,
        [(0, "not a regular file")],
        fix,
        fixed_items=case.fixed_items,
        replaces_agent=case.replaces_agent,
    )


INVALID_UTF8 = jsonl([codex_message(2, "assistant", "caf\u00e9 PLACEHOLDER")]).replace(
    b"PLACEHOLDER", b"\xff\xfe\xc3"
)

CASES = [
    codex_case(
        "codex_first_line_not_session_meta",
        jsonl(GOOD_ROLLOUT[1:]),
        [(1, "session_meta")],
        imported=1,
        items=3,
    ),
    codex_case(
        "codex_torn_last_line_grows",
        jsonl(GOOD_ROLLOUT[:3]) + jsonl(GOOD_ROLLOUT[3:])[:40],
        [(4, "incomplete last line")],
        imported=1,
        items=2,
        fix=torn_rollout_grows,
        fixed_outcomes=("appended",),  # read on from the torn line, not again from the start
    ),
    codex_case(
        "codex_invalid_utf8_and_not_json",
        jsonl(GOOD_ROLLOUT[:2]) + INVALID_UTF8 + b"{this is not json}\n" + jsonl(GOOD_ROLLOUT[3:]),
        [(3, "invalid UTF-8"), (4, "invalid JSON")],
        imported=1,
        items=3,
    ),
    codex_case("codex_empty_rollout", b"", [(0, "empty")]),
    codex_case(
        "codex_not_a_rollout",
        jsonl([{"name": "settings", "theme": "dark"}, {"counter": 3}]),
        [(1, "first line is a record with no 'type'"), (0, "not a rollout")],
    ),
    gemini_case(
        "gemini_json_cut_mid_document", "json", GOOD_CHAT_JSON[:150], [(0, "half-written")]
    ),
    gemini_case(
        "gemini_jsonl_torn_last_line",
        "jsonl",
        GOOD_CHAT_JSONL[:-25],
        [(3, "incomplete last line")],
        imported=1,
        items=1,
    ),
    gemini_case("gemini_empty_json", "json", b"", [(0, "empty")]),
    gemini_case("gemini_empty_jsonl", "jsonl", b"", [(0, "empty")]),
    gemini_case(
        "gemini_json_not_a_chat", "json", b'{"theme": "dark"}', [(1, "not a Gemini CLI chat")]
    ),
    gemini_case(
        "gemini_jsonl_not_a_chat",
        "jsonl",
        jsonl([{"theme": "dark"}, {"counter": 3}]),
        [(1, "not a Gemini CLI chat"), (2, "not a Gemini CLI chat")],
    ),
    gemini_case(
        "gemini_jsonl_message_id_not_a_string",
        "jsonl",
        jsonl([gemini_meta(), GEMINI_MESSAGES[0] | {"id": 7}, GEMINI_MESSAGES[1]]),
        [(2, "whose id is 7, not a string")],
        imported=1,
        items=1,
    ),
    legacy_case(
        "opencode_legacy_empty_session",
        "session/prj/ses_old.json",
        b"",
        [(0, "not JSON (empty or half-written?)"), (0, "not an OpenCode session")],
    ),
    legacy_case(
        "opencode_legacy_half_written_session",
        "session/prj/ses_old.json",
        json.dumps(LEGACY_SESSION, indent=2).encode()[:60],
        [(0, "not JSON (empty or half-written?)"), (0, "not an OpenCode session")],
    ),
    legacy_case(
        "opencode_legacy_half_written_part",
        "part/msg_2/prt_2.json",
        b'{"id": "prt_2", "type": "te',
        [(0, "not JSON (empty or half-written?)")],
        imported=1,
        items=2,
    ),
    legacy_case(
        "opencode_legacy_session_not_a_session",
        "session/prj/ses_old.json",
        b"[1, 2, 3]",
        [(0, "not an OpenCode session")],
    ),
    opencode_case(
        "opencode_locked",
        keep_real_db,
        [(0, "locked")],
        hold=exclusive_lock,
    ),
    opencode_case("opencode_corrupt", corrupt_db, [(0, "cannot read the OpenCode database")]),
    opencode_case("opencode_empty", empty_db, [(0, "no such table: session")]),
    opencode_case("opencode_not_a_database", foreign_db, [(0, "not a database")]),
    opencode_case(
        "opencode_without_its_tables", db_without_opencode_tables, [(0, "no such table: session")]
    ),
]
CASES += [
    as_directory(c)
    for c in CASES
    if c.kind
    in ("codex_empty_rollout", "gemini_empty_json", "gemini_empty_jsonl", "opencode_empty")
]
EMPTY = {c.kind: c for c in CASES if c.kind.endswith("_empty") or "_empty_" in c.kind}
UNREADABLE = [
    as_unreadable(EMPTY["codex_empty_rollout"], [(0, "cannot read: Permission denied")]),
    as_unreadable(EMPTY["gemini_empty_jsonl"], [(0, "cannot read: Permission denied")]),
    as_unreadable(EMPTY["opencode_empty"], [(0, "cannot read the OpenCode database")]),
]
"""Cases only where a child can be made to obey file modes (as root, by dropping caps)."""


# -- the test ------------------------------------------------------------------------


def threadline(agents: AgentsHome, *args: str | Path, home: Path) -> CliResult:
    """The CLI, obeying file modes even as root where it can be made to."""
    obey = without_file_permission_override if file_modes_bind() else None
    return run_cli(*args, home=home, env=agents.env, preexec_fn=obey)


def threads(agents: AgentsHome, home: Path) -> list[dict[str, Any]]:
    listed = threadline(agents, "threads", "--all", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    return list(listed.json())


def per_agent(threads: list[dict[str, Any]]) -> dict[str, int]:
    return {a: sum(t["source_agent"] == a for t in threads) for a in CONVERSATIONS}


def items_of(agents: AgentsHome, home: Path, threads: list[dict[str, Any]], path: Path) -> int:
    """The items of the thread read from ``path``; -1 when there is none."""
    found = [t["thread_id"] for t in threads if t["source_path"] == str(path)]
    if not found:
        return -1
    (thread_id,) = found
    shown = threadline(agents, "show", thread_id, "--json", home=home)
    assert shown.returncode == 0, shown.stderr
    return len(shown.json()["items"])


@pytest.mark.parametrize(
    "case",
    [*CASES, *(pytest.param(c, marks=needs_file_modes) for c in UNREADABLE)],
    ids=lambda c: c.kind,
)
def test_bad_agent_file_is_reported_by_file_and_line_and_everything_good_is_imported(
    agents: AgentsHome, home: Path, case: Case
) -> None:
    path = case.write(agents)

    if case.hold is not None:
        with case.hold(path):
            first = threadline(agents, "import", home=home)
    else:
        first = threadline(agents, "import", home=home)

    assert first.returncode == EXIT_PROBLEMS, (first.stdout, first.stderr)
    assert "Traceback" not in first.stderr
    reported = [line.strip() for line in first.stderr.splitlines() if str(path) in line]
    assert len(reported) == len(case.problems), first.stderr
    for shown, (line, words) in zip(reported, case.problems, strict=True):
        assert shown.startswith(f"{path}:{line}: " if line else f"{path}: "), shown
        assert words in shown, shown
    good = {**CONVERSATIONS, **({case.agent: 0} if case.replaces_agent else {})}
    after_first = threads(agents, home)
    assert per_agent(after_first) == {**good, case.agent: good[case.agent] + case.imported}
    source_path = case.source_of(path)
    if not case.replaces_agent:  # the bad file's good part, or nothing
        expected_items = case.items if case.imported else -1
        assert items_of(agents, home, after_first, source_path) == expected_items

    case.fix(path)
    second = threadline(agents, "import", "--json", home=home)

    assert second.returncode == 0, second.stderr
    assert second.json()["problems"] == []
    fixed = threads(agents, home)
    if case.replaces_agent:  # every OpenCode session, from the database now readable
        assert per_agent(fixed) == CONVERSATIONS
        return
    (source,) = [s for s in second.json()["sources"] if s["path"] == str(source_path)]
    assert source["outcome"] in case.fixed_outcomes, source
    assert per_agent(fixed) == {**CONVERSATIONS, case.agent: CONVERSATIONS[case.agent] + 1}
    assert items_of(agents, home, fixed, source_path) == case.fixed_items


@contextmanager
def writing_in_wal(db: Path, exclusive_locking: bool) -> Iterator[None]:
    """OpenCode's own mode: WAL, a write transaction open (uncommitted) meanwhile; with
    ``exclusive_locking`` the writer also keeps the WAL to itself (``locking_mode``)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    if exclusive_locking:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    try:
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("UPDATE session SET title = 'uncommitted'")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def test_a_database_opencode_is_writing_is_read_from_its_last_commit(
    agents: AgentsHome, home: Path
) -> None:
    db = agents.opencode / "opencode.db"

    with writing_in_wal(db, exclusive_locking=False):
        result = threadline(agents, "import", "--json", home=home)

    assert result.returncode == 0, result.stderr
    assert result.json()["problems"] == []
    listed = threads(agents, home)
    assert per_agent(listed) == CONVERSATIONS
    assert "uncommitted" not in {t["title"] for t in listed}


def test_a_wal_database_held_in_exclusive_locking_mode_is_reported_then_read(
    agents: AgentsHome, home: Path
) -> None:
    db = agents.opencode / "opencode.db"

    with writing_in_wal(db, exclusive_locking=True):
        first = threadline(agents, "import", home=home)

    assert first.returncode == EXIT_PROBLEMS, (first.stdout, first.stderr)
    assert "Traceback" not in first.stderr
    assert f"{db}: cannot read the OpenCode database: database is locked" in first.stderr
    assert per_agent(threads(agents, home)) == {**CONVERSATIONS, "opencode": 0}

    second = threadline(agents, "import", home=home)

    assert second.returncode == 0, second.stderr
    assert per_agent(threads(agents, home)) == CONVERSATIONS
