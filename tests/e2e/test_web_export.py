"""``threadline export``: the HTML file opened from disk shows the thread page, with no
network; Markdown and JSON are ``show``'s documents, sub-agent threads where spawned."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from web_support import BIG_OUTPUT_CHARS, browser, imported_home, page, thread_id

__all__ = ["browser", "page"]  # fixtures, used by name

FIX = "Fix stale forecast cache after midnight"
SUB = "Find every use of date.today() and datetime.now() without a tz."
WORKBENCH = "Make the test suite fast again"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(f"export-{request.param}").resolve()
    return imported_home(root, request.param, request)


def export(home: Path, title: str, *args: str) -> str:
    done = run_cli("export", thread_id(home, title), *args, home=home)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def offline(page: Any) -> Iterator[Any]:
    """The page, recording every request it makes: an export must make none but file: and
    data: ones."""
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.requests = requests
    yield page
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


def test_html_export_opens_from_disk(store: Path, tmp_path: Path, offline: Any) -> None:
    out = tmp_path / "fix.html"
    export(store, FIX, "--format", "html", "-o", str(out))
    offline.goto(out.as_uri())
    assert offline.locator("h1").inner_text() == FIX
    policy = offline.locator("meta[http-equiv=Content-Security-Policy]").get_attribute("content")
    assert policy is not None and "default-src 'none'" in policy
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy
    tool = offline.locator("li.tool").first
    tool.locator("summary").first.click()
    assert "cache_key" in tool.locator(".tool-result pre.text").inner_text()
    sub = offline.locator(".subagent")
    assert sub.locator(".sub-title").inner_text() == SUB
    sub.locator("summary").click()
    assert "Two naive calls" in sub.locator(".sub-items").inner_text()
    offline.keyboard.press("j")
    assert offline.locator(".item.focused").count() == 1
    offline.goto(out.as_uri() + "#item-10")
    assert offline.locator("#item-10").evaluate("e => e.getBoundingClientRect().top < innerHeight")


def test_html_export_inlines_images_and_whole_outputs(
    store: Path, tmp_path: Path, offline: Any
) -> None:
    out = tmp_path / "workbench.html"
    export(store, WORKBENCH, "--format", "html", "-o", str(out))
    offline.goto(out.as_uri())
    count = run_cli("threads", "--json", home=store).json()[0]["item_count"]
    assert offline.locator("#items [data-pos]").count() == count  # every item, no paging
    shot = offline.locator("li.tool", has=offline.locator(".tool-name", has_text="Screenshot"))
    shot.locator("summary").click()
    image = shot.locator("img")
    assert (image.get_attribute("src") or "").startswith("data:image/png;base64,")
    offline.wait_for_function(
        "e => e.complete && e.naturalWidth === 24", arg=image.element_handle()
    )
    bash = offline.locator("li.tool", has=offline.locator(".tool-name", has_text="Bash")).first
    assert len(bash.locator(".tool-result pre.text").text_content() or "") >= BIG_OUTPUT_CHARS
    assert bash.locator(".cut").count() == 0


def test_no_subagents_leaves_them_out(store: Path) -> None:
    html = export(store, FIX, "--format", "html", "--no-subagents")
    assert 'class="subagent"' not in html and 'id="sub-' not in html
    assert 'id="sub-' in export(store, FIX, "--format", "html")


def test_markdown_is_shows_and_adds_sub_agents_where_spawned(store: Path) -> None:
    shown = run_cli("show", thread_id(store, FIX), "--markdown", home=store).stdout
    assert export(store, FIX, "--format", "markdown", "--no-subagents") == shown
    with_subs = export(store, FIX, "--format", "markdown")
    task = with_subs.index("→ Task")
    nested = with_subs.index("> **sub-agent thread**")
    after = with_subs.index("The cache key uses the server's local date")
    assert task < nested < after
    child = run_cli("show", thread_id(store, SUB), "--markdown", home=store).stdout
    quoted = "\n".join(("> " + line).rstrip() for line in child.splitlines())
    block = f"\n> **sub-agent thread**\n>\n{quoted}\n"
    assert f"> # {SUB}" in block
    assert with_subs.replace(block, "", 1) == shown


def test_json_is_shows_document_with_sub_agents(store: Path, tmp_path: Path) -> None:
    fix = thread_id(store, FIX)
    shown = run_cli("show", fix, "--json", home=store).json()
    assert json.loads(export(store, FIX, "--format", "json", "--no-subagents")) == shown
    out = tmp_path / "fix.json"
    export(store, FIX, "--format", "json", "-o", str(out))
    document = json.loads(out.read_text())
    assert {k: v for k, v in document.items() if k != "subagents"} == shown
    (child,) = document["subagents"]
    assert child["thread"]["title"] == SUB
    assert child["thread"]["spawned_by_call_id"] == "toolu_02"
    assert child["thread"]["parent_thread_id"] == fix
    assert child["items"][0]["parts"] == [SUB]


def test_export_of_an_unknown_thread_fails(store: Path) -> None:
    done = run_cli("export", "ffffffff", home=store)
    assert done.returncode == 1 and "no thread" in done.stderr
