"""The shared PostgreSQL store survives its server restarting in the middle of an import.

A private server (``postgres_cluster``) is restarted, dropping every connection,
while ``threadline import`` runs with worker processes. Each source is one atomic
save, and transient connection errors are retried: the import completes, or
reports the sources it could not save, and a rerun leaves exactly one thread per
source with read models equal to a full rebuild.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import (
    CWD_ROOT,
    REPO,
    Conversation,
    cli_command,
    cli_env,
    long_text,
    run_cli,
    session_uuid,
    slug,
    write_transcript,
)
from postgres_cluster import PrivateCluster

pytestmark = pytest.mark.slow

SOURCES = 12
"""Of 1.5 MiB each: more than the importer's threshold for worker processes (16 MiB)."""


def make_tree(root: Path) -> list[Path]:
    pool = long_text("pool", 400_000)
    paths = []
    for i in range(SOURCES):
        convo = Conversation(session_uuid(f"pg-restart-{i}"), cwd=f"{CWD_ROOT}/pg-{i}")
        for n in range(12):
            convo.user(f"Task {i}.{n}: " + long_text(f"t{n}", 200))
            convo.tool_turn("Read", {"file_path": f"/src/{n}"}, pool[n * 997 :][:130_000])
            convo.assistant(f"Step {n} done.")
        path = root / ".claude" / "projects" / slug(convo.cwd or "") / f"{convo.session_id}.jsonl"
        paths.append(write_transcript(path, convo.records))
    return paths


def ledger_entries(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT count(*) FROM threadline.threadline_events WHERE topic LIKE %s",
                ("%LedgerRecorded",),
            ).fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return 0


def cli_json(*args: str | Path, home: Path, url: str) -> Any:
    result = run_cli(*args, "--json", home=home, env={"THREADLINE_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    return result.json()


def test_an_import_survives_its_postgresql_server_restarting_midway(tmp_path: Path) -> None:
    cluster = PrivateCluster()
    cluster.start()
    try:
        paths = make_tree(tmp_path)
        home = tmp_path / "home"
        env = cli_env(home, {"THREADLINE_DATABASE_URL": cluster.url})
        importing = subprocess.Popen(
            cli_command("import", str(tmp_path / ".claude"), "--json"),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while ledger_entries(cluster.url) < 2 and importing.poll() is None:
            assert time.monotonic() < deadline, "the import never saved a source"
            time.sleep(0.02)
        restarted_while_importing = importing.poll() is None
        cluster.restart()
        out, err = importing.communicate(timeout=180)

        assert restarted_while_importing, "the import finished before the restart: grow SOURCES"
        assert "Traceback" not in err, err
        assert importing.returncode in (0, 1), err
        first = json.loads(out)
        assert sum(first["counts"].values()) == SOURCES  # each one saved, or reported failed
        assert all(p["reason"] for p in first["problems"])
        rerun = run_cli("import", tmp_path / ".claude", "--json", home=home, env=env)
        assert rerun.returncode == 0, rerun.stderr

        threads = cli_json("threads", home=home, url=cluster.url)
        ledger = cli_json("ledger", home=home, url=cluster.url)
        assert sorted(t["source_path"] for t in threads) == sorted(map(str, paths))
        assert len({t["thread_id"] for t in threads}) == SOURCES
        assert sorted(e["source_path"] for e in ledger) == sorted(map(str, paths))
        assert all(e["thread_id"] and e["outcome"] in ("imported", "skipped") for e in ledger)
        assert ledger_entries(cluster.url) == SOURCES, "a source was saved twice"

        rebuilt = run_cli("rebuild", home=home, env=env)
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert cli_json("threads", home=home, url=cluster.url) == threads
        assert cli_json("ledger", home=home, url=cluster.url) == ledger
    finally:
        cluster.stop()
