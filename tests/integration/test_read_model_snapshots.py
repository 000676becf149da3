"""Each read model's rows for the fixture tree (plus a sub-agent), as syrupy snapshots.

Ids, paths and import times are normalised so the snapshot is the same on
every machine; notification ids are left out (the import may save sources in
any order). Update on purpose with ``pytest --snapshot-update``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import ClaudeTree, Conversation, query, run_cli, session_uuid, slug
from syrupy.assertion import SnapshotAssertion

_TREES: dict[Path, Path] = {}
"""The store's home -> the Claude tree it was imported from."""
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    from conftest import make_claude_tree

    root = tmp_path_factory.mktemp("snap").resolve()
    tree: ClaudeTree = make_claude_tree(root / "user-home")
    host = Conversation(session_uuid("host"), cwd="/nonexistent-threadline-tests/host")
    host.user("Use a sub-agent")
    main_parent = host.parent
    host.is_sidechain, host.parent = True, None
    host.user("inline sub-agent work")
    host.is_sidechain, host.parent = False, main_parent
    host.assistant("done")
    host.write(tree.projects / slug("/nonexistent-threadline-tests/host") / "host.jsonl")
    home = root / "home"
    assert run_cli("import", tree.claude_home, home=home).returncode == 0
    assert run_cli("project", home=home).returncode == 0
    _TREES[home] = tree.claude_home
    names: dict[str, str] = {}
    rows = query(home, "SELECT thread_id, source_path, agent_id FROM threads")
    for thread_id, source_path, agent_id in sorted(rows, key=lambda r: (r[1], r[2] or "")):
        names[thread_id] = (
            f"<thread {Path(source_path).stem[:8]}{'/' + agent_id if agent_id else ''}>"
        )
    for tid in list(names):
        names[tid.replace("-", "")] = names[tid]
    names[str(root)] = "<tmp>"
    return home, names


def normalised(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for raw, name in names.items():
            value = value.replace(raw, name)
        return UUID_RE.sub("<uuid>", value)
    return value


def rows(
    home: Path, names: dict[str, str], sql: str, database_url: str | None = None
) -> list[dict[str, Any]]:
    """A read model's rows, normalised: from the home's SQLite file, or a PostgreSQL store."""
    if database_url is not None:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(
            database_url, options="-c search_path=threadline", row_factory=dict_row
        ) as pg:
            raw: list[dict[str, Any]] = pg.execute(sql).fetchall()  # type: ignore[arg-type]
    else:
        import sqlite3

        conn = sqlite3.connect(f"file:{home / 'threadline.db'}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        conn.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, search_text, instance)")
        try:
            raw = [dict(r) for r in conn.execute(sql)]
        finally:
            conn.close()
    found = [{k: normalised(v, names) for k, v in r.items() if k not in DROPPED} for r in raw]
    return sorted(found, key=repr)


DROPPED = {"notification_id", "recorded_at", "mtime_ns", "import_id", "sha256"}
"""Vary from run to run: the fixture's summary lines carry a random leafUuid."""


READ_MODELS = {
    "threads": "SELECT * FROM threads",
    "spawns": "SELECT * FROM spawns",
    "history": "SELECT * FROM history",
    "ledger": "SELECT * FROM ledger",
    # The index keeps no text nor positions (ADR 0015): each row's words as the index
    # holds them, each once, in the index's order.
    "search": "SELECT s.thread_id, s.position, s.role, s.chars,"
    " (SELECT group_concat(term, ' ') FROM (SELECT term FROM temp.words"
    "  WHERE doc = s.id ORDER BY term)) AS words FROM search_items s",
}
ON_POSTGRES = READ_MODELS | {
    # The same columns from PostgreSQL's ``tsvector`` of distinct words (of every row of
    # an item that has several), in SQLite's order (bytewise).
    "search": "SELECT s.thread_id, s.position, s.role, s.chars,"
    " (SELECT string_agg(w, ' ' ORDER BY w COLLATE \"C\") FROM search_items c,"
    "  unnest(tsvector_to_array(c.words)) w"
    "  WHERE c.thread_id = s.thread_id AND c.position = s.position) AS words"
    " FROM search_items s WHERE s.chunk = 0",
}


@pytest.mark.parametrize("name", READ_MODELS)
def test_read_model_rows(
    store: tuple[Path, dict[str, str]], snapshot: SnapshotAssertion, name: str
) -> None:
    home, names = store
    assert rows(home, names, READ_MODELS[name]) == snapshot


@pytest.mark.parametrize("name", ["threads", "spawns", "history", "ledger", "search"])
def test_a_postgresql_store_holds_the_same_rows_as_the_sqlite_store(
    store: tuple[Path, dict[str, str]], request: pytest.FixtureRequest, name: str
) -> None:
    home, names = store
    url = request.getfixturevalue("postgres_server").fresh_database()
    pg_home = home.parent / f"pg-{name}"
    env = {"THREADLINE_DATABASE_URL": url}

    assert run_cli("import", _TREES[home], home=pg_home, env=env).returncode == 0

    assert run_cli("project", home=pg_home, env=env).returncode == 0

    assert rows(pg_home, names, ON_POSTGRES[name], url) == rows(home, names, READ_MODELS[name])
