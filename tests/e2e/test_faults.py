"""A store that is busy, full or not ours to write: the import retries what may pass
(a write lock held longer than the lock timeout), gives up on what will not (no space, no
permission) with one clear line naming the store, and never leaves half an import behind:
a later run completes and the store then equals a clean import of the same tree."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    ClaudeTree,
    Conversation,
    db_path,
    file_size_limit,
    long_text,
    make_claude_tree,
    needs_file_modes,
    run_cli,
    session_uuid,
    slug,
    store_contents,
    store_write_lock,
    without_file_permission_override,
)

pytestmark = pytest.mark.slow

RETRY_LINE = re.compile(r"^threadline: .+: database is locked; retry (\d) of (\d) in [\d.]+ s$")


def one_line_error(stderr: str) -> str:
    """The last stderr line, checked to be the CLI's own message and not a traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("threadline: "), stderr
    return lines[-1]


def imported(tree: Path, home: Path, **kwargs: object) -> dict:
    result = run_cli("import", tree, "--json", home=home, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result.json()


def new_session(
    tree: ClaudeTree, name: str, tool_output_chars: int = 3000, incompressible: bool = False
) -> Path:
    convo = Conversation(session_uuid(name), cwd=f"/nonexistent-threadline-tests/{name}")
    convo.user(f"Prompt of {name}")
    # Random hex for a source that must take its size on disk: pages are stored compressed.
    output = (
        os.urandom(tool_output_chars // 2).hex()
        if incompressible
        else long_text(name, tool_output_chars)
    )
    convo.tool_turn("Read", {"file_path": f"/{name}"}, output)
    convo.assistant(f"Done with {name}.")
    return convo.write(tree.projects / slug(convo.cwd or "") / f"{convo.session_id}.jsonl")


def clean_import(tmp_path: Path, *trees: Path) -> dict:
    """What the store holds when the same steps run with nothing going wrong."""
    home = tmp_path / "clean-home"
    for tree in trees:
        imported(tree, home)
    return store_contents(home)


@pytest.fixture
def tree(tmp_path: Path) -> ClaudeTree:
    return make_claude_tree(tmp_path / "user-home")


# -- a busy store: transient -------------------------------------------------------------


def test_a_write_lock_held_longer_than_the_lock_timeout_is_retried_and_the_import_completes(
    tree: ClaudeTree, home: Path, tmp_path: Path
) -> None:
    assert run_cli("threads", home=home).returncode == 0  # the store exists
    with store_write_lock(home) as release:
        threading.Timer(3.5, release).start()  # a few lock timeouts of 1 s, whatever start-up takes

        result = run_cli("import", tree.claude_home, "--json", home=home, lock_timeout=1)

    assert result.returncode == 0, result.stderr
    assert result.json()["counts"]["imported"] == len(tree.sessions)
    retries = [RETRY_LINE.match(line) for line in result.stderr.splitlines()]
    assert all(retries) and len(retries) >= 1, result.stderr  # each retry logged, nothing else
    assert [int(m.group(1)) for m in retries if m] == list(range(1, len(retries) + 1))
    assert store_contents(home) == clean_import(tmp_path, tree.claude_home)


def test_a_write_lock_held_past_every_retry_fails_with_one_line_and_writes_nothing(
    tree: ClaudeTree, home: Path, tmp_path: Path
) -> None:
    first = tree.sessions[0].path
    imported(first, home)
    before = store_contents(home)

    with store_write_lock(home):
        result = run_cli(
            "import", tree.claude_home, "--json", home=home, lock_timeout=1, store_attempts=3
        )

    assert result.returncode == 3
    assert one_line_error(result.stderr) == (
        f"threadline: cannot open the store in {home}: database is locked"
    )
    assert sum(bool(RETRY_LINE.match(line)) for line in result.stderr.splitlines()) == 2
    assert store_contents(home) == before
    imported(tree.claude_home, home)
    assert store_contents(home) == clean_import(tmp_path, first, tree.claude_home)


@pytest.fixture
def short_store_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    import threadline.adapters.persistence.sqlite as sqlite
    import threadline.application.store_faults as store_faults

    monkeypatch.setattr(sqlite, "LOCK_TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(store_faults, "STORE_ATTEMPTS", 2)


@pytest.fixture
def opened_store(home: Path, short_store_timeouts: None) -> Iterator[object]:
    from threadline.adapters.store import open_store

    store = open_store(str(home))
    yield store
    store.close()


def test_a_lock_taken_while_an_import_runs_fails_only_what_is_left_and_saves_no_half(
    tree: ClaudeTree,
    home: Path,
    tmp_path: Path,
    opened_store: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from threadline.adapters.claude_code.reader import ClaudeCodeReader
    from threadline.adapters.store import Store
    from threadline.application.importing import TranscriptImporter

    assert isinstance(opened_store, Store)
    reader = ClaudeCodeReader()
    sources, _ = reader.discover([str(tree.claude_home)])
    importer = TranscriptImporter(opened_store.app, reader, opened_store.blobs, concurrency=1)
    done = importer.import_source(sources[0])  # the store opened, then another writer came

    with store_write_lock(home), caplog.at_level(logging.WARNING):
        reports = [importer.import_source(s) for s in sources[1:]]

    assert done.outcome == "imported"
    assert [r.outcome for r in reports] == ["failed"] * len(reports)
    assert [r.store_error for r in reports] == ["database is locked"] * len(reports)
    assert [str(p) for p in reports[0].problems] == [
        f"{sources[1].path}: not imported: database is locked"
    ]
    retries = [r for r in caplog.records if r.name == "threadline.application.store_faults"]
    assert len(retries) == 1  # one retry; the sources after it are not tried at all
    assert [opened_store.app.ledger_entry(s) for s in sources[1:]] == [None] * len(reports)
    imported(tree.claude_home, home)
    assert store_contents(home) == clean_import(tmp_path, sources[0].path, tree.claude_home)


# -- a full disk, a store that is not ours: permanent ------------------------------------------


def test_a_full_disk_fails_with_one_line_naming_the_store_and_a_later_run_completes(
    tree: ClaudeTree, home: Path, tmp_path: Path
) -> None:
    small = tree.sessions[0].path
    imported(small, home)
    store_files = [p for p in home.iterdir() if p.is_file()]
    room = max(p.stat().st_size for p in store_files) + 256 * 1024
    big = [  # each more than the room left
        new_session(tree, f"big-{i}", room + 512 * 1024, incompressible=True) for i in range(2)
    ]

    result = run_cli(
        "import", tree.claude_home, "--json", home=home, preexec_fn=file_size_limit(room)
    )

    assert result.returncode in (1, 3), result.stderr
    message = one_line_error(result.stderr)
    assert message.startswith(f"threadline: cannot write to the store in {home}: "), message
    assert "full" in message or "I/O error" in message, message
    report = result.json()
    assert report["store_error"] and report["counts"]["failed"] >= len(big), report
    assert not [line for line in result.stderr.splitlines() if "retry" in line]  # not retried
    imported(tree.claude_home, home)
    assert store_contents(home) == clean_import(tmp_path, small, tree.claude_home)


@needs_file_modes
@pytest.mark.parametrize("mode", [0o000, 0o400], ids=["unreadable", "read-only"])
def test_a_store_file_without_permission_fails_with_one_line_and_stays_intact(
    tree: ClaudeTree, home: Path, tmp_path: Path, mode: int
) -> None:
    first = tree.sessions[0].path
    imported(first, home)
    before = store_contents(home)
    db_path(home).chmod(mode)
    try:
        result = run_cli(
            "import",
            tree.claude_home,
            "--json",
            home=home,
            preexec_fn=without_file_permission_override,
        )
    finally:
        db_path(home).chmod(0o600)

    assert result.returncode == 3, result.stderr
    assert one_line_error(result.stderr) == (
        f"threadline: cannot open the store in {home}: Permission denied"
    )
    assert "retry" not in result.stderr
    assert store_contents(home) == before
    imported(tree.claude_home, home)
    assert store_contents(home) == clean_import(tmp_path, first, tree.claude_home)


@needs_file_modes
def test_a_home_that_cannot_be_created_fails_with_one_line(
    tree: ClaudeTree, tmp_path: Path
) -> None:
    parent = tmp_path / "locked-parent"
    parent.mkdir(mode=0o500)
    home = parent / "home"

    result = run_cli(
        "import", tree.claude_home, home=home, preexec_fn=without_file_permission_override
    )

    assert result.returncode == 3, result.stderr
    assert one_line_error(result.stderr) == (
        f"threadline: cannot open the store in {home}: Permission denied"
    )
    assert not os.path.exists(home)


def test_a_rebuild_on_a_full_disk_fails_with_one_line_and_the_next_read_catches_up(
    tree: ClaudeTree, home: Path
) -> None:
    imported(tree.claude_home, home)
    before = store_contents(home)

    result = run_cli("rebuild", home=home, preexec_fn=file_size_limit(96 * 1024))

    assert result.returncode == 3, result.stderr
    message = one_line_error(result.stderr)
    assert message.startswith(f"threadline: the store in {home} failed: "), message
    assert store_contents(home) == before


@needs_file_modes
@pytest.mark.parametrize(
    "command", [["threads"], ["ledger", "--json"], ["show", "0"], ["search", "prompt"]]
)
def test_a_read_command_on_a_store_it_cannot_open_fails_with_one_line(
    tree: ClaudeTree, home: Path, command: list[str]
) -> None:
    imported(tree.claude_home, home)
    db_path(home).chmod(0o000)
    try:
        result = run_cli(*command, home=home, preexec_fn=without_file_permission_override)
    finally:
        db_path(home).chmod(0o600)

    assert result.returncode == 3, result.stderr
    assert one_line_error(result.stderr).startswith(
        f"threadline: the store in {home} failed: unable to open database file"
    )
