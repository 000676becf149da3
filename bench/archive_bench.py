#!/usr/bin/env python3
"""The archive benchmark (issue #15): how small the store is, and how soon search answers.

    python bench/archive_bench.py codec  [--keep DIR]
    python bench/archive_bench.py store  [--pairs N] [--keep DIR] [--no-codex]
                                         [--database-url URL] [--workload big|many|both|real]

``codec`` measures the blob codec's choices on the two reference trees (the
fixtures of ``import_bench.py``): zstd level by frame size, as the importer cuts
pages (4 MiB of whole lines): the stored size against the source, compression
CPU per MiB, and the CPU to read one line back (its frames only) against
decompressing the whole page.

``store`` runs A B pairs on the same tree (A = Threadline, B = Codex 0.169, as
``import_bench.py`` drives it): Threadline imports into a fresh store, then the
first ``search`` and a second one run (the first must be as fast as the second: the
index is built during the import), then an unchanged re-import; the store's size is
taken after the searches. Codex imports into a fresh CODEX_HOME, then re-imports.
First it imports real transcripts, each into a fresh store searched once, and
reports each store's size, whole and per table: ``samples/`` and the real corpus
(``bench/corpus/``, 18 MB of public Claude Code sessions, unpacked into a temporary
HOME); ``--workload real`` stops there. It also times ``rebuild`` of the eager read
models and of everything on the many-lines store. Results go to
``bench/results/archive.jsonl``; the table is printed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_bench as ib

RESULTS = ib.REPO / "bench" / "results" / "archive.jsonl"
MIB = ib.MIB
PAGE_BYTES = 4 * MIB
LEVELS = (1, 3, 6)
FRAMES = (64 * 1024, 256 * 1024, 1024 * 1024, PAGE_BYTES)
SEARCH_WORDS = ("migration", "weather")


# --------------------------------------------------------------------------- codec


def pages_of(files: list[Path]) -> list[bytes]:
    """Each file cut into ~4 MiB pages of whole lines, as the importer cuts them."""
    pages = []
    for path in files:
        data = path.read_bytes()
        start = 0
        while start < len(data):
            end = data.rfind(b"\n", start, start + PAGE_BYTES) + 1
            if end <= start:
                end = data.find(b"\n", start + PAGE_BYTES) + 1 or len(data)
            pages.append(data[start:end])
            start = end
    return pages


def codec_matrix(fixture: ib.Fixture) -> list[dict[str, Any]]:
    from threadline.adapters.persistence import compression

    pages = pages_of(fixture.files)
    raw = sum(len(p) for p in pages)
    rows = []
    for level in LEVELS:
        for frame in FRAMES:
            t0 = time.process_time()
            stored = [compression.encode_blob(p, frame_bytes=frame, level=level) for p in pages]
            encode_s = time.process_time() - t0
            size = sum(len(s) for s in stored)
            # Reading one line back: 200 lines at fixed places, each through a fresh page.
            biggest = max(range(len(stored)), key=lambda i: len(pages[i]))
            page = pages[biggest]
            offsets = [len(page) * k // 200 for k in range(200)]
            t0 = time.process_time()
            for at in offsets:
                compression.BlobPage.of(stored[biggest]).read(at, 2000)
            line_ms = (time.process_time() - t0) / len(offsets) * 1000
            t0 = time.process_time()
            for s in stored[:20]:
                compression.decode_blob(s)
            whole_ms = (time.process_time() - t0) / min(20, len(stored)) * 1000
            rows.append(
                {
                    "level": level,
                    "frame_kib": frame // 1024,
                    "ratio": round(size / raw, 4),
                    "encode_s_per_100mib": round(encode_s / raw * 100 * MIB, 3),
                    "line_ms": round(line_ms, 3),
                    "page_ms": round(whole_ms, 3),
                }
            )
            ib.log(f"{fixture.workload.name}: {rows[-1]}")
    return rows


# --------------------------------------------------------------------------- store


def store_bytes(tl: ib.Threadline, store: Path) -> tuple[int, dict[str, int]]:
    """The store's size on disk and, on SQLite, bytes per table (with its indexes)."""
    url = tl._databases.get(store)
    if url is not None:
        import psycopg

        with psycopg.connect(url) as conn:
            total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            rows = conn.execute(
                "SELECT tablename, pg_total_relation_size("
                "quote_ident(schemaname) || '.' || quote_ident(tablename))"
                " FROM pg_tables WHERE schemaname = 'threadline'"
            ).fetchall()
        return int(total), {str(n): int(s) for n, s in rows}
    files = [p for p in store.iterdir() if p.name.startswith("threadline.db")]
    total = sum(p.stat().st_size for p in files)
    conn = sqlite3.connect(f"file:{store / 'threadline.db'}?mode=ro", uri=True)
    try:
        tables = dict(
            conn.execute(
                "SELECT coalesce(m.tbl_name, s.name), sum(s.pgsize) FROM dbstat s"
                " LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1"
            ).fetchall()
        )
    finally:
        conn.close()
    groups: dict[str, int] = {}
    for name, size in tables.items():
        key = "search" if name.startswith("search") else name
        groups[key] = groups.get(key, 0) + int(size)
    return total, groups


def timed_cli(tl: ib.Threadline, store: Path, *args: str) -> ib.Run:
    run = ib.run_measured([*tl.argv, *tl._store(store), *args], tl.env)
    if run.exit_code not in (0, 1):
        raise ib.BenchError(f"threadline {' '.join(args)} exited {run.exit_code}: {run.stderr}")
    return run


def threadline_pair(tl: ib.Threadline, fixture: ib.Fixture, scratch: Path) -> dict[str, Any]:
    store = tl.new_store(scratch)
    try:  # the import alone, as import_bench.py measures it: without the search index
        argv = [*tl.argv, *tl._store(store), "import", str(fixture.projects), "--no-index"]
        no_index = ib.run_measured([*argv, "--json"], tl.env)
    finally:
        tl.drop_store(store)
    store = tl.new_store(scratch)
    try:
        imported, report = tl.import_(store, fixture)
        first = timed_cli(tl, store, "search", SEARCH_WORDS[0], "--limit", "5", "--json")
        second = timed_cli(tl, store, "search", SEARCH_WORDS[1], "--limit", "5", "--json")
        total, tables = store_bytes(tl, store)
        reimport, _ = tl.import_(store, fixture)
        out = {
            "import_no_index": no_index.figures(),
            "import": imported.figures(),
            "first_search": first.figures(),
            "second_search": second.figures(),
            "until_first_search_s": round(imported.wall_s + first.wall_s, 3),
            "reimport": reimport.figures(),
            "store_bytes": total,
            "store_ratio": round(total / fixture.bytes, 4),
            "tables": tables,
            "counts": report.get("counts"),
        }
        if fixture.workload.key == "many":
            eager = timed_cli(tl, store, "rebuild", "threads", "history", "ledger")
            everything = timed_cli(tl, store, "rebuild")
            out["rebuild_eager"] = eager.figures()
            out["rebuild_all"] = everything.figures()
        return out
    finally:
        tl.drop_store(store)


CORPUS_ARCHIVES = (
    ib.REPO / "bench" / "corpus" / "claude-real-spotter.tar.xz",
    ib.REPO / "tests" / "fixtures" / "claude-real-spotter-ae4a77f8.tar.xz",
)
"""The real corpus (bench/corpus/README.md): public Claude Code sessions, kept byte for byte."""


def unpack_corpus(scratch: Path) -> Path:
    """The corpus's archives unpacked into a fresh HOME under ``scratch``; its projects."""
    home = Path(tempfile.mkdtemp(prefix="corpus-home-", dir=scratch))
    for archive in CORPUS_ARCHIVES:
        with tarfile.open(archive) as tar:
            tar.extractall(home, filter="data")
    return home / ".claude" / "projects"


def payload_bytes(store: Path) -> tuple[int, int]:
    """What grows with the sources on SQLite (blob and event payloads, without the pages
    around them), and the store's page size."""
    conn = sqlite3.connect(f"file:{store / 'threadline.db'}?mode=ro", uri=True)
    try:
        (blobs,) = conn.execute("SELECT sum(length(data)) FROM blobs").fetchone()
        (events,) = conn.execute("SELECT sum(length(state)) FROM stored_events").fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    finally:
        conn.close()
    return int(blobs) + int(events), int(page_size)


def source_store(tl: ib.Threadline, scratch: Path, source: Path, word: str) -> dict[str, Any]:
    """``source`` imported into a fresh store and searched once: the store's size."""
    files = list(source.rglob("*.jsonl"))
    raw = sum(p.stat().st_size for p in files)
    store = tl.new_store(scratch)
    try:
        timed_cli(tl, store, "import", str(source), "--json")
        timed_cli(tl, store, "search", word, "--json")
        total, tables = store_bytes(tl, store)
        out: dict[str, Any] = {
            "files": len(files),
            "source_bytes": raw,
            "store_bytes": total,
            "ratio": round(total / raw, 3),
            "tables": tables,
            "tables_bytes": sum(tables.values()),
        }
        if tl._databases.get(store) is None:
            scaling, page_size = payload_bytes(store)
            out |= {
                "page_size": page_size,
                "blobs_and_events_bytes": scaling,
                "blobs_and_events_ratio": round(scaling / raw, 3),
            }
        return out
    finally:
        tl.drop_store(store)


def real_stores(tl: ib.Threadline, scratch: Path) -> dict[str, dict[str, Any]]:
    """The store's size for real transcripts: ``samples/`` and the corpus."""
    samples = source_store(tl, scratch, ib.REPO / "samples" / "claude", "forecast")
    corpus = source_store(tl, scratch, unpack_corpus(scratch), "migration")
    return {"samples/": samples, "bench/corpus/": corpus}


def agentsview_sync(binary: str, fixture: ib.Fixture, scratch: Path) -> dict[str, Any]:
    """agentsview's ``sync`` into a fresh data directory, offline (../shared/notes/peers.md)."""
    data = Path(tempfile.mkdtemp(prefix="agentsview-", dir=scratch))
    env = ib.clean_env("AGENTSVIEW_", "CLAUDE_") | {
        "HOME": str(fixture.home),
        "CLAUDE_PROJECTS_DIR": str(fixture.projects),
        "AGENTSVIEW_DATA_DIR": str(data),
        "AGENTSVIEW_NO_DAEMON": "1",
        "AGENTSVIEW_DISABLE_UPDATE_CHECK": "1",
        "AGENTSVIEW_TELEMETRY_ENABLED": "0",
        "DO_NOT_TRACK": "1",
    }
    try:
        run = ib.run_measured([binary, "sync"], env)
        size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        return run.figures() | {"store_bytes": size, "exit_code": run.exit_code}
    finally:
        shutil.rmtree(data, ignore_errors=True)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def bench_store(args: argparse.Namespace) -> dict[str, Any]:
    generator = ib.find_shared("gen_claude_fixture.py")
    assert generator is not None, "gen_claude_fixture.py not found"
    tl = ib.Threadline(args.jobs, args.database_url)
    keys = {"both": ("big", "many"), "real": ()}.get(args.workload, (args.workload,))
    codex = ib.setup_codex(not args.no_codex and bool(keys))
    root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="tl-archive-"))
    scratch = Path(tempfile.mkdtemp(prefix="tl-archive-stores-"))
    result: dict[str, Any] = {"workloads": {}}
    try:
        result["real"] = real_stores(tl, scratch)
        ib.log(f"real transcripts: {result['real']}")
        for key in keys:
            fixture = ib.prepare_fixture(ib.WORKLOADS[key], root, generator)
            fixture.bytes = sum(p.stat().st_size for p in fixture.files)
            pairs = []
            for pair in range(args.pairs):
                a = threadline_pair(tl, fixture, scratch)
                ib.log(f"{key} pair {pair + 1} A: {json.dumps(a)}")
                b: dict[str, Any] = {}
                if codex.available:
                    try:
                        run, report = codex.run(fixture, fresh=True)
                        b["import"] = ib.codex_figures(run, report, fixture)
                        run, report = codex.run(fixture, fresh=False)
                        b["reimport"] = ib.codex_figures(run, report, fixture)
                    finally:
                        shutil.rmtree(fixture.home / ".codex", ignore_errors=True)
                    ib.log(f"{key} pair {pair + 1} B: {json.dumps(b)}")
                if args.agentsview:
                    b["agentsview"] = agentsview_sync(args.agentsview, fixture, scratch)
                    ib.log(f"{key} pair {pair + 1} agentsview: {json.dumps(b['agentsview'])}")
                pairs.append({"threadline": a, "codex": b})
            result["workloads"][fixture.workload.name] = {
                "source_bytes": fixture.bytes,
                "pairs": pairs,
            }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return result


def ratio_rows(w: dict[str, Any]) -> list[tuple[str, float | None, float | None, str]]:
    """(measure, Threadline median, Codex median or None, per-pair ratios)."""
    pairs = w["pairs"]

    def tl(path: str) -> list[float]:
        out = []
        for p in pairs:
            value: Any = p["threadline"]
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                out.append(float(value))
        return out

    def cx(key: str) -> list[float]:
        return [
            float(p["codex"][key]["wall_s"])
            for p in pairs
            if p["codex"].get(key, {}).get("wall_s") is not None
        ]

    def av(key: str) -> list[float]:
        return [
            float(p["codex"]["agentsview"][key])
            for p in pairs
            if p["codex"].get("agentsview", {}).get(key) is not None
        ]

    def cx_rss() -> list[float]:
        return [
            float(p["codex"]["import"]["peak_rss_mib"])
            for p in pairs
            if p["codex"].get("import", {}).get("peak_rss_mib") is not None
        ]

    def per_pair(a: list[float], b: list[float]) -> str:
        return " ".join(f"{x / y:.2f}" for x, y in zip(a, b, strict=False) if y)

    rows = [
        ("store / source bytes", median(tl("store_ratio")), None, ""),
        (
            "import --no-index wall s",
            median(tl("import_no_index.wall_s")),
            median(cx("import")),
            "",
        ),
        ("import --no-index CPU s", median(tl("import_no_index.cpu_s")), None, ""),
        ("import + index wall s", median(tl("import.wall_s")), median(cx("import")), ""),
        ("import + index CPU s", median(tl("import.cpu_s")), None, ""),
        ("first search wall s", median(tl("first_search.wall_s")), None, ""),
        ("second search wall s", median(tl("second_search.wall_s")), None, ""),
        (
            "import until 1st search s",
            median(tl("until_first_search_s")),
            median(cx("import")),
            "",
        ),
        ("unchanged re-import s", median(tl("reimport.wall_s")), median(cx("reimport")), ""),
        ("import + index RSS MiB", median(tl("import.peak_rss_mib")), median(cx_rss()), ""),
        ("1st search peak RSS MiB", median(tl("first_search.peak_rss_mib")), median(cx_rss()), ""),
        ("rebuild eager s", median(tl("rebuild_eager.wall_s")), None, ""),
        ("rebuild all s", median(tl("rebuild_all.wall_s")), median(cx("import")), ""),
        ("import + index vs agentsview", median(tl("import.wall_s")), median(av("wall_s")), ""),
        ("store vs agentsview bytes", median(tl("store_bytes")), median(av("store_bytes")), ""),
    ]
    out = []
    for label, a, b, _ in rows:
        pp = ""
        if b is not None:
            key = {
                "import --no-index wall s": ("import_no_index.wall_s", "import"),
                "import + index wall s": ("import.wall_s", "import"),
                "import until 1st search s": ("until_first_search_s", "import"),
                "unchanged re-import s": ("reimport.wall_s", "reimport"),
                "rebuild all s": ("rebuild_all.wall_s", "import"),
            }.get(label)
            if label == "import + index vs agentsview":
                pp = per_pair(tl("import.wall_s"), av("wall_s"))
            elif label == "store vs agentsview bytes":
                pp = per_pair(tl("store_bytes"), av("store_bytes"))
            elif key:
                pp = per_pair(tl(key[0]), cx(key[1]))
            elif "RSS" in label:
                path = "import" if label.startswith("import") else "first_search"  # with index
                pp = per_pair(tl(f"{path}.peak_rss_mib"), cx_rss())
        out.append((label, a, b, pp))
    return out


def print_real(name: str, s: dict[str, Any]) -> None:
    payloads = ""
    if "page_size" in s:
        payloads = (
            f"; {s['page_size'] // 1024} KiB pages; blob and event payloads "
            f"{s['blobs_and_events_bytes']:,} = {s['blobs_and_events_ratio']}x"
        )
    print(
        f"{name} ({s['files']} files): {s['source_bytes']:,} source bytes -> store "
        f"{s['store_bytes']:,} = {s['ratio']}x{payloads}"
    )
    sizes = ", ".join(f"{k} {v:,}" for k, v in sorted(s["tables"].items(), key=lambda x: -x[1]))
    tables = s["tables_bytes"]
    print(f"  tables {tables:,} = {tables / s['source_bytes']:.3f}x: {sizes}")


def print_store(result: dict[str, Any]) -> None:
    for name, s in result["real"].items():
        print_real(name, s)
    for name, w in result["workloads"].items():
        print(f"\n== {name}: {w['source_bytes'] / MIB:.1f} MiB, {len(w['pairs'])} pair(s) ==")
        print(f"{'median':28}{'Threadline':>11}{'Codex':>9}  T/C per pair")
        for label, a, b, pp in ratio_rows(w):
            shown_b = "" if b is None else f"{b:.3f}"
            shown_a = "-" if a is None else f"{a:.3f}"
            print(f"{label:28}{shown_a:>11}{shown_b:>9}  {pp}")
        tables = w["pairs"][-1]["threadline"]["tables"]
        sizes = ", ".join(
            f"{k} {v / MIB:.1f}" for k, v in sorted(tables.items(), key=lambda x: -x[1])
        )
        print(f"  store MiB by table (last pair): {sizes}")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("mode", choices=("codec", "store"))
    ap.add_argument("--workload", choices=("big", "many", "both", "real"), default="both")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--no-codex", action="store_true")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="keep (and reuse) fixtures in DIR")
    ap.add_argument("--database-url", metavar="URL")
    ap.add_argument("--agentsview", metavar="BIN", help="also time agentsview's sync (a binary)")
    args = ap.parse_args(argv)
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    info = ib.machine()
    commit = ib.git_commit()
    if args.mode == "codec":
        generator = ib.find_shared("gen_claude_fixture.py")
        assert generator is not None
        root = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="tl-archive-"))
        keys = ("big", "many") if args.workload == "both" else (args.workload,)
        result: dict[str, Any] = {}
        for key in keys:
            fixture = ib.prepare_fixture(ib.WORKLOADS[key], root, generator)
            result[fixture.workload.name] = codec_matrix(fixture)
        print(f"codec matrix, commit {commit}, load {info['loadavg_at_start']}")
        for name, rows in result.items():
            print(f"\n== {name} ==")
            print("level frame_KiB  stored/raw  encode_CPU_s/100MiB  line_ms  whole_page_ms")
            for r in rows:
                print(
                    f"{r['level']:>5} {r['frame_kib']:>9}  {r['ratio']:>10.4f}  "
                    f"{r['encode_s_per_100mib']:>19.3f}  {r['line_ms']:>7.3f}  "
                    f"{r['page_ms']:>13.3f}"
                )
    else:
        result = bench_store(args)
        print(
            f"archive benchmark, commit {commit}, {info['cores_usable']} cores, "
            f"load {info['loadavg_at_start']}, store "
            + ("PostgreSQL" if args.database_url else "SQLite")
        )
        print_store(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        record = {"date": started, "commit": commit, "machine": info, "mode": args.mode}
        fh.write(
            json.dumps(record | {"result": result, "args": vars(args) | {"keep": str(args.keep)}})
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
