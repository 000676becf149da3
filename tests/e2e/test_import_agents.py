"""``threadline import`` over a home that holds all four agents' data, where each keeps it.

The home is real files: the shipped Claude Code samples in ``~/.claude/projects``, real
Codex 0.169 rollouts in ``$CODEX_HOME``, a real OpenCode database in
``$XDG_DATA_HOME/opencode`` and real Gemini CLI chats in ``~/.gemini`` (the fixtures
under ``tests/fixtures``, written by each agent's own binary). The CLI runs as a
subprocess with ``HOME``, ``CODEX_HOME`` and ``XDG_DATA_HOME`` set, on both stores.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from agents_support import CONVERSATIONS, AgentsHome, agents
from conftest import CliResult, count_events, run_cli, stored_events_mark

pytestmark = pytest.mark.both_stores
__all__ = ["agents"]  # a fixture, used by name

SOURCE_GONE = "threadline.domain.ledger:Import.SourceGone"
WORDS = {"claude-code": "forecast", "codex": "tests", "opencode": "tests", "gemini": "tests"}
"""A word each agent's conversations hold."""


def threadline(agents: AgentsHome, *args: str | Path, home: Path) -> CliResult:
    return run_cli(*args, home=home, env=agents.env)


def json_of(result: CliResult) -> Any:
    assert result.returncode == 0, result.stderr
    return result.json()


def test_import_with_no_path_imports_every_agent_once_and_again_writes_nothing(
    agents: AgentsHome, home: Path
) -> None:
    first = json_of(threadline(agents, "import", "--json", home=home))

    assert first["problems"] == []
    assert first["counts"]["imported"] == sum(CONVERSATIONS.values())
    assert {a: c["imported"] for a, c in first["agents"].items()} == CONVERSATIONS
    threads = json_of(threadline(agents, "threads", "--all", "--json", home=home))
    assert len({t["thread_id"] for t in threads}) == len(threads) == sum(CONVERSATIONS.values())
    by_agent = {a: sum(t["source_agent"] == a for t in threads) for a in CONVERSATIONS}
    assert by_agent == CONVERSATIONS
    mark = stored_events_mark(home)

    again = threadline(agents, "import", home=home)

    assert again.returncode == 0, again.stderr
    assert stored_events_mark(home) == mark  # nothing written
    header, *rows = again.stdout.splitlines()
    assert header.split() == ["Import", *sorted(CONVERSATIONS), "total"]
    counts = {row.split()[0]: row.split()[1:] for row in rows[:-3]}
    assert counts == {  # only the outcomes that happened, per agent
        "skipped": [*(str(CONVERSATIONS[a]) for a in sorted(CONVERSATIONS)), "13"]
    }


def test_threads_and_search_filter_by_each_agent(agents: AgentsHome, home: Path) -> None:
    json_of(threadline(agents, "import", "--json", home=home))

    for agent, conversations in CONVERSATIONS.items():
        listed = json_of(
            threadline(agents, "threads", "--all", "--source", agent, "--json", home=home)
        )
        found = json_of(
            threadline(agents, "search", WORDS[agent], "--source", agent, "--json", home=home)
        )

        assert len(listed) == conversations, agent
        assert {t["source_agent"] for t in listed} == {agent}
        assert found and {hit["source_agent"] for hit in found} == {agent}
        assert {hit["thread_id"] for hit in found} <= {t["thread_id"] for t in listed}


def test_agent_limits_the_import_to_that_agent(agents: AgentsHome, home: Path) -> None:
    elsewhere = agents.home.parent / "codex-elsewhere"
    agents.codex.rename(elsewhere)
    agents.env["CODEX_HOME"] = str(elsewhere)

    report = json_of(threadline(agents, "import", "--agent", "codex", "--json", home=home))

    assert list(report["agents"]) == ["codex"]
    assert report["counts"]["imported"] == CONVERSATIONS["codex"]
    assert all(s["path"].startswith(str(elsewhere)) for s in report["sources"])
    threads = json_of(threadline(agents, "threads", "--all", "--json", home=home))
    assert {t["source_agent"] for t in threads} == {"codex"}
    assert len(threads) == CONVERSATIONS["codex"]


def test_an_unknown_agent_is_a_usage_error(agents: AgentsHome, home: Path) -> None:
    result = threadline(agents, "import", "--agent", "cursor", home=home)

    assert result.returncode == 2
    assert "unknown agent cursor" in result.stderr and "Traceback" not in result.stderr


def test_paths_are_given_to_the_agent_their_shape_names(agents: AgentsHome, home: Path) -> None:
    rollout = next(agents.codex.rglob("rollout-*.jsonl"))
    report = json_of(
        threadline(
            agents,
            "import",
            agents.opencode / "opencode.db",
            rollout,
            agents.gemini / "tmp",
            agents.claude,
            "--json",
            home=home,
        )
    )

    assert report["problems"] == []
    assert {a: c["imported"] for a, c in report["agents"].items()} == {
        **CONVERSATIONS,
        "codex": 1,
    }


def test_a_copied_home_adds_no_thread(agents: AgentsHome, home: Path, tmp_path: Path) -> None:
    json_of(threadline(agents, "import", "--json", home=home))
    before = json_of(threadline(agents, "threads", "--all", "--json", home=home))
    copies = {
        "codex": agents.codex,
        "opencode": agents.opencode,
        "gemini": agents.gemini,
        "claude-code": agents.claude,
    }
    for name, data in copies.items():
        shutil.copytree(data, tmp_path / "copies" / name / data.name)

    report = json_of(
        threadline(
            agents,
            "import",
            *(tmp_path / "copies" / name / data.name for name, data in copies.items()),
            "--json",
            home=home,
        )
    )

    assert {s["outcome"] for s in report["sources"]} == {"known"}, report["sources"]
    assert {a: c["known"] for a, c in report["agents"].items()} == CONVERSATIONS
    after = json_of(threadline(agents, "threads", "--all", "--json", home=home))
    assert sorted(t["thread_id"] for t in after) == sorted(t["thread_id"] for t in before)


def test_a_location_gone_from_disk_is_recorded_once_and_its_thread_stays(
    agents: AgentsHome, home: Path
) -> None:
    first = json_of(threadline(agents, "import", "--json", home=home))
    rollout = next(agents.codex.rglob("rollout-*.jsonl"))
    (thread_id,) = [s["thread_id"] for s in first["sources"] if s["path"] == str(rollout)]
    kept, stat = rollout.read_bytes(), rollout.stat()
    rollout.unlink()

    report = json_of(threadline(agents, "import", "--json", home=home))

    gone = [s for s in report["sources"] if s["outcome"] == "gone"]
    assert [(s["agent"], s["path"], s["thread_id"]) for s in gone] == [
        ("codex", str(rollout), thread_id)
    ]
    assert report["agents"]["codex"]["gone"] == 1
    assert count_events(home, SOURCE_GONE) == 1
    mark = stored_events_mark(home)

    again = json_of(threadline(agents, "import", "--json", home=home))

    assert again["counts"]["gone"] == 0  # the ledger says so already: nothing to record
    assert stored_events_mark(home) == mark
    assert count_events(home, SOURCE_GONE) == 1
    shown = json_of(threadline(agents, "show", thread_id, "--json", home=home))
    assert shown["thread"]["thread_id"] == thread_id and shown["items"]
    ledger = json_of(threadline(agents, "ledger", "--json", home=home))
    assert [row["gone"] for row in ledger if row["source_path"] == str(rollout)] == [True]

    rollout.write_bytes(kept)  # put back as it was, from a backup
    os.utime(rollout, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    back = json_of(threadline(agents, "import", "--json", home=home))

    assert {s["outcome"] for s in back["sources"]} == {"skipped"}
    ledger = json_of(threadline(agents, "ledger", "--json", home=home))
    assert [row["gone"] for row in ledger if row["source_path"] == str(rollout)] == [False]
