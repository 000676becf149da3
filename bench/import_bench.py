#!/usr/bin/env python3
"""Import benchmark: Threadline against the Codex CLI's Claude Code importer (issue #5).

    python bench/import_bench.py [--workload big|many|both] [--pairs N] [--no-codex]
                                 [--jobs N] [--keep DIR] [--database-url URL]

For each reference workload (fixtures made by ``../shared/bench/gen_claude_fixture.py``):

* big-outputs: ``gen_claude_fixture.py H 50 240 42``   (~243 MiB, ~2.7k lines)
* many-lines:  ``gen_claude_fixture.py H 50 240 42 --max-tool-kib 8`` (~240 MiB, ~67.6k lines)

it runs A B A B ... pairs (A = Threadline, B = Codex), each tool doing, on the same tree:

1. import into a fresh store (Threadline: a new ``--home``; Codex: a fresh CODEX_HOME);
2. re-import of the unchanged tree into that store;
3. re-import after appending a user + assistant line pair, twice, to the 5 largest sources
   (copies of the file's last user prompt and last assistant reply, with new uuids,
   message ids, parentUuid chained and later timestamps, so the lines stay valid);
   the sources are truncated back to their original size afterwards.

Figures per run: wall time, CPU user+sys and peak RSS of the child process, from
``os.wait4`` (its rusage covers the child and the descendants it reaped), and MiB/s.

Threadline's wall time is that of ``threadline import``: the CLI catches the read models
up before it exits, so its threads are listable when it returns; after every import the
bench checks that ``threads --json`` lists every source. After the first import of each
workload a lossless check samples 20 tool_result blocks (deterministically, always
including the largest) and asserts that ``show --json`` returns each output byte for byte.

Codex is driven by ``../shared/bench/drive_codex_import.py`` (the driver starts
``codex app-server`` as its child and reaps it). Codex's wall time is the driver's
``elapsed_seconds`` (app-server spawn to the import-completed notification). Its CPU and
peak RSS come from ``os.wait4`` on the driver: the rusage covers the driver and the
app-server it reaped, and ru_maxrss is the largest single process of the two, which is
the app-server (the driver's own Python is ~15 MiB). CPU includes the driver's ~0.1 s.
Codex 0.169.0 is installed with npm once, cached under ``${TMPDIR:-/tmp}/codex-peer``.

Each run appends one JSON line to ``bench/results/import.jsonl`` and prints a table.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime as dt
import glob
import hashlib
import importlib.metadata
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from threadline.adapters.home import redact

REPO = Path(__file__).resolve().parent.parent

SHARED_BENCH = REPO.parent / "shared" / "bench"
RESULTS = REPO / "bench" / "results" / "import.jsonl"
MIB = 1024 * 1024

CODEX_VERSION = "0.169.0"
CODEX_PEER = Path(tempfile.gettempdir()) / "codex-peer"
NPM_TIMEOUT_S = 300
RUN_TIMEOUT_S = 1800

APPEND_SOURCES = 5
APPEND_PAIRS = 2
LOSSLESS_SAMPLE = 20
LOSSLESS_SEED = 5

# Targets from the issue, as Threadline / Codex ratios.
TARGET_IMPORT = 0.5
TARGET_IMPORT_POSTGRES = 1.0
"""Issue #5: on the PostgreSQL store the imports need only match Codex."""
TARGET_REIMPORT = 1.0
TARGET_RSS = 1.0


class BenchError(Exception):
    """Something that stops the benchmark; the message says what and why."""


@dataclass(frozen=True)
class Workload:
    key: str
    name: str
    gen_args: tuple[str, ...]


WORKLOADS = {
    "big": Workload("big", "big-outputs", ("50", "240", "42")),
    "many": Workload("many", "many-lines", ("50", "240", "42", "--max-tool-kib", "8")),
}


# --------------------------------------------------------------------------- processes


@dataclass
class Run:
    """One measured child process."""

    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mib: float
    exit_code: int
    stdout: str = field(repr=False)
    stderr: str = field(repr=False)

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    def figures(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall_s, 3),
            "user_s": round(self.user_s, 3),
            "sys_s": round(self.sys_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
            "exit_code": self.exit_code,
        }


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


GNU_TIME = "/usr/bin/time"
"""Reports the peak RSS of the command it runs, forked from its own small image. A child
forked from this (large) process and exec'd keeps this process's peak as its own
``ru_maxrss`` (Linux carries the old image's peak over the exec), so a small command
would otherwise show this benchmark's size."""


def run_measured(argv: Sequence[str], env: dict[str, str], timeout: float = RUN_TIMEOUT_S) -> Run:
    """Run argv to completion; wall from spawn to reap, CPU from wait4 on the child, peak
    RSS from GNU time where it is installed (else wait4's, an upper bound)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as rss,
    ):
        wrap = [GNU_TIME, "-f", "%M", "-o", rss.name] if os.access(GNU_TIME, os.X_OK) else []
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*wrap, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,  # so a timeout can kill the child's whole group
        )
        timer = threading.Timer(timeout, _kill_group, (proc.pid,))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            wall_s=wall,
            user_s=usage.ru_utime,
            sys_s=usage.ru_stime,
            peak_rss_mib=_peak_kib(rss.read(), usage.ru_maxrss) / 1024,  # KiB on Linux
            exit_code=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def _peak_kib(reported: str, fallback: int) -> int:
    """GNU time's ``%M`` (the last line it wrote: a killed command's status comes first)."""
    lines = reported.strip().splitlines()
    return int(lines[-1]) if lines and lines[-1].isdigit() else fallback


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def clean_env(*prefixes: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


# --------------------------------------------------------------------------- fixtures


def find_shared(name: str) -> Path | None:
    for candidate in (SHARED_BENCH / name, REPO / "bench" / name):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class Fixture:
    workload: Workload
    home: Path
    files: list[Path]
    bytes: int = 0
    lines: int = 0
    tool_results: list[tuple[int, int, int, int]] = field(default_factory=list, repr=False)
    """(file index, line number, byte offset, byte length) of lines holding tool_result."""

    @property
    def projects(self) -> Path:
        return self.home / ".claude" / "projects"

    @property
    def mib(self) -> float:
        return self.bytes / MIB

    def append_targets(self) -> list[Path]:
        """The largest sources: the ones a user would be appending to."""
        return sorted(self.files, key=lambda p: (-p.stat().st_size, str(p)))[:APPEND_SOURCES]

    def describe(self) -> dict[str, Any]:
        return {
            "generator_args": list(self.workload.gen_args),
            "sources": len(self.files),
            "bytes": self.bytes,
            "mib": round(self.mib, 1),
            "lines": self.lines,
            "tool_result_lines": len(self.tool_results),
        }


def transcript_files(projects: Path) -> list[Path]:
    return sorted(projects.glob("*/*.jsonl"))


def prepare_fixture(workload: Workload, root: Path, generator: Path) -> Fixture:
    """Generate the workload's tree under root (or reuse one a manifest vouches for)."""
    home = root / workload.name
    manifest_path = root / f"{workload.name}.manifest.json"
    gen_sha = hashlib.sha256(generator.read_bytes()).hexdigest()
    wanted = {"generator_args": list(workload.gen_args), "generator_sha256": gen_sha}
    if manifest_path.is_file() and home.is_dir():
        manifest = json.loads(manifest_path.read_text())
        files = transcript_files(home / ".claude" / "projects")
        sizes = {str(p.relative_to(home)): p.stat().st_size for p in files}
        if {k: manifest.get(k) for k in wanted} == wanted and manifest.get("sizes") == sizes:
            log(f"{workload.name}: reusing the fixture in {home}")
            return Fixture(workload, home, files)
        log(f"{workload.name}: the fixture in {home} does not match its manifest; regenerating")
    shutil.rmtree(home, ignore_errors=True)
    manifest_path.unlink(missing_ok=True)
    log(f"{workload.name}: generating gen_claude_fixture.py H {' '.join(workload.gen_args)}")
    proc = subprocess.run(
        [sys.executable, str(generator), str(home), *workload.gen_args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"the fixture generator failed:\n{tail(proc.stderr)}")
    files = transcript_files(home / ".claude" / "projects")
    sizes = {str(p.relative_to(home)): p.stat().st_size for p in files}
    manifest_path.write_text(json.dumps({**wanted, "sizes": sizes}, indent=1))
    return Fixture(workload, home, files)


def scan_fixture(fixture: Fixture) -> None:
    """Read every source once: counts bytes and lines, finds tool_result lines, and warms
    the page cache so that the first measured run does not pay for the disk."""
    fixture.bytes = fixture.lines = 0
    fixture.tool_results = []
    for index, path in enumerate(fixture.files):
        offset = 0
        with path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                if b'"tool_result"' in line:
                    fixture.tool_results.append((index, number, offset, len(line)))
                offset += len(line)
                fixture.lines += 1
        fixture.bytes += offset


# --------------------------------------------------------------------------- appending


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _parse_iso(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")


def appended_lines(path: Path, pairs: int) -> bytes:
    """New valid lines for path: copies of its last user prompt and last assistant reply."""
    records = [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    chained = [r for r in records if r.get("uuid")]
    prompts = [
        r
        for r in chained
        if r.get("type") == "user"
        and not r.get("isMeta")
        and isinstance(r.get("message", {}).get("content"), str)
    ]
    replies = [
        r
        for r in chained
        if r.get("type") == "assistant"
        and not r.get("isSidechain")
        and not any(b.get("type") == "tool_use" for b in r["message"].get("content", []))
    ]
    if not chained or not prompts or not replies:
        raise BenchError(f"{path}: no user prompt and assistant reply to copy")
    rng = random.Random(f"append:{path.name}")  # same bytes every time, for both tools
    parent = chained[-1]["uuid"]
    when = max(_parse_iso(r["timestamp"]) for r in chained)
    out: list[str] = []
    for n in range(pairs):
        for template in (prompts[-1], replies[-1]):
            record = json.loads(json.dumps(template))
            when += dt.timedelta(seconds=7)
            record["uuid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            record["parentUuid"] = parent
            record["timestamp"] = _iso(when)
            if record["type"] == "user":
                record["message"]["content"] = f"Follow-up {n + 1}: {record['message']['content']}"
            else:
                record["message"]["id"] = "msg_01" + f"{rng.getrandbits(88):022x}"
                if "requestId" in record:
                    record["requestId"] = "req_011" + f"{rng.getrandbits(80):020x}"
            parent = record["uuid"]
            out.append(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
    return "".join(out).encode("utf-8")


@contextlib.contextmanager
def appended(paths: Sequence[Path]) -> Iterator[int]:
    """Append APPEND_PAIRS line pairs to each path; truncate back to the original size."""
    sizes = {p: p.stat().st_size for p in paths}
    added = 0
    try:
        for path in paths:
            data = appended_lines(path, APPEND_PAIRS)
            with path.open("ab") as fh:
                fh.write(data)
            added += data.count(b"\n")
        yield added
    finally:
        for path, size in sizes.items():
            os.truncate(path, size)


# --------------------------------------------------------------------------- Threadline


def threadline_argv() -> list[str]:
    sibling = Path(sys.executable).parent / "threadline"
    if sibling.is_file():
        return [str(sibling)]
    found = shutil.which("threadline")
    if found:
        return [found]
    return [sys.executable, "-m", "threadline.adapters.cli.main"]


def compile_bytecode() -> None:
    """Cache Threadline's bytecode, as a user's first run does.

    With PYTHONDONTWRITEBYTECODE set (as in some shells and CI) nothing is cached
    and every run would compile every module again: ~10 ms of a 60 ms re-import.
    """
    for package in ("adapters", "application", "domain"):
        if (REPO / package).is_dir():
            compileall.compile_dir(REPO / package, quiet=1)


class Threadline:
    def __init__(self, jobs: int | None, server_url: str | None = None) -> None:
        compile_bytecode()
        self.argv = threadline_argv()
        self.jobs = jobs
        self.env = clean_env("THREADLINE_", "CLAUDE_")
        self.server_url = server_url
        """With a PostgreSQL URL, each fresh store is a new database on that server."""
        self._databases: dict[Path, str] = {}

    def new_store(self, scratch: Path) -> Path:
        store = Path(tempfile.mkdtemp(prefix="store-", dir=scratch))
        if self.server_url:
            import psycopg

            name = f"threadline_bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(self.server_url, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            parts = urllib.parse.urlsplit(self.server_url)
            self._databases[store] = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
        return store

    def drop_store(self, store: Path) -> None:
        shutil.rmtree(store, ignore_errors=True)
        url = self._databases.pop(store, None)
        if url and self.server_url:
            import psycopg

            name = urllib.parse.urlsplit(url).path.lstrip("/")
            with psycopg.connect(self.server_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def store_mib(self, store: Path) -> float:
        url = self._databases.get(store)
        if url is None:
            return store_mib(store)
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return (row[0] if row else 0) / MIB

    def _store(self, store: Path) -> list[str]:
        url = self._databases.get(store)
        return ["--home", str(store), *(["--database-url", url] if url else [])]

    def _json(self, store: Path, *args: str) -> Any:
        proc = subprocess.run(
            [*self.argv, *self._store(store), *args, "--json"],
            capture_output=True,
            env=self.env,
            check=False,
        )
        if proc.returncode != 0:
            raise BenchError(
                f"threadline {' '.join(args)} exited {proc.returncode}:\n"
                + tail(proc.stderr.decode("utf-8", "replace"))
            )
        return json.loads(proc.stdout)

    def import_(self, store: Path, fixture: Fixture) -> tuple[Run, dict[str, Any]]:
        jobs = ["--jobs", str(self.jobs)] if self.jobs else []
        argv = [*self.argv, *self._store(store), "import", str(fixture.projects), *jobs, "--json"]
        run = run_measured(argv, self.env)
        if run.exit_code not in (0, 1):  # 1: some sources had problems, reported per line
            raise BenchError(f"threadline import exited {run.exit_code}:\n{tail(run.stderr)}")
        try:
            report: dict[str, Any] = json.loads(run.stdout)
        except ValueError as exc:
            raise BenchError(f"threadline import printed no JSON:\n{tail(run.stderr)}") from exc
        return run, report

    def threads(self, store: Path) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._json(store, "threads")
        return rows

    def show(self, store: Path, thread_id: str) -> dict[str, Any]:
        shown: dict[str, Any] = self._json(store, "show", thread_id)
        return shown

    def version(self) -> str:
        try:
            return importlib.metadata.version("threadline")
        except importlib.metadata.PackageNotFoundError:
            return "unknown"


def store_mib(store: Path) -> float:
    return sum(p.stat().st_size for p in store.rglob("*") if p.is_file()) / MIB


def threads_by_source(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["source_path"]: r for r in rows if not r.get("parent_thread_id")}


def lists_every_source(rows: list[dict[str, Any]], fixture: Fixture) -> tuple[int, int]:
    listed = threads_by_source(rows)
    return sum(str(p) in listed for p in fixture.files), len(fixture.files)


@dataclass
class Lossless:
    checked: int = 0
    identical: int = 0
    largest_bytes: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.checked > 0 and self.identical == self.checked and not self.failures


def _texts(content: Any, kind_key: str) -> list[str]:
    """The text of a tool_result's content: a string, or the text blocks of a list."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        blocks = [b for b in content if isinstance(b, dict)]
        return [str(b.get("text", "")) for b in blocks if b.get(kind_key) == "text"]
    return []


def lossless_check(tl: Threadline, store: Path, fixture: Fixture) -> Lossless:
    result = Lossless()
    if not fixture.tool_results:
        result.failures.append("the fixture has no tool_result lines")
        return result
    largest = max(fixture.tool_results, key=lambda c: c[3])
    others = [c for c in fixture.tool_results if c != largest]
    rng = random.Random(LOSSLESS_SEED)
    sample = sorted([largest, *rng.sample(others, min(LOSSLESS_SAMPLE - 1, len(others)))])
    by_source = threads_by_source(tl.threads(store))
    expected: dict[str, list[tuple[str, str, int, list[str], bool]]] = {}
    for index, number, offset, length in sample:
        path = fixture.files[index]
        with path.open("rb") as fh:
            fh.seek(offset)
            record = json.loads(fh.read(length))
        content = record.get("message", {}).get("content")
        if not isinstance(content, list):
            content = []
        blocks = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        row = by_source.get(str(path))
        where = f"{path.name}:{number}"
        if not blocks:
            result.failures.append(f"{where}: no tool_result block in the line")
            continue
        if row is None:
            result.failures.append(f"{where}: no thread for the source")
            continue
        for block in blocks:
            texts = _texts(block.get("content"), "type")
            result.largest_bytes = max(result.largest_bytes, sum(len(t.encode()) for t in texts))
            expected.setdefault(row["thread_id"], []).append(
                (where, block["tool_use_id"], number, texts, bool(block.get("is_error")))
            )
    for thread_id, wanted in expected.items():
        items = tl.show(store, thread_id)["items"]
        results: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item.get("type") == "tool_result":
                results.setdefault(item.get("call_id", ""), []).append(item)
        for where, call_id, number, texts, is_error in wanted:
            result.checked += 1
            found = results.get(call_id, [])
            if len(found) != 1:
                result.failures.append(f"{where} {call_id}: {len(found)} stored tool_result items")
                continue
            stored = _texts(found[0].get("output"), "kind")
            a = [t.encode("utf-8", "surrogatepass") for t in texts]
            b = [t.encode("utf-8", "surrogatepass") for t in stored]
            if a != b:
                result.failures.append(f"{where} {call_id}: {_first_difference(a, b)}")
            elif bool(found[0].get("is_error")) != is_error:
                result.failures.append(f"{where} {call_id}: is_error differs")
            elif found[0].get("line") not in (None, number):
                result.failures.append(f"{where} {call_id}: stored at line {found[0].get('line')}")
            else:
                result.identical += 1
    return result


def _first_difference(source: list[bytes], stored: list[bytes]) -> str:
    if len(source) != len(stored):
        return f"{len(source)} text block(s) in the source, {len(stored)} stored"
    for i, (a, b) in enumerate(zip(source, stored, strict=True)):
        if a != b:
            end = min(len(a), len(b))
            at = next((k for k in range(end) if a[k] != b[k]), end)
            return f"block {i}: source {len(a)} B, stored {len(b)} B, first difference at byte {at}"
    return "differs"


# --------------------------------------------------------------------------- Codex


@dataclass
class Codex:
    binary: str | None = None
    version: str | None = None
    driver: Path | None = None
    note: str | None = None

    @property
    def available(self) -> bool:
        return self.binary is not None and self.driver is not None

    def describe(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "version": self.version,
            "binary": self.binary,
            "note": self.note,
            "wall": "driver elapsed_seconds (app-server spawn to import completed)",
            "rss": "os.wait4 on the driver: max RSS over the driver and its reaped app-server",
        }

    def run(self, fixture: Fixture, fresh: bool) -> tuple[Run, dict[str, Any]]:
        assert self.binary and self.driver
        argv = [sys.executable, str(self.driver), str(fixture.home), "--codex", self.binary]
        run = run_measured(argv + (["--fresh"] if fresh else []), clean_env("CODEX_", "OPENAI_"))
        try:
            report: dict[str, Any] = json.loads(run.stdout)
        except ValueError:
            report = {"error": f"driver printed no JSON: {tail(run.stderr, 5)}"}
        if run.exit_code != 0 and "error" not in report:
            report["error"] = f"driver exited {run.exit_code}: {tail(run.stderr, 5)}"
        return run, report


def _cached_codex_binary() -> str | None:
    pattern = CODEX_PEER / "npm" / "node_modules" / "@openai" / "codex-*" / "vendor" / "*"
    for path in sorted(glob.glob(str(pattern / "bin" / "codex"))):
        if os.access(path, os.X_OK):
            return path
    return None


def setup_codex(wanted: bool) -> Codex:
    if not wanted:
        return Codex(note="--no-codex given")
    driver = find_shared("drive_codex_import.py")
    if driver is None:
        return Codex(note=f"drive_codex_import.py not found in {SHARED_BENCH} or bench/")
    binary = os.environ.get("CODEX_BIN") or _cached_codex_binary()
    if binary is None:
        npm = shutil.which("npm")
        if npm is None:
            return Codex(driver=driver, note="npm not found, so Codex could not be installed")
        work = CODEX_PEER / "npm"
        work.mkdir(parents=True, exist_ok=True)
        log(f"installing @openai/codex@{CODEX_VERSION} with npm into {work} (once)")
        try:
            if not (work / "package.json").exists():
                subprocess.run([npm, "init", "-y"], cwd=work, capture_output=True, check=True)
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", f"@openai/codex@{CODEX_VERSION}"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
                check=False,
            )
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
            return Codex(driver=driver, note=f"npm install failed: {exc}")
        binary = _cached_codex_binary()
        if proc.returncode != 0 or binary is None:
            return Codex(driver=driver, note=f"npm install failed: {tail(proc.stderr, 3)}")
    proc = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    version = proc.stdout.strip().split()[-1] if proc.stdout.strip() else None
    if proc.returncode != 0 or version is None:
        return Codex(driver=driver, note=f"{binary} --version failed: {tail(proc.stderr, 3)}")
    note = None
    if version != CODEX_VERSION:
        note = f"expected Codex {CODEX_VERSION}, found {version}"
    with open(binary, "rb") as fh:  # page the binary in, so run 1 does not pay for the disk
        while fh.read(16 * MIB):
            pass
    return Codex(binary=binary, version=version, driver=driver, note=note)


# --------------------------------------------------------------------------- one workload


@dataclass
class Phase:
    """One phase (import, re-import, append) of one tool, over the pairs."""

    runs: list[dict[str, Any]] = field(default_factory=list)

    def values(self, key: str) -> list[float]:
        return [float(r[key]) for r in self.runs if r.get(key) is not None]


PHASES = ("import", "reimport", "append")


def threadline_figures(run: Run, report: dict[str, Any], fixture: Fixture) -> dict[str, Any]:
    return {
        **run.figures(),
        "mib_per_s": round(fixture.mib / run.wall_s, 1),
        "counts": report.get("counts"),
        "problems": len(report.get("problems", [])),
        "reported_s": report.get("seconds"),
    }


def codex_figures(run: Run, report: dict[str, Any], fixture: Fixture) -> dict[str, Any]:
    elapsed = report.get("elapsed_seconds")
    figures = run.figures()
    figures.update(
        wall_s=elapsed if not report.get("error") else None,
        driver_wall_s=round(run.wall_s, 3),
        mib_per_s=round(fixture.mib / elapsed, 1) if elapsed and not report.get("error") else None,
        detected=report.get("detected_sessions"),
        imported=report.get("imported"),
        failed=report.get("failed"),
        rollout_bytes=(report.get("codex_home") or {}).get("rollout_bytes"),
    )
    if report.get("error"):
        figures["error"] = str(report["error"])[:2000]
        figures["peak_rss_mib"] = figures["cpu_s"] = None
    return figures


def bench_workload(
    fixture: Fixture, pairs: int, tl: Threadline, codex: Codex, scratch: Path
) -> dict[str, Any]:
    name = fixture.workload.name
    tl_phases = {p: Phase() for p in PHASES}
    cx_phases = {p: Phase() for p in PHASES}
    checks: dict[str, Any] = {"threads_listed": [], "reimport_skipped": [], "append": []}
    targets = fixture.append_targets()
    for pair in range(1, pairs + 1):
        # A: Threadline, into a fresh store.
        store = tl.new_store(scratch)
        try:
            run, report = tl.import_(store, fixture)
            figures = threadline_figures(run, report, fixture)
            figures["store_mib"] = round(tl.store_mib(store), 1)
            tl_phases["import"].runs.append(figures)
            log(f"{name} pair {pair} A threadline import: {_brief(figures)}")
            listed, total = lists_every_source(tl.threads(store), fixture)
            checks["threads_listed"].append([listed, total])
            if pair == 1:
                lossless = lossless_check(tl, store, fixture)
                checks["lossless"] = asdict(lossless) | {"passed": lossless.passed}
                log(f"{name} lossless: {lossless.identical}/{lossless.checked} identical")
            run, report = tl.import_(store, fixture)
            figures = threadline_figures(run, report, fixture)
            tl_phases["reimport"].runs.append(figures)
            checks["reimport_skipped"].append([(report.get("counts") or {}).get("skipped"), total])
            log(f"{name} pair {pair} A threadline re-import: {_brief(figures)}")
            before = threads_by_source(tl.threads(store))
            with appended(targets) as added:
                run, report = tl.import_(store, fixture)
                after = threads_by_source(tl.threads(store))
            figures = threadline_figures(run, report, fixture)
            tl_phases["append"].runs.append(figures)
            grew = sum(
                after[str(p)]["item_count"] > before[str(p)]["item_count"]
                for p in targets
                if str(p) in after and str(p) in before
            )
            checks["append"].append(
                {
                    "lines_added": added,
                    "sources": len(targets),
                    "appended": (report.get("counts") or {}).get("appended"),
                    "items_grew": grew,
                    "listed": lists_every_source(list(after.values()), fixture)[0],
                }
            )
            log(f"{name} pair {pair} A threadline append re-import: {_brief(figures)}")
        finally:
            tl.drop_store(store)
        # B: Codex, with a fresh CODEX_HOME (FIXTURE_HOME/.codex) for the import.
        if codex.available:
            try:
                for phase, fresh in (("import", True), ("reimport", False)):
                    run, report = codex.run(fixture, fresh=fresh)
                    cx_phases[phase].runs.append(codex_figures(run, report, fixture))
                    log(f"{name} pair {pair} B codex {phase}: {_brief(cx_phases[phase].runs[-1])}")
                with appended(targets):
                    run, report = codex.run(fixture, fresh=False)
                cx_phases["append"].runs.append(codex_figures(run, report, fixture))
                log(f"{name} pair {pair} B codex append: {_brief(cx_phases['append'].runs[-1])}")
            finally:
                shutil.rmtree(fixture.home / ".codex", ignore_errors=True)
    result: dict[str, Any] = {
        "fixture": fixture.describe(),
        "append_sources": [str(p.relative_to(fixture.home)) for p in targets],
        "threadline": {p: tl_phases[p].runs for p in PHASES},
        "checks": checks,
    }
    if codex.available:
        result["codex"] = {p: cx_phases[p].runs for p in PHASES}
        import_target = TARGET_IMPORT_POSTGRES if tl.server_url else TARGET_IMPORT
        result["ratios"] = ratios(tl_phases, cx_phases, import_target)
    return result


def _brief(f: dict[str, Any]) -> str:
    if f.get("error"):
        return f"FAILED: {f['error'][:300]}"
    extra = f.get("counts") or {k: f.get(k) for k in ("imported", "failed")}
    counts = ", ".join(f"{k} {v}" for k, v in extra.items() if v)
    return f"{f['wall_s']} s wall, {f['cpu_s']} s CPU, {f['peak_rss_mib']} MiB peak RSS" + (
        f"; {counts}" if counts else ""
    )


# The rows of the table: (label, phase, key, target ratio or None, show ratio).
ROWS: tuple[tuple[str, str, str, float | None, bool], ...] = (
    ("import wall s", "import", "wall_s", TARGET_IMPORT, True),
    ("import CPU user+sys s", "import", "cpu_s", None, True),
    ("import MiB/s", "import", "mib_per_s", None, False),
    ("import peak RSS MiB", "import", "peak_rss_mib", TARGET_RSS, True),
    ("re-import wall s", "reimport", "wall_s", TARGET_REIMPORT, True),
    ("re-import peak RSS MiB", "reimport", "peak_rss_mib", TARGET_RSS, True),
    ("append re-import wall s", "append", "wall_s", TARGET_REIMPORT, True),
    ("append re-import RSS MiB", "append", "peak_rss_mib", TARGET_RSS, True),
)


def ratios(
    tl: dict[str, Phase], cx: dict[str, Phase], import_target: float = TARGET_IMPORT
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _, phase, key, target, show in ROWS:
        if (phase, key) == ("import", "wall_s"):
            target = import_target
        if not show:
            continue
        per_pair = [
            round(a[key] / b[key], 3)
            for a, b in zip(tl[phase].runs, cx[phase].runs, strict=False)
            if a.get(key) and b.get(key)
        ]
        out[f"{phase}.{key}"] = {
            "per_pair": per_pair,
            "median": round(statistics.median(per_pair), 3) if per_pair else None,
            "target": target,
        }
    return out


# --------------------------------------------------------------------------- report


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> str:
    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        )
        return proc.stdout if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    # Dirty: any change but this benchmark's own results (untracked sources count too).
    changes = [
        line
        for line in git("status", "--porcelain").splitlines()
        if not line[3:].startswith("bench/results/")
    ]
    return commit + ("-dirty" if changes else "")


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def print_table(result: dict[str, Any], pairs: int, codex: Codex) -> None:
    for name, w in result["workloads"].items():
        fx = w["fixture"]
        has_codex = "codex" in w
        print()
        print(
            f"== {name}: {fx['sources']} sources, {fx['mib']} MiB, {fx['lines']:,} lines; "
            f"{pairs} pair(s)"
            + (f" (A = Threadline, B = Codex {codex.version})" if has_codex else "")
            + " =="
        )
        width = max(12, 5 * pairs)
        head = f"{'medians over the pairs':26}{'Threadline':>11}"
        if has_codex:
            head += f"{'Codex':>9}  {'T/C per pair':<{width}} {'median':>6}  target"
        print(head)
        for label, phase, key, target, show in ROWS:
            tl_value = _median([float(r[key]) for r in w["threadline"][phase] if r.get(key)])
            line = f"{label:26}{_fmt(tl_value):>11}"
            if has_codex:
                cx_value = _median([float(r[key]) for r in w["codex"][phase] if r.get(key)])
                ratio = w["ratios"].get(f"{phase}.{key}") if show else None
                per_pair = " ".join(f"{r:.2f}" for r in ratio["per_pair"]) if ratio else ""
                median = ratio["median"] if ratio else None
                target = ratio["target"] if ratio else target
                shown = f"{median:.2f}" if median is not None else ""
                verdict = ""
                if target is not None and median is not None:
                    verdict = "ok" if median <= target else "MISS"
                tgt = f"≤ {target:.2f}" if target is not None else ""
                line += f"{_fmt(cx_value):>9}  {per_pair:<{width}} {shown:>6}  {tgt:<7} {verdict}"
            print(line.rstrip())
        print_checks(w, has_codex)
    if not codex.available:
        print(f"\nCodex not measured ({codex.note}); Threadline's figures only.")
    elif codex.note:
        print(f"\nNote: {codex.note}")


def print_checks(w: dict[str, Any], has_codex: bool) -> None:
    checks = w["checks"]
    listed = checks["threads_listed"]
    ok = all(a == b for a, b in listed)
    last = f"{listed[-1][0]}/{listed[-1][1]}"
    print(f"  threads --json lists every source after each import: {_pf(ok)} ({last})")
    skipped = checks["reimport_skipped"]
    print(f"  re-import skipped every unchanged source: {_pf(all(a == b for a, b in skipped))}")
    for a in checks["append"][:1]:
        ok = a["appended"] == a["sources"] == a["items_grew"] and a["listed"] == listed[-1][1]
        print(
            f"  append: {a['lines_added']} lines to {a['sources']} sources -> "
            f"{a['appended']} appended, items grew in {a['items_grew']}: {_pf(ok)}"
        )
    lossless = checks.get("lossless")
    if lossless:
        print(
            f"  lossless: {lossless['identical']}/{lossless['checked']} sampled tool_result outputs"
            f" byte-identical in show --json (largest {lossless['largest_bytes'] / MIB:.2f} MiB): "
            f"{_pf(lossless['passed'])}"
        )
        for failure in lossless["failures"][:10]:
            print(f"    {failure}")
    if has_codex:
        for phase in PHASES:
            runs = w["codex"][phase]
            errors = [r["error"] for r in runs if r.get("error")]
            imported = sorted({r.get("imported") for r in runs if not r.get("error")}, key=str)
            text = f"  codex {phase}: imported {'/'.join(map(str, imported)) or '-'} per run"
            if errors:
                text += f"; {len(errors)} run(s) failed: {errors[0][:200]}"
            print(text)


def _pf(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--workload", choices=("big", "many", "both"), default="both")
    ap.add_argument("--pairs", type=int, default=3, help="A B pairs per workload (default 3)")
    ap.add_argument("--no-codex", action="store_true", help="measure Threadline alone")
    ap.add_argument("--jobs", type=int, default=None, help="passed to threadline import --jobs")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="keep (and reuse) fixtures in DIR")
    ap.add_argument(
        "--database-url",
        metavar="URL",
        help="measure the PostgreSQL store: a server URL whose role may CREATE DATABASE "
        "(each fresh store is a new database there)",
    )
    args = ap.parse_args(argv)
    if args.pairs < 1:
        ap.error("--pairs must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        ap.error("--jobs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    generator = find_shared("gen_claude_fixture.py")
    if generator is None:
        print(
            "import_bench: gen_claude_fixture.py not found: expected it at "
            f"{SHARED_BENCH / 'gen_claude_fixture.py'} (or a copy in {REPO / 'bench'})",
            file=sys.stderr,
        )
        return 2
    keys = ("big", "many") if args.workload == "both" else (args.workload,)
    started = dt.datetime.now(dt.UTC)
    info = machine()
    commit = git_commit()
    tl = Threadline(args.jobs, args.database_url)
    store_kind = f"PostgreSQL at {redact(args.database_url)}" if args.database_url else "SQLite"
    codex = setup_codex(not args.no_codex)
    if not codex.available:
        log(f"Codex not available: {codex.note}; measuring Threadline alone")

    fixtures_root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="tl-bench-"))
    fixtures_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tl-bench-stores-"))
    workloads: dict[str, Any] = {}
    try:
        for key in keys:
            fixture = prepare_fixture(WORKLOADS[key], fixtures_root, generator)
            scan_fixture(fixture)
            log(f"{fixture.workload.name}: {fixture.describe()}")
            workloads[fixture.workload.name] = bench_workload(
                fixture, args.pairs, tl, codex, scratch
            )
    except BenchError as exc:
        print(f"import_bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(fixtures_root, ignore_errors=True)

    result = {
        "date": started.isoformat(timespec="seconds"),
        "commit": commit,
        "threadline_version": tl.version(),
        "machine": info,
        "args": {
            "workload": args.workload,
            "pairs": args.pairs,
            "jobs": args.jobs,
            "codex": not args.no_codex,
            "store": store_kind,
        },
        "targets": {
            "import": TARGET_IMPORT_POSTGRES if args.database_url else TARGET_IMPORT,
            "reimport": TARGET_REIMPORT,
            "rss": TARGET_RSS,
        },
        "codex": codex.describe(),
        "workloads": workloads,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(result, separators=(",", ":")) + "\n")
    print(
        f"Threadline import benchmark, {result['date']}, commit {commit}\n"
        f"{info['cpu']}, {info['cores_usable']}/{info['cores']} cores, {info['memory_gib']} GiB, "
        f"Python {info['python']}, SQLite {info['sqlite']}, load {info['loadavg_at_start']}\n"
        f"Threadline's store: {store_kind}"
    )
    print_table(result, args.pairs, codex)
    print(f"\nappended to {RESULTS}")
    failed = any(
        not w["checks"].get("lossless", {}).get("passed", False)
        or any(a != b for a, b in w["checks"]["threads_listed"])
        for w in workloads.values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
