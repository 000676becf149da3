"""``threadline serve`` in a real browser: a real server process on a store imported from
real transcript files (the shipped samples and a long generated session), on both stores."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import REPO, run_cli, store_described
from web_support import (
    BIG_OUTPUT_CHARS,
    FAR_POSITION_WORD,
    SCREENSHOTS,
    Server,
    browser,
    fetch,
    imported_home,
    page,
    serving,
    thread_id,
)

__all__ = ["browser", "page"]  # fixtures, used by name

FIX = "Fix stale forecast cache after midnight"
SUB = "Find every use of date.today() and datetime.now() without a tz."
HOURLY = "Hourly forecast endpoint"
WORKBENCH = "Make the test suite fast again"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path]]:
    root = tmp_path_factory.mktemp(f"web-{request.param}").resolve()
    home = imported_home(root, request.param, request)
    with serving(home) as server:
        yield server, home


def titles(page: Any) -> list[str]:
    return page.locator("table.threads .c-title > a").all_inner_texts()


def test_list_is_newest_first_with_sub_agents_under_their_parent(site: Any, page: Any) -> None:
    server, _ = site
    page.goto(server.url)
    assert titles(page) == [WORKBENCH, HOURLY, FIX, SUB]
    sub_row = page.locator("tr.thread-row").nth(3)
    assert "sub" in (sub_row.get_attribute("class") or "")
    assert page.locator("table.threads th").all_inner_texts()[:3] == ["Title", "Id", "Project"]
    assert "/home/demo/src/weather-app" in page.locator("tr.thread-row").nth(1).inner_text()


def test_filter_by_project_and_time(site: Any, page: Any) -> None:
    server, _ = site
    page.goto(server.url)
    page.locator("details.filters > summary").click()
    page.fill("input[name=cwd]", "/home/demo/src/weather-app")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/?*cwd=*")
    assert titles(page) == [HOURLY, FIX, SUB]
    page.goto(server.at("/?until=2026-10-03"))
    assert titles(page) == [FIX, SUB]
    page.goto(server.at("/?since=not-a-time"))
    assert page.locator("p.error").is_visible()


def test_filter_by_agent_parent_and_archived(site: Any, page: Any) -> None:
    server, home = site
    page.goto(server.at(f"/?parent={thread_id(home, FIX)[:8]}"))
    assert titles(page) == [SUB]
    page.goto(server.at("/?agent=claude-code&archived=all"))
    assert titles(page) == [WORKBENCH, HOURLY, FIX, SUB]
    page.goto(server.at("/?agent=codex"))
    assert titles(page) == [] and "No threads match" in page.locator("p.empty").inner_text()
    page.goto(server.at("/?archived=only"))
    assert titles(page) == []  # nothing archives threads yet


def test_list_pages_by_cursor(site: Any, page: Any) -> None:
    server, _ = site
    page.goto(server.at("/?limit=2"))
    first = titles(page)
    page.click("#next-page")
    page.wait_for_url("**/?*cursor=*")  # read the next page's titles, not this one's again
    second = titles(page)
    assert first + second == [WORKBENCH, HOURLY, FIX, SUB]
    assert page.locator("#next-page").count() == 0


def test_search_lands_on_the_item_past_the_first_screen(site: Any, page: Any) -> None:
    server, home = site
    page.goto(server.url)
    page.keyboard.press("/")
    page.keyboard.type(FAR_POSITION_WORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    hit = page.locator("ol.results li").first
    assert hit.locator("mark").inner_text().lower() == FAR_POSITION_WORD
    href = hit.locator("a.hit").get_attribute("href")
    assert href is not None and href.startswith(f"/thread/{thread_id(home, WORKBENCH)}#item-")
    position = int(href.rsplit("-", 1)[1])
    assert position > 60  # beyond the first screen: the page must fetch up to it
    hit.locator("a.hit").click()
    target = page.locator(f"#item-{position}")
    target.wait_for(state="visible")
    assert FAR_POSITION_WORD in target.inner_text()
    assert target.evaluate(
        "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight }"
    )


def test_thread_page_pairs_folds_and_expands_tool_output(site: Any, page: Any) -> None:
    server, home = site
    response = page.goto(server.at(f"/thread/{thread_id(home, WORKBENCH)}"))
    assert len(response.body()) < BIG_OUTPUT_CHARS  # the big output is never inlined whole
    tool = page.locator("li.tool", has=page.locator(".tool-name", has_text="Bash")).first
    summary = tool.locator("summary")
    assert "KiB" in summary.inner_text()
    output = tool.locator(".tool-result pre.text")
    assert not output.is_visible()  # folded to one line
    summary.click()
    assert output.is_visible()
    shown = len(output.inner_text())
    assert shown < BIG_OUTPUT_CHARS
    tool.locator("button.load-rest").click()
    page.wait_for_function(
        "([e, n]) => e.textContent.length >= n",
        arg=[output.element_handle(), BIG_OUTPUT_CHARS],
    )
    assert tool.locator(".cut").count() == 0


def test_thinking_images_compaction_and_usage(site: Any, page: Any) -> None:
    server, home = site
    page.goto(server.at(f"/thread/{thread_id(home, WORKBENCH)}"))
    thinking = page.locator("li.thinking").first
    assert not thinking.locator("pre.text").is_visible()  # collapsed
    thinking.locator("summary").click()
    assert "fixtures change" in thinking.locator("pre.text").inner_text()
    shot = page.locator("li.tool", has=page.locator(".tool-name", has_text="Screenshot"))
    shot.locator("summary").click()
    image = shot.locator("img")
    image.wait_for(state="visible")
    page.wait_for_function("e => e.complete && e.naturalWidth === 24", arg=image.element_handle())
    assert page.locator("li.role-assistant .usage").first.inner_text().startswith("in ")
    page.goto(server.at(f"/thread/{thread_id(home, HOURLY)}"))
    boundary = page.locator("li.compaction")
    assert boundary.count() >= 1
    assert "compact" in boundary.first.inner_text().lower()


def test_sub_agent_opens_in_place(site: Any, page: Any) -> None:
    server, home = site
    url = server.at(f"/thread/{thread_id(home, FIX)}")
    page.goto(url)
    box = page.locator(".subagent")
    assert box.locator(".sub-title").inner_text() == SUB
    items = box.locator(".sub-items")
    assert not items.is_visible()
    box.locator("button.open-sub").click()
    items.wait_for(state="visible")
    assert SUB in items.inner_text()
    assert page.url == url


def test_permalink_past_the_first_screen_survives_reload(site: Any, page: Any) -> None:
    server, home = site
    page.goto(server.at(f"/thread/{thread_id(home, WORKBENCH)}#item-101"))
    target = page.locator("#item-101")
    target.wait_for(state="visible")
    page.reload()
    # Checked in the page itself: after a reload, Playwright's own visibility wait can
    # stall in this Chromium while the page is fine.
    page.wait_for_function(
        "() => { const e = document.getElementById('item-101');"
        " if (!e) return false; const r = e.getBoundingClientRect();"
        " return r.height > 0 && r.top >= 0 && r.top < innerHeight }"
    )


def test_a_page_of_items_that_fails_to_load_is_not_asked_for_in_a_loop(
    site: Any, page: Any
) -> None:
    """The page asks again only after a page of items has arrived: asking again on
    nothing loaded (a failed request, or the moment between a response's headers and
    its items) spun without end and hung the tab, as a reload with a permalink did."""
    server, home = site
    asked: list[str] = []
    page.route("**/items?*", lambda route: (asked.append(route.request.url), route.abort()))
    page.goto(server.at(f"/thread/{thread_id(home, WORKBENCH)}"))
    page.locator("#more").scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    assert 1 <= len(asked) <= 2, f"{len(asked)} requests"
    assert page.locator("#more").is_visible()  # still there to click


def test_scrolling_loads_the_rest_of_a_long_thread(site: Any, page: Any) -> None:
    server, home = site
    page.goto(server.at(f"/thread/{thread_id(home, WORKBENCH)}"))
    count = page.locator("#items > li").count()
    page.locator("#more").scroll_into_view_if_needed()
    page.wait_for_function("n => document.querySelectorAll('#items > li').length > n", arg=count)
    page.wait_for_function("() => document.getElementById('items').dataset.next === ''")
    last = page.locator("#items > li").last
    assert "database per test" in last.inner_text() or "custom title" in last.inner_text().lower()


def test_keyboard_j_k_o_and_slash(site: Any, page: Any) -> None:
    server, home = site
    page.goto(server.at(f"/thread/{thread_id(home, FIX)}"))
    page.keyboard.press("j")
    page.keyboard.press("j")
    focused = page.locator(".item.focused")
    assert focused.count() == 1 and focused.get_attribute("id") == "item-1"
    page.keyboard.press("k")
    assert page.locator(".item.focused").get_attribute("id") == "item-0"
    for _ in range(5):
        page.keyboard.press("j")
    tool = page.locator(".item.focused")
    assert tool.get_attribute("id") == "item-5"
    assert "tool" in (tool.get_attribute("class") or "")
    assert tool.locator("details").first.get_attribute("open") is None
    page.keyboard.press("o")
    assert tool.locator("details").first.get_attribute("open") is not None
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search-box"


def test_keyboard_on_the_list_opens_the_focused_thread(site: Any, page: Any) -> None:
    server, home = site
    page.goto(server.url)
    for _ in range(3):
        page.keyboard.press("j")
    focused = page.locator("tr.focused")
    assert focused.locator(".c-title > a").inner_text() == FIX
    page.keyboard.press("o")
    page.wait_for_url(f"**/thread/{thread_id(home, FIX)}")
    assert page.locator("h1").inner_text() == FIX


def test_dark_mode_and_narrow_screen(site: Any, browser: Any) -> None:
    server, home = site
    context = browser.new_context(viewport={"width": 375, "height": 800}, color_scheme="dark")
    narrow = context.new_page()
    narrow.goto(server.at(f"/thread/{thread_id(home, FIX)}"))
    background = narrow.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(21, 23, 27)"
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375
    narrow.goto(server.url)
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_screenshots(browser: Any, request: pytest.FixtureRequest) -> None:
    """The list and a thread at 1280 and 375 px, for the README (docs/screenshots/), from a
    store in a fixed place: the same paths and thread ids give the same pictures each run."""
    root = Path(tempfile.gettempdir()) / "threadline-screenshots"
    shutil.rmtree(root, ignore_errors=True)
    home = imported_home(root, "sqlite", request)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serving(home) as server:
        for width in (1280, 375):
            context = browser.new_context(viewport={"width": width, "height": 900})
            shot = context.new_page()
            shot.goto(server.url)
            shot.screenshot(path=str(SCREENSHOTS / f"list-{width}.png"), full_page=True)
            shot.goto(server.at(f"/thread/{thread_id(home, FIX)}"))
            shot.locator("li.tool summary").first.click()
            shot.locator("button.open-sub").click()
            shot.locator(".sub-items").wait_for(state="visible")
            shot.evaluate("() => window.scrollTo(0, 0)")
            shot.screenshot(path=str(SCREENSHOTS / f"thread-{width}.png"), full_page=True)
            context.close()
    shutil.rmtree(root, ignore_errors=True)
    for name in ("list-1280", "list-375", "thread-1280", "thread-375"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 5000


# -- the server itself, without a browser ------------------------------------------------


def test_read_only_with_a_strict_content_security_policy(site: Any) -> None:
    server, home = site
    status, headers, _ = fetch(server.url)
    assert status == 200
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert fetch(server.at(f"/thread/{thread_id(home, FIX)}"), method)[0] == 405
    # A page another site's DNS points at this port (DNS rebinding) is refused.
    assert fetch(server.url, headers={"Host": "evil.example:80"})[0] == 400


def test_item_text_pages_and_streams(site: Any) -> None:
    server, home = site
    workbench = thread_id(home, WORKBENCH)
    items = run_cli("show", workbench, "--json", home=home).json()["items"]
    big = next(i for i in items if i["type"] == "tool_result" and len(i["output"]) > 100_000)
    base = server.at(f"/thread/{workbench}/item/{big['position']}/text?part=0")
    status, headers, first = fetch(base + "&offset=0")
    assert status == 200 and int(headers["x-total-chars"]) >= BIG_OUTPUT_CHARS
    status, _, whole = fetch(base + "&all=1")
    assert len(whole) == int(headers["x-total-chars"])
    assert whole.startswith(first[:1000])


def test_on_postgresql_requests_share_kept_connections(site: Any) -> None:
    """The app keeps its PostgreSQL connections between requests (a pool), rather than
    connecting for each one; SQLite opens its file per request (~0.4 ms)."""
    server, home = site
    url = store_described(home)
    paths = ("/", f"/thread/{thread_id(home, FIX)}", "/search?q=forecast")
    if not url.startswith("postgresql"):
        for path in paths:
            assert fetch(server.at(path))[0] == 200
        fds = Path(f"/proc/{server.process.pid}/fd")
        held = [os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink()]
        assert held and not [f for f in held if Path(f).name.startswith("threadline.db")], held
        return

    def the_apps_connections() -> set[int]:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        return {pid for (pid,) in rows}

    assert fetch(server.url)[0] == 200
    kept = the_apps_connections()
    for path in paths:
        assert fetch(server.at(path))[0] == 200
    assert kept and the_apps_connections() == kept


def test_open_opens_the_page_in_a_browser(site: Any, tmp_path: Path) -> None:
    """``--open`` hands the URL to the user's browser (``$BROWSER``, here a recorder)."""
    _, home = site
    opened = tmp_path / "opened.txt"
    recorder = f"{sys.executable} -c \"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\""
    with serving(home, "--open", env={"BROWSER": recorder + " %s"}) as server:
        for _ in range(100):
            if opened.exists() and opened.read_text():
                break
            time.sleep(0.1)
        assert opened.read_text() == server.url
        assert fetch(server.url)[0] == 200


def test_a_thread_page_says_what_the_thread_continues_and_that_it_is_archived(
    site: Any, tmp_path: Path
) -> None:
    """Last in this module: it adds a thread (a rollout Codex's importer made from the
    sample session, which continues that session's thread) and archives it."""
    server, home = site
    codex_home = tmp_path / "codex-home"
    shutil.copytree(REPO / "tests" / "fixtures" / "codex" / "real" / "claude-import", codex_home)
    assert run_cli("import", codex_home, home=home).returncode == 0
    (made,) = [
        r
        for r in run_cli("threads", "--json", "--all", home=home).json()
        if r["source_agent"] == "codex"
    ]
    assert run_cli("archive", made["thread_id"], home=home).returncode == 0

    status, _, page_bytes = fetch(server.at(f"/thread/{made['thread_id']}"))
    body = page_bytes.decode()

    assert status == 200
    assert f'<dt>Continues</dt><dd><a href="/thread/{thread_id(home, HOURLY)}">' in body
    assert "<dt>Archived</dt>" in body
