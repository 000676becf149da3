#!/usr/bin/env python3
"""Web benchmark (issue #14): ``threadline serve`` over HTTP, and first paint in Chromium.

    python bench/web_bench.py [--keep DIR] [--runs N] [--loads N] [--database-url URL]

Stores (generated and imported once; kept in DIR with ``--keep``):

- many-lines: ``../shared/bench/gen_claude_fixture.py H 50 240 42 --max-tool-kib 8``
  (~240 MiB, ~67.6k lines, 597 threads with the sub-agents), its search index built;
- thousand: ``gen_claude_fixture.py H 1000 20 7`` (1,000 sessions);
- on PostgreSQL, each database vacuumed and analysed once imported (``vacuum``).

Against a real ``threadline serve`` process on each (whole requests over HTTP, one
keep-alive connection, after a warm-up), medians over ``--runs``:

- the thread list: the first page (100 rows) and one page with all 1,000+ threads;
- a search result page, for words from rare to the most common;
- the first screen of the thread closest to 2,400 items (and of the largest one);
- first contentful paint of that thread page in Chromium (``performance`` entries);
- the server's RSS before and after ``--loads`` (default 1,000) mixed page loads.

"server" is the app's own time (its ``Server-Timing`` header: request in, response
headers out, the page rendered); "request" the whole request as the client saw it.
Targets: list ≤ 100 ms, search ≤ 150 ms, first screen ≤ 200 ms server time, ≤ 1 s to
first paint. One JSON line is appended to ``bench/results/web.jsonl``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO.parent / "shared" / "bench" / "gen_claude_fixture.py"
RESULTS = REPO / "bench" / "results" / "web.jsonl"
QUERIES = ("zanzibar", "rollout ledger", "error", "path")
TARGETS = {"list_ms": 100, "search_ms": 150, "thread_first_screen_ms": 200, "first_paint_ms": 1000}
CLI = (sys.executable, "-m", "threadline.adapters.cli.main")
CHROMIUM = os.environ.get("THREADLINE_TEST_CHROMIUM", "/usr/bin/chromium")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


DATABASES: dict[Path, str] = {}
"""A store's PostgreSQL database, with ``--database-url`` (else its home's SQLite file)."""


def where(home: Path) -> list[str]:
    url = DATABASES.get(home)
    return ["--home", str(home), *(["--database-url", url] if url else [])]


def threadline(home: Path, *args: str) -> str:
    done = subprocess.run(
        [*CLI, *where(home), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"threadline {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def store(root: Path, name: str, *gen_args: str, admin_url: str | None = None) -> Path:
    tree, home = root / name, root / f"{name}-store"
    if not (tree / ".claude").is_dir():
        log(f"generating {name}: gen_claude_fixture.py H {' '.join(gen_args)}")
        subprocess.run([sys.executable, str(GENERATOR), str(tree), *gen_args], check=True)
    done = home / "threadline.db"
    if admin_url is not None:
        DATABASES[home] = postgres_database(
            admin_url, "threadline_webbench_" + name.replace("-", "_")
        )
        home.mkdir(parents=True, exist_ok=True)
        done = home / "imported-to-postgres"
    if not done.exists():
        log(f"importing {name}")
        threadline(home, "import", str(tree / ".claude"))
        threadline(home, "project")  # the search index too
        if admin_url is not None:
            vacuum(DATABASES[home])
            done.touch()
    return home


def vacuum(url: str) -> None:
    """``VACUUM (ANALYZE)`` the database, as autovacuum does soon after a bulk load on a
    server that runs it (the one here runs with ``autovacuum = off``): without it the
    first searches set hint bits on every page they read, and plans guess row counts."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def postgres_database(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin_url``, created if missing
    (kept for the next run, like ``--keep``'s files)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not found:
            conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


@contextmanager
def serve(home: Path) -> Iterator[tuple[str, int, int]]:
    """(host, port, pid) of a ``threadline serve`` on ``home``."""
    process = subprocess.Popen(
        [*CLI, *where(home), "serve", "--port", "0"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"http://([\d.]+):(\d+)/", line)
    if not found:
        process.kill()
        raise SystemExit(f"threadline serve did not start: {line}")
    try:
        yield found.group(1), int(found.group(2)), process.pid
    finally:
        process.terminate()
        process.wait(10)


class Client:
    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def get(self, path: str) -> tuple[float, float, int]:
        """(server ms, request ms, body bytes)."""
        started = time.perf_counter()
        try:
            self.conn.request("GET", path)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            self.conn.close()  # the server closed an idle keep-alive connection
            started = time.perf_counter()
            self.conn.request("GET", path)
            response = self.conn.getresponse()
        body = response.read()
        took = (time.perf_counter() - started) * 1000
        if response.status not in (200, 204):
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        timing = re.search(r"dur=([\d.]+)", response.headers.get("server-timing", ""))
        return float(timing.group(1)) if timing else took, took, len(body)


def timed(client: Client, path: str, runs: int) -> dict[str, Any]:
    client.get(path)  # warm
    samples = [client.get(path) for _ in range(runs)]
    return {
        "server_ms": round(statistics.median(s[0] for s in samples), 1),
        "request_ms": round(statistics.median(s[1] for s in samples), 1),
        "bytes": samples[0][2],
    }


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+)", status)
    return int(found.group(1)) if found else 0


def first_paint(url: str, runs: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    paints, loaded = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for _ in range(runs + 1):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url, wait_until="load")
            page.wait_for_function(
                "() => performance.getEntriesByName('first-contentful-paint').length > 0"
            )
            paints.append(
                page.evaluate(
                    "() => performance.getEntriesByName('first-contentful-paint')[0].startTime"
                )
            )
            loaded.append(
                page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
            )
            page.close()
        browser.close()
    return {
        "first_paint_ms": round(statistics.median(paints[1:]), 1),
        "load_ms": round(statistics.median(loaded[1:]), 1),
    }


def bench(root: Path, runs: int, loads: int, admin_url: str | None) -> dict[str, Any]:
    many = store(root, "many-lines", "50", "240", "42", "--max-tool-kib", "8", admin_url=admin_url)
    thousand = store(root, "thousand", "1000", "20", "7", admin_url=admin_url)
    figures: dict[str, Any] = {"store": "postgres" if admin_url else "sqlite"}

    with serve(thousand) as (host, port, _):
        client = Client(host, port)
        figures["list_first_page"] = timed(client, "/", runs)
        figures["list_1000_threads"] = timed(client, "/?limit=1000", runs)
        log(f"list, first page (100 rows): {figures['list_first_page']}")
        log(f"list, all threads on one page (1,000+ rows): {figures['list_1000_threads']}")

    rows = json.loads(threadline(many, "threads", "--json", "--all"))
    target = min(rows, key=lambda r: abs(r["item_count"] - 2400))
    largest = max(rows, key=lambda r: r["item_count"])
    with serve(many) as (host, port, pid):
        client = Client(host, port)
        figures["search"] = {q: timed(client, f"/search?q={quote(q)}", runs) for q in QUERIES}
        for q, shown in figures["search"].items():
            log(f"search {q!r}: {shown}")
        path = f"/thread/{target['thread_id']}"
        figures["thread_items"] = target["item_count"]
        figures["thread_first_screen"] = timed(client, path, runs)
        log(
            f"thread of {target['item_count']} items, first screen: "
            f"{figures['thread_first_screen']}"
        )
        figures["largest_thread_items"] = largest["item_count"]
        biggest = f"/thread/{largest['thread_id']}"
        figures["largest_thread_first_screen"] = timed(client, biggest, runs)
        log(
            f"thread of {largest['item_count']} items, first screen: "
            f"{figures['largest_thread_first_screen']}"
        )
        figures["next_page_200_items"] = timed(client, f"{path}/items?from=60&limit=200", runs)
        log(f"the next 200 items (scrolling): {figures['next_page_200_items']}")
        figures["live_poll"] = timed(client, f"{path}/items?from={target['item_count']}", runs)
        log(f"a live poll with nothing new: {figures['live_poll']}")
        if Path(CHROMIUM).exists():
            figures["chromium"] = first_paint(f"http://{host}:{port}{path}", runs)
            log(f"Chromium, that thread page: {figures['chromium']}")

        mix = ["/", path, f"/search?q={quote('rollout ledger')}", f"{path}/items?from=60"]
        for n in range(50):
            client.get(mix[n % len(mix)])
        before = rss_kib(pid)
        started = time.perf_counter()
        for n in range(loads):
            client.get(mix[n % len(mix)])
        elapsed = time.perf_counter() - started
        after = rss_kib(pid)
        figures["memory"] = {
            "loads": loads,
            "rss_before_mib": round(before / 1024, 1),
            "rss_after_mib": round(after / 1024, 1),
            "growth_mib": round((after - before) / 1024, 1),
            "loads_per_s": round(loads / elapsed, 1),
        }
        log(f"server memory over {loads} page loads: {figures['memory']}")
    return figures


def verdict(figures: dict[str, Any]) -> list[str]:
    worst_search = max(s["server_ms"] for s in figures["search"].values())
    checks = [
        ("list page, 1,000 threads", figures["list_1000_threads"]["server_ms"], "list_ms"),
        ("search result page (worst word)", worst_search, "search_ms"),
        (
            f"first screen of a {figures['thread_items']}-item thread",
            figures["thread_first_screen"]["server_ms"],
            "thread_first_screen_ms",
        ),
    ]
    if "chromium" in figures:
        checks.append(
            ("first paint in Chromium", figures["chromium"]["first_paint_ms"], "first_paint_ms")
        )
    lines = []
    for label, value, key in checks:
        ok = "ok" if value <= TARGETS[key] else "OVER"
        lines.append(f"{label:40} {value:8.1f} ms  (target ≤ {TARGETS[key]} ms)  {ok}")
    growth = figures["memory"]["growth_mib"]
    lines.append(f"{'server RSS growth over loads':40} {growth:8.1f} MiB")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", type=Path, metavar="DIR", help="keep (and reuse) stores in DIR")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--loads", type=int, default=1000)
    ap.add_argument(
        "--database-url",
        metavar="URL",
        help="measure the PostgreSQL store: a server URL whose role may CREATE DATABASE "
        "(the two stores are databases threadline_webbench_*, kept for the next run)",
    )
    args = ap.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = bench(args.keep.resolve(), args.runs, args.loads, args.database_url)
    else:
        with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
            figures = bench(Path(tmp), args.runs, args.loads, args.database_url)
    figures["load_average"] = os.getloadavg()
    print("\n".join(verdict(figures)))
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores while measuring)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S"), **figures}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
