"""Sessions run here are threads like any other (issue #12): a session started with
``threadline session start`` is listed by ``threads``, read by ``show`` and found by
``search``; a resumed imported thread shows its live items after the imported ones; the
read models rebuilt from the events equal the ones kept as the sessions ran. Real
processes, a real shell pipe, both stores.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, ClaudeTree, cli_command, cli_env, query, run_cli, table

pytestmark = pytest.mark.both_stores


def piped_session(home: Path, stdin: str, *args: str) -> list[dict[str, Any]]:
    """``printf STDIN | threadline session ARGS``, through a shell, as a user types it."""
    command = " ".join(map(shlex.quote, cli_command("session", *args)))
    done = subprocess.run(
        f"printf {shlex.quote(stdin)} | {command}",
        shell=True,
        cwd=REPO,
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def read_models(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "threads": table(home, "threads", "thread_id"),
        "history": table(home, "history", "thread_id, position"),
        # SQLite numbers the index's rows in replay order: compared without their ids.
        "search": query(
            home, "SELECT thread_id, position, role FROM search_items ORDER BY thread_id, position"
        ),
    }


def rebuilt_equals_incremental(home: Path) -> None:
    assert run_cli("project", home=home).returncode == 0  # search and usage too
    incremental = read_models(home)
    rebuilt = run_cli("rebuild", home=home)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert read_models(home) == incremental


def test_a_session_started_here_is_listed_shown_and_found(home: Path, tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()

    events = piped_session(home, "first prompt\n", "start", "--cwd", str(project))

    session_id = events[0]["session_id"]
    listed = run_cli("threads", home=home)
    assert listed.returncode == 0, listed.stderr
    assert "no threads yet" not in listed.stderr
    assert session_id[:8] in listed.stdout and "first prompt" in listed.stdout
    [row] = run_cli("threads", "--json", home=home).json()
    assert (row["thread_id"], row["title"], row["source_agent"], row["cwd"]) == (
        session_id,
        "first prompt",
        "threadline",
        str(project),
    )
    shown = run_cli("show", session_id, "--json", home=home)
    assert shown.returncode == 0, shown.stderr
    items = shown.json()["items"]
    assert row["item_count"] == len(items)
    assert [i["parts"] for i in items if i["type"] == "user" and not i.get("meta")] == [
        ["first prompt"]
    ]
    found = run_cli("search", "first prompt", "--json", home=home)
    assert found.returncode == 0, found.stderr
    assert [(r["thread_id"], r["title"]) for r in found.json()] == [(session_id, "first prompt")]
    renamed = run_cli("rename", session_id[:8], "Named live", home=home)
    assert renamed.returncode == 0, renamed.stderr
    rebuilt_equals_incremental(home)
    assert run_cli("threads", "--json", home=home).json()[0]["title"] == "Named live"


def test_a_resumed_imported_thread_shows_its_live_items_after_the_imported_ones(
    claude_tree: ClaudeTree, home: Path, tmp_path: Path
) -> None:
    assert run_cli("import", claude_tree.claude_home, home=home).returncode == 0
    before = {t["thread_id"]: t for t in run_cli("threads", "--json", home=home).json()}
    thread_id = next(t for t, row in before.items() if row["title"] != "first prompt")
    imported = run_cli("show", thread_id, "--json", home=home).json()["items"]

    events = piped_session(home, "a live follow-up\n", "resume", thread_id, "--cwd", str(tmp_path))

    assert events[0]["resumed"] is True
    items = run_cli("show", thread_id, "--json", home=home).json()["items"]
    assert items[: len(imported)] == imported
    live = items[len(imported) :]
    assert [i["position"] for i in items] == list(range(len(items)))
    assert live[-1]["parts"] == ["a live follow-up"]
    after = {t["thread_id"]: t for t in run_cli("threads", "--json", home=home).json()}
    assert after[thread_id]["item_count"] == len(items)
    assert after[thread_id]["title"] == before[thread_id]["title"]
    assert after[thread_id]["updated_at"] > before[thread_id]["updated_at"]
    assert next(iter(after)) == thread_id  # updated last: listed first
    found = run_cli("search", "live follow-up", "--json", home=home).json()
    assert [(r["thread_id"], r["position"]) for r in found] == [(thread_id, len(items) - 1)]
    rebuilt_equals_incremental(home)
