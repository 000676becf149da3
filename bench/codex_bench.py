#!/usr/bin/env python3
"""The Codex import benchmark (issue #13): Threadline beside agentsview on one Codex home.

    python bench/codex_bench.py [--pairs N] [--mib M] [--sessions S] [--seed K]
                                [--keep DIR] [--agentsview BIN] [--jobs J]

Builds a Codex home of at least 200 MiB with ``gen_codex_fixture.py`` (reused from
``--keep DIR`` when it is already there), then runs N interleaved pairs on it; the
order inside a pair alternates (A B, then B A), since the machine is noisy:

- A: ``threadline import CODEX_HOME`` into a fresh embedded SQLite store (with the
  search index, as a user's import), then the unchanged re-import;
- B: agentsview's ``sync`` into a fresh data directory, offline, pointed at the
  same home (``../shared/notes/peers.md``), then its unchanged re-sync.

Each run is one child process: wall from spawn to reap; CPU (user + sys) and peak
RSS from ``wait4``, so they cover the process and the children it waited for.
Both tools' session counts are checked against the number of rollouts. The table
(medians and Threadline / agentsview ratios per pair) is printed; the record is
appended to ``bench/results/codex.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_bench as ib

RESULTS = ib.REPO / "bench" / "results" / "codex.jsonl"
GENERATOR = Path(__file__).resolve().parent / "gen_codex_fixture.py"
MIB = ib.MIB
MIN_MIB = 200
AGENTSVIEW_VENV = Path(tempfile.gettempdir()) / "agentsview-peer"


# --------------------------------------------------------------------------- the tree


def build_tree(root: Path, sessions: int, mib: float, seed: int) -> tuple[Path, list[Path]]:
    """The generated Codex home under root (made once; reused when it is already there)."""
    home = root / f"codex-{sessions}-{mib:g}-{seed}"
    done = home / ".complete"
    if not done.is_file():
        shutil.rmtree(home, ignore_errors=True)
        ib.log(f"generating {mib:g} MiB in {sessions} rollouts under {home}")
        subprocess.run(
            [sys.executable, str(GENERATOR), str(home), str(sessions), str(mib), str(seed)],
            check=True,
        )
        done.write_text("")
    files = sorted((home / "sessions").rglob("rollout-*.jsonl"))
    return home, files


def exec_rollouts(files: list[Path]) -> int:
    """How many rollouts say they were written by ``codex exec`` (session_meta.source)."""
    count = 0
    for path in files:
        with path.open("rb") as fh:
            meta = json.loads(fh.readline())
        count += meta["payload"].get("source") == "exec"
    return count


# --------------------------------------------------------------------------- Threadline


def thread_count(tl: ib.Threadline, store: Path) -> int:
    rows = tl._json(store, "threads", "--all", "--limit", "1000000")
    return len(rows)


def threadline_import(tl: ib.Threadline, home: Path, scratch: Path) -> dict[str, Any]:
    store = tl.new_store(scratch)
    jobs = ["--jobs", str(tl.jobs)] if tl.jobs else []
    argv = [*tl.argv, *tl._store(store), "import", str(home), *jobs, "--json"]
    try:
        first = ib.run_measured(argv, tl.env)
        if first.exit_code not in (0, 1):
            raise ib.BenchError(
                f"threadline import exited {first.exit_code}:\n{ib.tail(first.stderr)}"
            )
        report = json.loads(first.stdout)
        again = ib.run_measured(argv, tl.env)
        store_bytes = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
        return {
            "import": first.figures(),
            "reimport": again.figures(),
            "counts": report.get("counts"),
            "problems": len(report.get("problems") or []),
            "threads": thread_count(tl, store),
            "store_bytes": store_bytes,
        }
    finally:
        tl.drop_store(store)


# --------------------------------------------------------------------------- agentsview


def agentsview_binary(given: str | None) -> str:
    """The agentsview binary: the one given, else one pip installs into a venv in /tmp."""
    if given:
        return given
    python = AGENTSVIEW_VENV / "bin" / "python"
    if not python.is_file():
        ib.log(f"installing agentsview into {AGENTSVIEW_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(AGENTSVIEW_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "agentsview"], check=True)
    found = subprocess.run(
        [
            str(python),
            "-c",
            "import agentsview, os;"
            "print(os.path.join(os.path.dirname(agentsview.__file__), 'bin', 'agentsview'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def agentsview_version(binary: str) -> str:
    proc = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip().split(" (")[0]


def agentsview_sessions(data: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{data / 'sessions.db'}?mode=ro", uri=True)
    try:
        total, exec_kind = conn.execute(
            "SELECT count(*), sum(relationship_type = 'subagent') FROM sessions"
            " WHERE agent = 'codex' AND deleted_at IS NULL"
        ).fetchone()
        (messages,) = conn.execute("SELECT count(*) FROM messages").fetchone()
    finally:
        conn.close()
    return {
        "sessions": int(total),
        "marked_subagent": int(exec_kind or 0),
        "messages": int(messages),
    }


def agentsview_sync(binary: str, home: Path, scratch: Path) -> dict[str, Any]:
    """agentsview's ``sync`` into a fresh data directory, offline, then the unchanged re-sync."""
    data = Path(tempfile.mkdtemp(prefix="agentsview-", dir=scratch))
    empty_home = Path(tempfile.mkdtemp(prefix="home-", dir=scratch))  # no other agent's data
    env = ib.clean_env("AGENTSVIEW_", "CLAUDE_", "CODEX_") | {
        "HOME": str(empty_home),
        "CODEX_HOME": str(home),
        "CODEX_SESSIONS_DIR": str(home / "sessions"),
        "AGENTSVIEW_DATA_DIR": str(data),
        "AGENTSVIEW_NO_DAEMON": "1",
        "AGENTSVIEW_DISABLE_UPDATE_CHECK": "1",
        "AGENTSVIEW_TELEMETRY_ENABLED": "0",
        "DO_NOT_TRACK": "1",
    }
    try:
        first = ib.run_measured([binary, "sync"], env)
        if first.exit_code != 0:
            raise ib.BenchError(
                f"agentsview sync exited {first.exit_code}:\n{ib.tail(first.stderr)}"
            )
        again = ib.run_measured([binary, "sync"], env)
        store_bytes = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        summary = [
            line for line in (first.stdout + first.stderr).splitlines() if "sessions" in line
        ]
        return {
            "import": first.figures(),
            "reimport": again.figures(),
            "store_bytes": store_bytes,
            "summary": summary,
        } | agentsview_sessions(data)
    finally:
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(empty_home, ignore_errors=True)


# --------------------------------------------------------------------------- report


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def figure(pair: dict[str, Any], tool: str, path: str) -> float:
    value: Any = pair[tool]
    for part in path.split("."):
        value = value[part]
    return float(value)


ROWS = (
    ("import wall s", "import.wall_s"),
    ("import CPU s", "import.cpu_s"),
    ("import peak RSS MiB", "import.peak_rss_mib"),
    ("re-import wall s", "reimport.wall_s"),
    ("re-import CPU s", "reimport.cpu_s"),
    ("store MiB", "store_bytes"),
)


def table(result: dict[str, Any]) -> list[tuple[str, float | None, float | None, str]]:
    pairs = result["pairs"]
    rows = []
    for label, path in ROWS:
        a = [figure(p, "threadline", path) for p in pairs]
        b = [figure(p, "agentsview", path) for p in pairs]
        if path == "store_bytes":
            a, b = [x / MIB for x in a], [x / MIB for x in b]
        ratios = " ".join(f"{x / y:.2f}" for x, y in zip(a, b, strict=True) if y)
        rows.append((label, median(a), median(b), ratios))
    return rows


def print_result(result: dict[str, Any]) -> None:
    tree = result["tree"]
    print(
        f"\n== Codex home: {tree['bytes'] / MIB:.1f} MiB, {tree['rollouts']} rollouts, "
        f"{len(result['pairs'])} pair(s); Threadline {result['commit']} (SQLite), "
        f"{result['agentsview_version']} =="
    )
    print(f"{'median':22}{'Threadline':>11}{'agentsview':>11}  T/A per pair")
    for label, a, b, ratios in table(result):
        shown_a = "-" if a is None else f"{a:.3f}"
        shown_b = "-" if b is None else f"{b:.3f}"
        print(f"{label:22}{shown_a:>11}{shown_b:>11}  {ratios}")
    last = result["pairs"][-1]
    print(
        f"sessions found: Threadline {last['threadline']['threads']} threads "
        f"({last['threadline']['counts']['imported']} imported, "
        f"{last['threadline']['problems']} problems); agentsview {last['agentsview']['sessions']} "
        f"sessions ({last['agentsview']['marked_subagent']} of them marked sub-agent; its "
        f"summary: {' / '.join(last['agentsview']['summary'])}); rollouts {tree['rollouts']}"
    )
    for note in result["count_notes"]:
        print(f"note: {note}")


def count_notes(result: dict[str, Any]) -> list[str]:
    rollouts = result["tree"]["rollouts"]
    exec_kind = result["tree"]["exec_rollouts"]
    notes = []
    for n, pair in enumerate(result["pairs"], 1):
        tl, av = pair["threadline"], pair["agentsview"]
        if tl["threads"] != rollouts:
            notes.append(
                f"pair {n}: Threadline has {tl['threads']} threads for {rollouts} rollouts"
            )
        if av["sessions"] != rollouts:
            notes.append(
                f"pair {n}: agentsview has {av['sessions']} sessions for {rollouts} rollouts"
            )
        if av["marked_subagent"]:
            notes.append(
                f"pair {n}: agentsview marks {av['marked_subagent']} sessions as sub-agents and "
                "leaves them out of its 'Database: N sessions' line; the tree has no sub-agent; "
                f'{exec_kind} rollouts have session_meta.source "exec" (`codex exec` runs)'
            )
    return notes


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--mib", type=float, default=220.0, help=f"tree size (at least {MIN_MIB})")
    ap.add_argument("--sessions", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--keep", type=Path, metavar="DIR", help="keep (and reuse) the tree in DIR")
    ap.add_argument("--agentsview", metavar="BIN", help="agentsview binary (default: pip-install)")
    args = ap.parse_args(argv)
    if args.mib < MIN_MIB:
        ap.error(f"--mib must be at least {MIN_MIB}")
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    info = ib.machine()
    commit = ib.git_commit()
    binary = agentsview_binary(args.agentsview)
    tl = ib.Threadline(args.jobs)
    root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="tl-codex-"))
    scratch = Path(tempfile.mkdtemp(prefix="tl-codex-stores-"))
    try:
        home, files = build_tree(root, args.sessions, args.mib, args.seed)
        size = sum(p.stat().st_size for p in files)
        if size < MIN_MIB * MIB:
            raise ib.BenchError(f"the tree is {size / MIB:.1f} MiB, under {MIN_MIB} MiB")
        result: dict[str, Any] = {
            "commit": commit,
            "agentsview_version": agentsview_version(binary),
            "tree": {
                "bytes": size,
                "rollouts": len(files),
                "exec_rollouts": exec_rollouts(files),
                "path": str(home),
            },
            "pairs": [],
        }
        for n in range(args.pairs):
            pair: dict[str, Any] = {"order": "AB" if n % 2 == 0 else "BA"}
            for tool in pair["order"]:
                if tool == "A":
                    pair["threadline"] = threadline_import(tl, home, scratch)
                else:
                    pair["agentsview"] = agentsview_sync(binary, home, scratch)
            ib.log(f"pair {n + 1}: {json.dumps(pair)}")
            result["pairs"].append(pair)
        result["count_notes"] = count_notes(result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"Codex import benchmark, {info['cores_usable']} cores, load {info['loadavg_at_start']}")
    print_result(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        record = {"date": started, "commit": commit, "machine": info, "result": result}
        fh.write(json.dumps(record | {"args": vars(args) | {"keep": str(args.keep)}}) + "\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ib.BenchError as exc:
        print(f"codex_bench: {exc}", file=sys.stderr)
        sys.exit(2)
