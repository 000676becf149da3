"""Hostile transcript content runs no script, in the served pages or the exported file;
a bind off loopback needs the token; nothing but GET and HEAD."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Conversation, run_cli, session_uuid
from web_support import Server, browser, fetch, page, serving, thread_id

__all__ = ["browser", "page"]  # fixtures, used by name

FLAG = "window.__pwned=1"
SCRIPT = f"<script>{FLAG};alert('script')</script>"
IMG = f'"><img src=x onerror="{FLAG};alert(\'img\')">'
LINKS = f"[click me](javascript:{FLAG}) <a href=\"javascript:{FLAG};alert('a')\">a link</a>"
TEXTAREA = f"</textarea><script>{FLAG}</script><textarea>"
SVG = f'<svg onload="{FLAG}"></svg><iframe srcdoc="<script>parent.{FLAG}</script>">'
TITLE = f"Hostile {SCRIPT} title {IMG}"
PROJECT = f"-tmp-{IMG.replace('/', '')}"
"""A project directory (a file name on disk) that is itself a payload."""


def hostile_tree(root: Path) -> Path:
    projects = root / ".claude" / "projects"
    sid = session_uuid("hostile")
    convo = Conversation(sid, cwd=f"/tmp/{SCRIPT.replace('/', '')}")
    convo.user(f"pwned prompt {SCRIPT} {IMG} {LINKS} {TEXTAREA} {SVG}")
    convo.assistant(f"pwned reply {LINKS} {IMG}")
    convo.tool_turn("Write", {"file_path": f"/src/{IMG}.py", "content": TEXTAREA}, f"pwned {SVG}")
    convo.tool_turn(f"Tool{IMG}", {"url": f"javascript:{FLAG}"}, f"pwned output {SCRIPT} {LINKS}")
    convo.custom_title(TITLE)
    convo.write(projects / PROJECT / f"{sid}.jsonl")
    return projects


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    root = tmp_path_factory.mktemp("hostile").resolve()
    home = root / "home"
    done = run_cli("import", hostile_tree(root), home=home)
    assert done.returncode == 0, done.stderr
    with serving(home) as server:
        yield server, home


def assert_no_script_ran(page: Any) -> None:
    """Every fold opened, then: no flag, no dialog (the ``page`` fixture fails on one), no
    element a payload would have made, and only our own script."""
    page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    page.wait_for_timeout(300)  # an onerror fires when its image fails to load
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("a[href^='javascript:'], img[src='x'], svg, iframe, textarea").count() == 0
    assert page.evaluate("() => document.scripts.length") == 1
    assert not page.problems


def test_hostile_pages_run_no_script(hostile: Any, page: Any) -> None:
    server, home = hostile
    page.goto(server.url)
    assert page.locator("table.threads .c-title > a").inner_text() == TITLE
    assert_no_script_ran(page)
    page.goto(server.at(f"/thread/{thread_id(home, TITLE)}"))
    assert page.locator("h1").inner_text() == TITLE
    assert SCRIPT in page.locator("#items").inner_text()
    assert_no_script_ran(page)
    assert IMG in page.locator(".tool-name").nth(1).inner_text()
    page.goto(server.at("/search?q=pwned"))
    assert page.locator("ol.results li").count() >= 3
    assert_no_script_ran(page)
    page.goto(server.at("/?cwd=" + urllib.request.quote(f"/tmp/{SCRIPT.replace('/', '')}")))
    assert_no_script_ran(page)


def test_hostile_export_runs_no_script(hostile: Any, page: Any, tmp_path: Path) -> None:
    _, home = hostile
    out = tmp_path / "hostile.html"
    done = run_cli("export", thread_id(home, TITLE), "--format", "html", "-o", out, home=home)
    assert done.returncode == 0, done.stderr
    page.goto(out.as_uri())
    assert page.locator("h1").inner_text() == TITLE
    assert_no_script_ran(page)


def test_the_script_flag_would_catch_a_script(hostile: Any, page: Any) -> None:
    """The check above can fail: a page that does run the payload trips it."""
    page.set_content(f"<p>{IMG}</p>")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") == 1
    page.problems.clear()  # the alert it raised is this test's point


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def test_off_loopback_needs_the_token(hostile: Any) -> None:
    _, home = hostile
    with serving(home, "--host", "0.0.0.0") as server:
        assert "warning" in server.stderr_head and "not a loopback address" in server.stderr_head
        token = re.search(r"token=([\w-]+)", server.url)
        assert token is not None
        port = re.search(r":(\d+)/", server.url)
        assert port is not None
        base = f"http://127.0.0.1:{port.group(1)}"
        assert fetch(base + "/")[0] == 401
        assert fetch(base + "/?token=wrong")[0] == 401
        assert fetch(base + "/", headers={"X-Threadline-Token": token.group(1)})[0] == 200
        auth = {"Authorization": f"Bearer {token.group(1)}"}
        assert fetch(base + "/", headers=auth)[0] == 200
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(f"{base}/?token={token.group(1)}", timeout=10)
            raise AssertionError("expected a redirect that sets the cookie")
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 303
            cookie = redirect.headers["Set-Cookie"].split(";")[0]
            assert "HttpOnly" in redirect.headers["Set-Cookie"]
        assert fetch(base + "/", headers={"Cookie": cookie})[0] == 200
        assert fetch(base + "/", "POST", headers={"Cookie": cookie})[0] == 405


def test_loopback_serves_without_a_token(hostile: Any) -> None:
    server, _ = hostile
    assert "token" not in server.url and "warning" not in server.stderr_head
    assert server.url.startswith("http://127.0.0.1:")
    assert fetch(server.url)[0] == 200
