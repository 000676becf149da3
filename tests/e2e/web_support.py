"""What the web tests share: a store imported from real transcript files, a real
``threadline serve`` process on it, and Chromium driven by Playwright.

Imported by the ``test_web_*`` modules (``from web_support import ...``); the fixtures
they use are imported into each module by name.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
import subprocess
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    REPO,
    Conversation,
    cli_command,
    cli_env,
    run_cli,
    session_uuid,
    slug,
    store_on_postgres,
    thinking,
)

CHROMIUM = os.environ.get("THREADLINE_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO / "docs" / "screenshots"
SAMPLES = REPO / "samples" / "claude"
CWD = "/nonexistent-threadline-tests/workbench"
BIG_OUTPUT_CHARS = 120_000
"""A tool output well over what a page inlines (``present.INLINE_CHARS``)."""
FAR_POSITION_WORD = "quetzalcoatl"
"""Said once, in a prompt far past the first screen of the workbench thread."""


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    """One HTTP request without a browser: (status, headers, body), error statuses too."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def png(width: int = 24, height: int = 16, rgb: tuple[int, int, int] = (43, 95, 217)) -> bytes:
    """A small solid PNG, made by hand (no imaging library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def big_output() -> str:
    lines = [f"line {n:06d}: collected test_module_{n % 97}.py::test_case_{n}" for n in range(3000)]
    text = "\n".join(lines)
    return (text + "\n") * (BIG_OUTPUT_CHARS // len(text) + 1)


def workbench(projects: Path) -> Path:
    """A long session: thinking, tools with a big output and an image, 150-odd items, and a
    rare word far past the first screen."""
    sid = session_uuid("workbench")
    convo = Conversation(
        sid, cwd=CWD, git_branch="main", start=datetime(2026, 10, 20, 9, tzinfo=UTC)
    )
    convo.user("Make the test suite fast again")
    convo.assistant(thinking("The suite got slow after the fixtures change."), "Let me look.")
    convo.tool_turn("Bash", {"command": "pytest -q --durations=5"}, big_output())
    call = f"toolu_{sid[:8]}_shot"
    convo.assistant(
        "A screenshot of the report:",
        {"type": "tool_use", "id": call, "name": "Screenshot", "input": {"url": "report.html"}},
    )
    image = base64.b64encode(png()).decode()
    convo.tool_result(
        call,
        [
            {"type": "text", "text": "captured report.html"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": image},
            },
        ],
    )
    for n in range(40):
        convo.tool_turn("Read", {"file_path": f"/src/app/module_{n}.py"}, f"def f{n}(): pass\n")
    convo.user(f"Also check the {FAR_POSITION_WORD} fixture while you are there")
    convo.assistant("Checked: it was creating a database per test.")
    convo.custom_title("Make the test suite fast again")
    return convo.write(projects / slug(CWD) / f"{sid}.jsonl")


def make_tree(root: Path) -> Path:
    """The shipped samples (a sub-agent, a compaction) plus the workbench session."""
    projects = root / ".claude" / "projects"
    shutil.copytree(SAMPLES / "projects", projects)
    workbench(projects)
    return projects


# -- a running server -------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    stderr_head: str

    def at(self, path: str) -> str:
        return self.url.rstrip("/") + path


@contextmanager
def serving(home: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``threadline serve --port 0 ARGS`` on ``home``'s store, until the block ends."""
    process = subprocess.Popen(
        cli_command("serve", "--port", "0", *args),
        cwd=REPO,
        env=cli_env(home, env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    head = ""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            head += line
            found = re.search(r"serving (http://\S+)", line)
            if found:
                yield Server(found.group(1), process, head)
                return
        raise AssertionError(f"threadline serve did not start: {head}")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def imported_home(root: Path, store_kind: str, request: pytest.FixtureRequest) -> Path:
    home = root / "threadline-home"
    if store_kind == "postgres":
        store_on_postgres(home, request)
    done = run_cli("import", make_tree(root), home=home)
    assert done.returncode == 0, done.stderr
    return home


def thread_id(home: Path, title: str) -> str:
    rows = run_cli("threads", "--json", "--all", home=home).json()
    return next(r["thread_id"] for r in rows if r["title"] == title)


# -- the browser ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module, stopped at its end: Playwright's sync API keeps an
    event loop running while it is started, which other tests' ``asyncio.run`` cannot
    share (and each module that imports this fixture gets one of its own)."""
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (1280 by 900) that fails the test on any script error or dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    opened.problems = problems
    yield opened
    context.close()
    assert not problems, problems
