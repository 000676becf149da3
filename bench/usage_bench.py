#!/usr/bin/env python3
"""Usage benchmark (issue #16): ``threadline usage daily`` beside ``ccusage daily``.

    python bench/usage_bench.py [--runs N] [--tree DIR] [--home DIR] [--ccusage PATH]

The many-lines reference fixture (``../shared/bench/gen_claude_fixture.py H 50 240 42
--max-tool-kib 8``, ~240 MiB, ~33k assistant messages) is generated (unless ``--tree``
names one) and imported once (unless ``--home`` names a store that holds it). Then, in
turns, ``runs`` times each:

- ``threadline usage daily`` (a fresh process, the table to a pipe): wall time and the
  process's user + system CPU time; the target is ≤ 150 ms for the whole process;
- ``ccusage claude daily --offline --json`` on the same tree (ccusage 20.0.24's native
  binary, ``.ci/node_modules``), wall and CPU, for reference: it reads every file.

Last, both reports' daily tokens per model are compared, and the load average is
recorded (a shared 2-core machine). One JSON line is appended to
``bench/results/usage.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO.parent / "shared" / "bench" / "gen_claude_fixture.py"
CCUSAGE = REPO / ".ci" / "node_modules" / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage"
RESULTS = REPO / "bench" / "results" / "usage.jsonl"
TARGET_S = 0.150


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_timed(command: list[str], env: dict[str, str]) -> tuple[float, float, bytes]:
    """As ``timed``, reaping the child ourselves so that its rusage is its own."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{command[0]} failed ({proc.returncode})")
    return wall, usage.ru_utime + usage.ru_stime, out


def tokens_threadline(out: bytes) -> dict[tuple[str, str], list[int]]:
    cells = {}
    for row in json.loads(out)["rows"]:
        for m in row["models"]:
            cells[(row["date"], m["model"])] = [
                m[f"{k}_tokens"] for k in ("input", "output", "cache_creation", "cache_read")
            ]
    return cells


def tokens_ccusage(out: bytes) -> dict[tuple[str, str], list[int]]:
    cells = {}
    for day in json.loads(out)["daily"]:
        for m in day["modelBreakdowns"]:
            cells[(day.get("date") or day["period"], m["modelName"])] = [
                m["inputTokens"],
                m["outputTokens"],
                m["cacheCreationTokens"],
                m["cacheReadTokens"],
            ]
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, help="a generated fixture home (has .claude/)")
    parser.add_argument("--home", type=Path, help="a Threadline home that already holds it")
    parser.add_argument("--ccusage", type=Path, default=CCUSAGE)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="usage-bench-"))
    try:
        tree = args.tree
        if tree is None:
            tree = scratch / "fixture"
            log("generating gen_claude_fixture.py H 50 240 42 --max-tool-kib 8")
            subprocess.run(
                [
                    sys.executable,
                    str(GENERATOR),
                    str(tree),
                    "50",
                    "240",
                    "42",
                    "--max-tool-kib",
                    "8",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        home = args.home
        # Bytecode written on the first run and used after (as an installed package's is).
        drop = ("THREADLINE_DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env["TZ"] = "UTC"
        if home is None:
            home = scratch / "home"
            log("importing it")
            subprocess.run(
                [sys.executable, "-m", "threadline.adapters.cli.main", "--home", str(home),
                 "import", str(tree / ".claude")],
                cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        ours = [sys.executable, "-m", "threadline.adapters.cli.main", "--home", str(home)]
        binary = scratch / "ccusage"
        shutil.copyfile(args.ccusage, binary)
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
        cc_env = {
            "PATH": env.get("PATH", ""),
            "HOME": str(scratch),
            "TZ": "UTC",
            "CLAUDE_CONFIG_DIR": str(tree / ".claude"),
        }
        theirs = [str(binary), "claude", "daily", "--offline", "--json"]

        run_timed([*ours, "usage", "daily"], env)  # warm the page cache, catch up
        run_timed(theirs, cc_env)
        samples: dict[str, list[tuple[float, float]]] = {"usage": [], "json": [], "ccusage": []}
        for i in range(args.runs):
            wall, cpu, _ = run_timed([*ours, "usage", "daily"], env)
            samples["usage"].append((wall, cpu))
            wall, cpu, _ = run_timed([*ours, "usage", "daily", "--json"], env)
            samples["json"].append((wall, cpu))
            wall, cpu, _ = run_timed(theirs, cc_env)
            samples["ccusage"].append((wall, cpu))
            log(f"run {i + 1}: " + ", ".join(f"{k} {v[-1][0]:.3f} s" for k, v in samples.items()))

        _, _, our_json = run_timed([*ours, "usage", "daily", "--json"], env)
        _, _, cc_json = run_timed(theirs, cc_env)
        a, b = tokens_threadline(our_json), tokens_ccusage(cc_json)
        differ = {f"{k[0]} {k[1]}": {"threadline": a.get(k), "ccusage": b.get(k)}
                  for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}  # fmt: skip

        def med(name: str, index: int) -> float:
            return round(statistics.median(s[index] for s in samples[name]), 4)

        result: dict[str, Any] = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
            ).stdout.strip(),
            "runs": args.runs,
            "usage_daily_wall_s": med("usage", 0),
            "usage_daily_cpu_s": med("usage", 1),
            "usage_daily_json_wall_s": med("json", 0),
            "usage_daily_json_cpu_s": med("json", 1),
            "ccusage_daily_wall_s": med("ccusage", 0),
            "ccusage_daily_cpu_s": med("ccusage", 1),
            "target_s": TARGET_S,
            "days": len({k[0] for k in a}),
            "daily_tokens_per_model_equal": not differ,
            "differences": differ,
            "load_average": os.getloadavg(),
        }
        print(json.dumps(result, indent=2))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(json.dumps(result) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
