"""``threadline import`` on real transcript files into a real SQLite file, read back by the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CWD_ROOT,
    REPO,
    ClaudeTree,
    Conversation,
    append_transcript,
    cli_env,
    event_topics,
    expected_item_count,
    long_text,
    on_postgres,
    parse_ts,
    query,
    run_cli,
    session_uuid,
    slug,
    stored_events_mark,
    table,
    thinking,
    write_transcript,
)

pytestmark = pytest.mark.both_stores

HISTORY_REPLACED = "threadline.domain.session:Session.HistoryReplaced"
ITEMS_RECORDED = "threadline.domain.session:Session.ItemsRecorded"


# -- helpers: what the source says, what the CLI shows ---------------------------


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def source_blocks(path: Path) -> Counter[tuple[str, ...]]:
    """Every content block of every user and assistant line of a transcript file."""
    blocks: Counter[tuple[str, ...]] = Counter()
    for record in read_records(path):
        if record.get("type") not in ("user", "assistant"):
            continue
        content = record["message"]["content"]
        if isinstance(content, str):
            blocks["text", content] += 1
            continue
        for block in content:
            kind = block["type"]
            if kind == "text":
                blocks["text", block["text"]] += 1
            elif kind == "thinking":
                blocks["thinking", block["thinking"]] += 1
            elif kind == "tool_use":
                blocks["tool_use", block["id"], block["name"], _key(block["input"])] += 1
            elif kind == "tool_result":
                output = block["content"]
                if isinstance(output, list):
                    output = [b["text"] for b in output]
                blocks["tool_result", block["tool_use_id"], _key(output)] += 1
            else:
                raise AssertionError(f"the test transcript has an unexpected block {kind}")
    return blocks


def shown_blocks(items: list[dict[str, Any]]) -> Counter[tuple[str, ...]]:
    """The same blocks, as ``show --json`` gives them back."""
    blocks: Counter[tuple[str, ...]] = Counter()
    for item in items:
        kind = item["type"]
        if kind in ("user", "assistant"):
            for part in item["parts"]:
                blocks["text", part] += 1
        elif kind == "reasoning":
            blocks["thinking", item["text"]] += 1
        elif kind == "tool_call":
            blocks["tool_use", item["call_id"], item["name"], _key(item["input"])] += 1
        elif kind == "tool_result":
            output = item["output"]
            if isinstance(output, list):
                output = [b["text"] for b in output]
            blocks["tool_result", item["call_id"], _key(output)] += 1
    return blocks


def import_json(*paths: Path | str, home: Path, env: dict[str, str] | None = None) -> dict:
    result = run_cli("import", *paths, "--json", home=home, env=env)
    assert result.returncode in (0, 1), result.stderr
    return result.json()


def threads(home: Path) -> list[dict[str, Any]]:
    result = run_cli("threads", "--json", home=home)
    assert result.returncode == 0, result.stderr
    return result.json()


def show(home: Path, thread_id: str) -> dict[str, Any]:
    result = run_cli("show", thread_id, "--json", home=home)
    assert result.returncode == 0, result.stderr
    return result.json()


def ledger(home: Path) -> list[dict[str, Any]]:
    result = run_cli("ledger", "--json", home=home)
    assert result.returncode == 0, result.stderr
    return result.json()


def read_model_rows(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the three read models, straight from the SQLite file."""
    return {
        "threads": table(home, "threads", "thread_id"),
        "history": table(home, "history", "thread_id, position"),
        "ledger": table(home, "ledger", "import_id"),
    }


def thread_ids_in_store(home: Path) -> list[str]:
    return [row[0] for row in query(home, "SELECT thread_id FROM threads ORDER BY thread_id")]


def ledger_paths_in_store(home: Path) -> list[str]:
    return [row[0] for row in query(home, "SELECT source_path FROM ledger ORDER BY source_path")]


def source_report(report: dict[str, Any], path: Path) -> dict[str, Any]:
    (found,) = [s for s in report["sources"] if s["path"] == str(path)]
    return found


def one_session(name: str = "solo", exchanges: int = 2) -> Conversation:
    convo = Conversation(session_uuid(name))
    for i in range(exchanges):
        convo.user(f"Prompt {i} of {name}")
        convo.assistant(thinking(f"Considering {i}."), f"Reply {i} of {name}.")
    return convo


def session_path(tmp_path: Path, convo: Conversation) -> Path:
    cwd = convo.cwd or f"{CWD_ROOT}/none"
    return tmp_path / ".claude" / "projects" / slug(cwd) / f"{convo.session_id}.jsonl"


# -- importing a tree -------------------------------------------------------------


def test_import_creates_one_thread_per_transcript_and_lists_them_newest_first(
    claude_tree: ClaudeTree, home: Path
) -> None:
    result = run_cli("import", claude_tree.claude_home, "--json", home=home)

    assert result.returncode == 0, result.stderr
    report = result.json()
    assert report["counts"]["imported"] == len(claude_tree.sessions)
    assert report["problems"] == []
    rows = threads(home)
    assert [r["source_path"] for r in rows] == [str(s.path) for s in claude_tree.newest_first()]
    for row, session in zip(rows, claude_tree.newest_first(), strict=True):
        assert row["title"] == session.title
        assert row["cwd"] == session.cwd
        assert row["git_branch"] == session.branch
        assert row["source_session_id"] == session.conversation.session_id
        assert parse_ts(row["created_at"]) == session.created
        assert parse_ts(row["updated_at"]) == session.updated
        assert row["item_count"] == expected_item_count(session.records)
        assert row["parent_thread_id"] is None
        assert row["models"] == ["claude-sonnet-4-5-20250929"]
    assert {r["thread_id"] for r in rows} == {s["thread_id"] for s in report["sources"]}


def test_threads_are_newest_first_whatever_offset_or_precision_timestamps_have(
    tmp_path: Path, home: Path
) -> None:
    written = {
        "earliest": "2025-03-01T10:30:00.000+02:00",  # 08:30 UTC
        "middle": "2025-03-01T09:00:00.000Z",
        "latest": "2025-03-01T09:00:00.500Z",
    }
    for name, timestamp in written.items():
        convo = Conversation(session_uuid(name))
        convo.user(name)["timestamp"] = timestamp
        convo.write(tmp_path / "project" / f"{convo.session_id}.jsonl")
    import_json(tmp_path / "project", home=home)

    rows = threads(home)

    assert [r["title"] for r in rows] == ["latest", "middle", "earliest"]
    assert [parse_ts(r["updated_at"]) for r in rows] == sorted(
        (parse_ts(t) for t in written.values()), reverse=True
    )


def test_show_returns_every_user_and_assistant_content_block_of_the_source(
    tmp_path: Path, home: Path
) -> None:
    convo = Conversation(session_uuid("rich"))
    convo.user("A plain string prompt")
    convo.user([{"type": "text", "text": "First text block"}, {"type": "text", "text": "Second"}])
    convo.user(long_text("prompt", 3000))
    # One streamed response written as three fragments sharing message.id.
    convo.assistant(thinking(long_text("thought", 2500)), message_id="msg_streamed")
    convo.assistant("Here is the plan ✓ — déjà vu", message_id="msg_streamed")
    convo.assistant(
        {"type": "tool_use", "id": "toolu_big", "name": "Write", "input": {"content": "x" * 5000}},
        message_id="msg_streamed",
    )
    convo.tool_result("toolu_big", long_text("output", 6000))
    call = convo.tool_turn("Read", {"file_path": "/tmp/a.py"}, [{"type": "text", "text": "1→ x"}])
    convo.tool_result(call, "permission denied", is_error=True)
    convo.assistant("All done.")
    path = convo.write(session_path(tmp_path, convo))
    report = import_json(path, home=home)
    thread_id = source_report(report, path)["thread_id"]

    shown = show(home, thread_id)

    assert shown_blocks(shown["items"]) == source_blocks(path)
    assert [i["position"] for i in shown["items"]] == list(range(len(shown["items"])))
    assert (
        shown["thread"]["item_count"] == len(shown["items"]) == expected_item_count(convo.records)
    )
    (merged,) = [
        i
        for i in shown["items"]
        if i["type"] == "assistant" and i.get("message_id") == "msg_streamed"
    ]
    assert merged["fragments"] == 3


def test_ledger_records_the_version_of_each_source_that_is_in_its_thread(
    claude_tree: ClaudeTree, home: Path
) -> None:
    report = import_json(claude_tree.claude_home, home=home)

    rows = ledger(home)

    assert sorted(r["source_path"] for r in rows) == sorted(
        str(s.path) for s in claude_tree.sessions
    )
    for session in claude_tree.sessions:
        (row,) = [r for r in rows if r["source_path"] == str(session.path)]
        data = session.path.read_bytes()
        assert row["thread_id"] == source_report(report, session.path)["thread_id"]
        assert row["size"] == row["consumed_bytes"] == len(data)
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert row["mtime_ns"] == session.path.stat().st_mtime_ns
        assert row["consumed_lines"] == len(session.records)
        assert row["items"] == expected_item_count(session.records)
        assert row["outcome"] == "imported"
        assert row["problems"] == 0


# -- importing again ----------------------------------------------------------------


def test_reimporting_unchanged_sources_writes_nothing(claude_tree: ClaudeTree, home: Path) -> None:
    import_json(claude_tree.claude_home, home=home)
    before = stored_events_mark(home)
    rows_before = read_model_rows(home)

    result = run_cli("import", claude_tree.claude_home, "--json", home=home)

    assert result.returncode == 0, result.stderr
    counts = result.json()["counts"]
    assert counts["skipped"] == len(claude_tree.sessions)
    assert sum(counts.values()) == counts["skipped"]
    assert stored_events_mark(home) == before
    assert read_model_rows(home) == rows_before


def test_an_unchanged_reimport_loads_neither_the_event_store_nor_the_transcript_mapping(
    claude_tree: ClaudeTree, home: Path
) -> None:
    import_json(claude_tree.claude_home, home=home)

    done = unchanged_reimport(
        claude_tree, home, "-X", "importtime", "-m", "threadline.adapters.cli.main"
    )

    loaded = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    heavy = {
        "eventsourcing",
        "pydantic",
        "rich",
        "threadline.domain",
        "threadline.adapters.claude_code.mapping",
        "starlette",
        "jinja2",
    }
    if not on_postgres(home):  # psycopg loads these itself
        heavy |= {"orjson", "dataclasses", "asyncio", "ipaddress"}
    assert heavy.isdisjoint(loaded), sorted(heavy & loaded)
    # Every first-party module under its installed name, none under a bare layer name.
    bare = {m for m in loaded if m.split(".")[0] in ("domain", "application", "adapters")}
    assert bare == set()
    assert "threadline.adapters.cli.import_command" in loaded


@pytest.mark.sqlite_only  # psycopg's own named tuples compile their annotations
def test_an_unchanged_reimport_compiles_nothing(claude_tree: ClaudeTree, home: Path) -> None:
    """No named tuple or typed dict on the path has string annotations (``from __future__
    import annotations``): typing compiles each, and the first ``compile`` costs ~2 ms."""
    import_json(claude_tree.claude_home, home=home)
    driver = (
        "import builtins, sys\n"
        "compiled = []\n"
        "real = builtins.compile\n"
        "def counting(source, *args, **kwargs):\n"
        "    if isinstance(source, str):  # an annotation; a module without bytecode is bytes\n"
        "        compiled.append(source)\n"
        "    return real(source, *args, **kwargs)\n"
        "builtins.compile = counting\n"
        "from threadline.adapters.cli.main import main\n"
        "status = main(sys.argv[1:])\n"
        "print(repr(compiled), file=sys.stderr)\n"
        "sys.exit(status)\n"
    )

    done = unchanged_reimport(claude_tree, home, "-c", driver)

    assert done.stderr.splitlines()[-1] == "[]"


def unchanged_reimport(
    claude_tree: ClaudeTree, home: Path, *python_args: str
) -> subprocess.CompletedProcess[str]:
    """``import TREE --json`` of an imported tree in a Python run with ``python_args``;
    checked to have skipped every session."""
    done = subprocess.run(
        [sys.executable, *python_args, "import", str(claude_tree.claude_home), "--json"],
        cwd=REPO,
        env=cli_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"]["skipped"] == len(claude_tree.sessions)
    return done


def test_appended_lines_are_appended_to_the_same_thread_and_earlier_items_stay(
    tmp_path: Path, home: Path
) -> None:
    convo = one_session()
    path = convo.write(session_path(tmp_path, convo))
    first = source_report(import_json(path, home=home), path)
    before = show(home, first["thread_id"])
    already = len(convo.records)
    convo.user("One more thing")
    convo.tool_turn("Bash", {"command": "make"}, "ok\n")
    convo.assistant("Finished the extra step.")
    append_transcript(path, convo.records[already:])

    again = source_report(import_json(path, home=home), path)

    assert again["outcome"] == "appended"
    assert again["thread_id"] == first["thread_id"]
    after = show(home, first["thread_id"])
    new_items = expected_item_count(convo.records[already:])
    assert after["thread"]["item_count"] == before["thread"]["item_count"] + new_items
    assert len(after["items"]) == len(before["items"]) + new_items
    assert after["items"][: len(before["items"])] == before["items"]
    assert parse_ts(after["thread"]["updated_at"]) == parse_ts(convo.last_timestamp)
    assert after["thread"]["created_at"] == before["thread"]["created_at"]
    assert shown_blocks(after["items"]) == source_blocks(path)
    assert thread_ids_in_store(home) == [first["thread_id"]]


def test_garbage_appended_to_a_transcript_is_reported_and_later_lines_still_append(
    tmp_path: Path, home: Path
) -> None:
    convo = one_session()
    path = convo.write(session_path(tmp_path, convo))
    first = source_report(import_json(path, home=home), path)
    before = show(home, first["thread_id"])
    lines_before = path.read_bytes().count(b"\n")
    with path.open("ab") as f:
        f.write(b"not json at all\n")

    garbled = import_json(path, home=home)

    assert source_report(garbled, path)["outcome"] == "appended"
    assert [(p["line"], p["reason"]) for p in garbled["problems"]] == [
        (lines_before + 1, "invalid JSON: invalid literal, expected 'null' at column 1")
    ]
    assert show(home, first["thread_id"])["items"] == before["items"]
    already = len(convo.records)
    convo.user("After the garbage")
    append_transcript(path, convo.records[already:])

    again = source_report(import_json(path, home=home), path)

    assert again["outcome"] == "appended"
    after = show(home, first["thread_id"])
    assert after["items"][: len(before["items"])] == before["items"]
    assert len(after["items"]) == len(before["items"]) + 1
    assert thread_ids_in_store(home) == [first["thread_id"]]


def test_a_source_rewritten_in_place_replaces_the_history_of_the_same_thread(
    tmp_path: Path, home: Path
) -> None:
    convo = one_session(exchanges=3)
    path = convo.write(session_path(tmp_path, convo))
    first = source_report(import_json(path, home=home), path)
    rewritten = Conversation(convo.session_id, start=convo.start)
    rewritten.user("A different first prompt, after a rewind")
    rewritten.assistant("A different answer.")
    rewritten.write(path)

    again = source_report(import_json(path, home=home), path)

    assert again["outcome"] == "replaced"
    assert again["thread_id"] == first["thread_id"]
    after = show(home, first["thread_id"])
    assert shown_blocks(after["items"]) == source_blocks(path)
    assert after["thread"]["item_count"] == len(after["items"]) == 2
    assert after["thread"]["title"] == "A different first prompt, after a rewind"
    topics = event_topics(home, first["thread_id"])
    assert topics.count(HISTORY_REPLACED) == 1
    assert topics[-2:] == [HISTORY_REPLACED, ITEMS_RECORDED]
    assert thread_ids_in_store(home) == [first["thread_id"]]


def test_a_source_emptied_then_rewritten_replaces_the_history_of_the_same_thread(
    tmp_path: Path, home: Path
) -> None:
    convo = one_session(exchanges=2)
    path = convo.write(session_path(tmp_path, convo))
    first = source_report(import_json(path, home=home), path)
    path.write_bytes(b"")
    assert source_report(import_json(path, home=home), path)["outcome"] == "rejected"
    rewritten = Conversation(convo.session_id, start=convo.start)
    rewritten.user("A new conversation in the same file")
    rewritten.assistant("A new answer.")
    rewritten.write(path)

    again = source_report(import_json(path, home=home), path)

    assert again["thread_id"] == first["thread_id"]
    assert again["outcome"] == "replaced"
    after = show(home, first["thread_id"])
    assert [i["uuid"] for i in after["items"]] == [r["uuid"] for r in rewritten.records]
    assert after["thread"]["title"] == "A new conversation in the same file"


def test_a_touched_source_is_skipped_and_only_its_new_mtime_is_recorded_for_the_next_run(
    tmp_path: Path, home: Path
) -> None:
    convo = one_session()
    path = convo.write(session_path(tmp_path, convo))
    import_json(path, home=home)
    count, top = stored_events_mark(home)
    st = path.stat()
    touched = st.st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(st.st_atime_ns, touched))

    report = import_json(path, home=home)
    again = import_json(path, home=home)

    assert source_report(report, path)["outcome"] == "skipped"
    assert report["counts"]["skipped"] == 1
    new = query(home, "SELECT topic FROM stored_events WHERE rowid > ?", (top,))
    assert new == [("threadline.domain.ledger:Import.SourceTouched",)]  # no thread event, no item
    [entry] = run_cli("ledger", "--json", home=home).json()
    assert entry["mtime_ns"] == touched
    assert source_report(again, path)["outcome"] == "skipped"
    assert again["bytes"] == 0  # the cheap skip: the file was not read again
    assert stored_events_mark(home) == (count + 1, top + 1)


def test_one_source_never_gets_a_second_thread_whatever_happens_to_it(
    tmp_path: Path, home: Path
) -> None:
    convo = one_session()
    path = convo.write(session_path(tmp_path, convo))
    outcomes, thread_ids = [], set()

    def import_and_note(*paths: Path | str) -> None:
        report = import_json(*paths, home=home)
        for source in report["sources"]:
            outcomes.append(source["outcome"])
            thread_ids.add(source["thread_id"])

    import_and_note(path)
    convo.user("grow")
    append_transcript(path, convo.records[-1:])
    import_and_note(path.parent)  # the project directory this time
    write_transcript(path, convo.records[:2])
    import_and_note(tmp_path / ".claude")  # the Claude home this time
    import_and_note(f"{path.parent}/./{path.name}")  # an odd spelling of the same file

    assert outcomes == ["imported", "appended", "replaced", "skipped"]
    assert len(thread_ids) == 1
    assert thread_ids_in_store(home) == list(thread_ids)
    assert ledger_paths_in_store(home) == [str(path)]


def test_a_file_reached_through_a_symlink_and_through_its_real_path_is_one_source(
    tmp_path: Path, home: Path
) -> None:
    convo = one_session()
    real = convo.write(session_path(tmp_path, convo))
    linked_dir = tmp_path / "linked-project"
    linked_dir.symlink_to(real.parent, target_is_directory=True)
    linked_file = tmp_path / "linked.jsonl"
    linked_file.symlink_to(real)

    both = import_json(linked_file, real, linked_dir, home=home)
    again = import_json(linked_dir / real.name, home=home)

    assert [s["path"] for s in both["sources"]] == [str(real)]
    assert both["counts"]["imported"] == 1
    assert [s["outcome"] for s in again["sources"]] == ["skipped"]
    assert thread_ids_in_store(home) == [both["sources"][0]["thread_id"]]
    assert ledger_paths_in_store(home) == [str(real)]


# -- sub-agents -----------------------------------------------------------------------


def test_subagent_files_become_child_threads_of_their_session(tmp_path: Path, home: Path) -> None:
    parent = Conversation(session_uuid("parent"))
    parent.user("Research the two libraries")
    call_new = parent.tool_turn("Task", {"prompt": "look at lib A"}, "A is fine")
    parent.tool_turn("Task", {"prompt": "look at lib B"}, "B is fine")
    parent_path = parent.write(session_path(tmp_path, parent))
    # Current layout: <session>/subagents/agent-<id>.jsonl, with a meta file.
    new_style = Conversation(parent.session_id, is_sidechain=True, agent_id="a1")
    new_style.user("look at lib A")
    new_style.assistant("A is fine")
    new_path = new_style.write(parent_path.with_suffix("") / "subagents" / "agent-a1.jsonl")
    (new_path.parent / "agent-a1.meta.json").write_text(json.dumps({"toolUseId": call_new}))
    # Older layout: agent-<hash>.jsonl beside the session file.
    old_style = Conversation(parent.session_id, is_sidechain=True, agent_id="xyz")
    old_style.user("look at lib B")
    old_style.assistant("B is fine")
    old_path = old_style.write(parent_path.parent / "agent-xyz.jsonl")

    report = import_json(tmp_path / ".claude", home=home)

    assert report["counts"]["imported"] == 3
    rows = {r["source_path"]: r for r in threads(home)}
    assert set(rows) == {str(parent_path), str(new_path), str(old_path)}
    parent_id = rows[str(parent_path)]["thread_id"]
    assert rows[str(parent_path)]["parent_thread_id"] is None
    for child, agent_id in ((new_path, "a1"), (old_path, "xyz")):
        assert rows[str(child)]["parent_thread_id"] == parent_id
        assert rows[str(child)]["agent_id"] == agent_id
        assert rows[str(child)]["item_count"] == 2
    assert rows[str(new_path)]["spawned_by_call_id"] == call_new


def test_inline_sidechain_lines_become_a_child_thread_and_stay_out_of_the_parent(
    tmp_path: Path, home: Path
) -> None:
    convo = Conversation(session_uuid("inline"))
    convo.user("Use a sub-agent to count the files")
    convo.tool_turn("Task", {"prompt": "count files"}, "42 files")
    main_parent = convo.parent
    side_uuids = []
    convo.is_sidechain, convo.parent = True, None
    side_uuids.append(convo.user("count files")["uuid"])
    side_uuids.append(convo.assistant("There are 42 files.")["uuid"])
    convo.is_sidechain, convo.parent = False, main_parent
    convo.assistant("The sub-agent counted 42 files.")
    path = convo.write(session_path(tmp_path, convo))

    report = import_json(path, home=home)

    rows = threads(home)
    assert len(rows) == 2
    (parent,) = [r for r in rows if r["parent_thread_id"] is None]
    (child,) = [r for r in rows if r["parent_thread_id"] is not None]
    assert parent["thread_id"] == source_report(report, path)["thread_id"]
    assert child["parent_thread_id"] == parent["thread_id"]
    parent_items = show(home, parent["thread_id"])["items"]
    child_items = show(home, child["thread_id"])["items"]
    assert not {i["uuid"] for i in parent_items} & set(side_uuids)
    assert [i["uuid"] for i in child_items] == side_uuids
    assert parent["item_count"] == expected_item_count(
        [r for r in convo.records if not r["isSidechain"]]
    )


def test_lines_appended_to_an_inline_sidechain_join_its_existing_child_thread(
    tmp_path: Path, home: Path
) -> None:
    convo = Conversation(session_uuid("inline-growing"))
    convo.user("Use a sub-agent")
    main_parent = convo.parent
    convo.is_sidechain, convo.parent = True, None
    convo.user("sub-agent task")
    convo.assistant("working on it")
    path = convo.write(session_path(tmp_path, convo))
    import_json(path, home=home)
    already = len(convo.records)
    convo.assistant("sub-agent finished")  # continues the same chain (parentUuid links it)
    convo.is_sidechain, convo.parent = False, main_parent
    convo.assistant("The sub-agent finished.")
    append_transcript(path, convo.records[already:])

    import_json(path, home=home)

    children = [r for r in threads(home) if r["parent_thread_id"] is not None]
    assert len(children) == 1
    assert children[0]["item_count"] == 3


# -- where transcripts are looked for -----------------------------------------------------


def test_every_claude_config_dir_root_is_imported_when_no_path_is_given(
    tmp_path: Path, home: Path
) -> None:
    roots = [tmp_path / "config-one", tmp_path / "config-two"]
    paths = []
    for i, root in enumerate(roots):
        convo = one_session(name=f"root-{i}")
        paths.append(convo.write(root / "projects" / "-proj" / f"{convo.session_id}.jsonl"))
    empty_home = tmp_path / "empty-user-home"
    empty_home.mkdir()

    result = run_cli(
        "import",
        "--json",
        home=home,
        env={"CLAUDE_CONFIG_DIR": f"{roots[0]}, {roots[1]}", "HOME": str(empty_home)},
    )

    assert result.returncode == 0, result.stderr
    assert sorted(s["path"] for s in result.json()["sources"]) == sorted(map(str, paths))
    assert len(threads(home)) == 2


def test_import_with_no_path_and_no_agent_home_says_where_it_looked_and_succeeds(
    tmp_path: Path, home: Path
) -> None:
    empty_home = tmp_path / "empty-user-home"
    empty_home.mkdir()
    env = {"HOME": str(empty_home), "CODEX_HOME": "", "XDG_DATA_HOME": "", "GEMINI_CLI_HOME": ""}

    result = run_cli("import", home=home, env=env)

    assert result.returncode == 0
    assert "no transcripts found" in result.stderr
    for where in (".claude", ".codex", ".local/share/opencode", ".gemini"):
        assert str(empty_home / where) in result.stderr
    assert "Traceback" not in result.stderr


# -- exit codes and the store's file --------------------------------------------------------


def _source_with_a_bad_line(tmp_path: Path) -> Path:
    convo = one_session()
    deep = tmp_path.resolve() / ("a-project-directory-with-a-long-name-" * 2) / "sessions"
    path = convo.write(deep / f"{convo.session_id}.jsonl")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:2], b"{this is not json}\n", *lines[2:]]))
    return path


def test_problems_exit_1_and_the_json_report_names_file_and_line(
    tmp_path: Path, home: Path
) -> None:
    path = _source_with_a_bad_line(tmp_path)

    result = run_cli("import", path, "--json", home=home)

    assert result.returncode == 1
    report = result.json()
    assert report["counts"]["imported"] == 1
    assert [(p["path"], p["line"]) for p in report["problems"]] == [(str(path), 3)]
    assert "invalid JSON" in report["problems"][0]["reason"]
    assert report["sources"][0]["problems"] == 1


def test_problems_exit_1_and_the_human_report_names_file_and_line(
    tmp_path: Path, home: Path
) -> None:
    path = _source_with_a_bad_line(tmp_path)

    result = run_cli("import", path, home=home)

    assert result.returncode == 1
    assert f"{path}:3: invalid JSON" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [("import", "."), ("threads",), ("show", "abc"), ("ledger",), ("rebuild",)],
    ids=lambda c: c[0],
)
def test_a_store_that_cannot_be_opened_exits_3_with_a_clear_message_and_no_traceback(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    not_a_dir = tmp_path / "regular-file"
    not_a_dir.write_text("I am a file, not a Threadline home\n")
    args = [a if a != "." else str(tmp_path) for a in command]

    result = run_cli("--home", not_a_dir, *args, home=None)

    assert result.returncode == 3
    assert "cannot open the store" in result.stderr
    assert str(not_a_dir) in result.stderr
    assert "Traceback" not in result.stderr
    assert not_a_dir.read_text() == "I am a file, not a Threadline home\n"


@pytest.mark.sqlite_only
def test_the_store_is_created_owner_only(claude_tree: ClaudeTree, home: Path) -> None:
    result = run_cli("import", claude_tree.claude_home, home=home)

    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = sorted(home.iterdir())
    assert home / "threadline.db" in files
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name


# -- read models --------------------------------------------------------------------------


def test_rebuild_gives_the_same_rows_as_incremental_maintenance(
    claude_tree: ClaudeTree, tmp_path: Path, home: Path
) -> None:
    # Every kind of event: imports, an append, a rewrite and an inline sidechain.
    import_json(claude_tree.claude_home, home=home)
    grown, rewritten = claude_tree.sessions[0], claude_tree.sessions[1]
    grown.conversation.user("grow the first session")
    append_transcript(grown.path, grown.records[-1:])
    write_transcript(rewritten.path, rewritten.records[:3])
    side = Conversation(session_uuid("side"), is_sidechain=True)
    side.user("an inline sub-agent")
    write_transcript(
        claude_tree.projects / "-proj" / f"{side.session_id}.jsonl",
        [*one_session("host").records, *side.records],
    )
    report = import_json(claude_tree.claude_home, home=home)
    assert sorted(s["outcome"] for s in report["sources"]) == [
        "appended",
        "imported",
        "replaced",
        "skipped",
    ]
    incremental = read_model_rows(home)

    result = run_cli("rebuild", home=home)

    assert result.returncode == 0, result.stderr
    assert read_model_rows(home) == incremental
    assert len(incremental["threads"]) == len(claude_tree.sessions) + 2
    assert len(incremental["ledger"]) == len(claude_tree.sessions) + 1
