"""An open thread page shows a growing thread's new items without a reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Conversation, append_transcript, run_cli, session_uuid
from web_support import browser, page, serving, thread_id

__all__ = ["browser", "page"]  # fixtures, used by name

pytestmark = pytest.mark.both_stores


def test_a_growing_thread_updates_the_open_page(home: Path, tmp_path: Path, page: Any) -> None:
    convo = Conversation(session_uuid("growing"))
    convo.user("Watch the deploy")
    convo.assistant("Watching.")
    path = convo.write(tmp_path / "projects" / "-app" / f"{convo.session_id}.jsonl")
    assert run_cli("import", path, home=home).returncode == 0
    with serving(home) as server:
        page.goto(server.at(f"/thread/{thread_id(home, 'Watch the deploy')}"))
        page.evaluate("() => { window.__sameDocument = true }")
        assert page.locator("#item-count").inner_text() == "2"
        before = len(convo.records)
        convo.tool_turn("Bash", {"command": "kubectl rollout status"}, "deployment rolled out")
        convo.assistant("The deploy finished: all 3 replicas are ready.")
        append_transcript(path, convo.records[before:])
        done = run_cli("import", path, home=home)
        assert done.returncode == 0, done.stderr
        page.get_by_text("all 3 replicas are ready").wait_for(timeout=15_000)
        assert page.evaluate("() => window.__sameDocument") is True  # not reloaded
        assert page.locator("#item-count").inner_text() == "6"
        assert page.locator("#items .fresh").count() >= 3
        assert page.locator("#items > li.tool .tool-name").inner_text() == "Bash"

        # A call whose result comes in a later import: the result joins its call.
        before = len(convo.records)
        call_id = f"toolu_{convo.session_id[:8]}_late"
        convo.assistant(
            "Checking the pods.",
            {"type": "tool_use", "id": call_id, "name": "Pods", "input": {"ns": "prod"}},
        )
        append_transcript(path, convo.records[before:])
        assert run_cli("import", path, home=home).returncode == 0
        call = page.locator("li.tool", has=page.locator(".tool-name", has_text="Pods"))
        call.wait_for(timeout=15_000)
        assert "no result yet" in call.locator("summary .size").inner_text()
        before = len(convo.records)
        convo.tool_result(call_id, "3 pods running")
        append_transcript(path, convo.records[before:])
        assert run_cli("import", path, home=home).returncode == 0
        page.wait_for_function(
            "e => e.querySelector('.tool-result') !== null",
            arg=call.element_handle(),
            timeout=15_000,
        )
        assert "result" in call.locator("summary .size").inner_text()
        call.locator("summary").click()
        assert call.locator(".tool-result pre.text").inner_text() == "3 pods running"
        assert page.locator("#items > li[data-result-for]").count() == 0
        assert page.locator("#item-count").inner_text() == "9"
