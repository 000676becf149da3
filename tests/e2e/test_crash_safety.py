"""An import killed with SIGKILL at random points, then run again, loses and duplicates nothing;
and processes that use one store at the same time do not trip over each other.

The seed of the random kill points is printed (shown when a test fails); set
``THREADLINE_CRASH_SEED`` to replay a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CWD_ROOT,
    REPO,
    Conversation,
    append_transcript,
    blob_count,
    cli_command,
    cli_env,
    count_events,
    expected_item_count,
    long_text,
    max_rowid,
    open_test_store,
    run_cli,
    session_uuid,
    slug,
    table,
    thinking,
    write_progress,
    write_transcript,
)

pytestmark = [pytest.mark.slow, pytest.mark.both_stores]

ITERATIONS = 20
CONCURRENT_ROUNDS = 10
WRITES = ("imported", "appended", "replaced")
SOURCE_KIB = 300
LEDGER_RECORDED = "threadline.domain.ledger:Import.LedgerRecorded"
SESSION_IMPORTED = "threadline.domain.session:Session.SessionImported"


# -- a tree of eight sources ---------------------------------------------------------


@dataclass
class Source:
    path: Path
    convo: Conversation
    records: list[dict[str, Any]]
    """What the file holds now."""
    inline_sidechain: bool = False
    """A main session whose store holds a child thread for its inline sub-agent (kept,
    emptied, when a rewrite drops the sub-agent's lines)."""

    def main_items(self) -> int:
        if self.inline_sidechain:
            return expected_item_count([r for r in self.records if not r.get("isSidechain")])
        return expected_item_count(self.records)

    def sidechain_items(self) -> int:
        return expected_item_count([r for r in self.records if r.get("isSidechain")])


def exchange(convo: Conversation, rng: random.Random, n: int) -> list[dict[str, Any]]:
    start = len(convo.records)
    convo.user(f"Task {n}: " + long_text(f"task{n}", rng.randrange(20, 400)))
    convo.tool_turn(
        "Bash", {"command": f"run {n}"}, long_text(f"out{n}", rng.randrange(2000, 30000))
    )
    convo.assistant(thinking(f"Step {n} looked fine."), f"Done with step {n}.")
    return convo.records[start:]


def fill(convo: Conversation, rng: random.Random, kib: int) -> list[dict[str, Any]]:
    n, size = 0, sum(len(json.dumps(r)) for r in convo.records)
    while size < kib * 1024:
        size += sum(len(json.dumps(r)) for r in exchange(convo, rng, n))
        n += 1
    return list(convo.records)


def make_tree(root: Path, rng: random.Random) -> list[Source]:
    """Six session files (one with an inline sub-agent), a ``subagents/`` file and an
    old-style ``agent-*.jsonl`` file: eight sources, nine threads."""
    projects = root / ".claude" / "projects"
    sources = []
    for i in range(6):
        convo = Conversation(session_uuid(f"crash-{i}"), cwd=f"{CWD_ROOT}/proj-{i % 3}")
        convo.summary(f"Session {i}")
        fill(convo, rng, SOURCE_KIB // 2)
        if i == 0:
            main_parent = convo.parent
            convo.is_sidechain, convo.parent = True, None
            convo.user("an inline sub-agent task")
            convo.assistant("the inline sub-agent's answer")
            convo.is_sidechain, convo.parent = False, main_parent
        fill(convo, rng, SOURCE_KIB)
        path = projects / slug(convo.cwd or "") / f"{convo.session_id}.jsonl"
        sources.append(Source(path, convo, list(convo.records), inline_sidechain=i == 0))
    parent = sources[1]
    for name, path in (
        ("a1", parent.path.with_suffix("") / "subagents" / "agent-a1.jsonl"),
        ("old", parent.path.parent / "agent-old.jsonl"),
    ):
        convo = Conversation(parent.convo.session_id, is_sidechain=True, agent_id=name)
        sources.append(Source(path, convo, fill(convo, rng, SOURCE_KIB)))
    for source in sources:
        write_transcript(source.path, source.records)
    return sources


def expected_threads(sources: list[Source]) -> int:
    return len(sources) + sum(s.inline_sidechain for s in sources)


def grow(source: Source, rng: random.Random) -> None:
    new = exchange(source.convo, rng, len(source.records))
    append_transcript(source.path, new)
    source.records += new


def rewrite(source: Source, rng: random.Random) -> None:
    """The same file, rewritten in place: a shorter history with a different beginning."""
    kept = [dict(r) for r in source.records[: len(source.records) // 2]]
    first_user = next(r for r in kept if r.get("type") == "user")
    first_user["message"] = {"role": "user", "content": f"Rewritten {rng.random()}"}
    source.records = kept
    write_transcript(source.path, kept)


# -- killing an import -----------------------------------------------------------------


def start_import(home: Path, projects: Path) -> subprocess.Popen[bytes]:
    """``threadline import`` in a subprocess of its own, to be killed."""
    return subprocess.Popen(
        cli_command("import", str(projects), "--json"),
        cwd=REPO,
        env=cli_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def import_killed(home: Path, projects: Path, rng: random.Random, changed: int, base: int) -> str:
    """Start an import and SIGKILL it: either after a random delay, or once it has begun
    writing and a random number of the changed sources are saved (plus a random few
    milliseconds; all of them saved means killed while the read models catch up).
    Says where."""
    blobs_before = blob_count(home)
    proc = start_import(home, projects)
    started = time.monotonic()
    try:
        if rng.random() < 0.3:
            delay = rng.uniform(0, 0.6)
            time.sleep(delay)
            where = f"after {delay * 1000:.0f} ms"
        else:
            target = rng.randrange(changed + 1)  # all saved: killed while catching up
            extra = rng.uniform(0, 0.004)
            while proc.poll() is None:
                seen = write_progress(home, base, LEDGER_RECORDED)
                if seen is not None and seen[0] >= target and seen[1] > blobs_before:
                    break
                time.sleep(0.0005)
            time.sleep(extra)
            where = f"after {target} of {changed} sources saved (+{extra * 1000:.1f} ms)"
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        else:
            where += ", but it had already exited"
    finally:
        proc.wait(timeout=60)
    return f"{where}; killed {time.monotonic() - started:.3f} s in"


# -- what must hold after every rerun ------------------------------------------------------


def read_model_rows(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "threads": table(home, "threads", "thread_id"),
        "history": table(home, "history", "thread_id, position"),
        "ledger": table(home, "ledger", "import_id"),
    }


def check_store(home: Path, sources: list[Source], context: str) -> None:
    listed = run_cli("threads", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    threads = listed.json()
    assert len(threads) == expected_threads(sources), context
    per_path = Counter(t["source_path"] for t in threads)
    for source in sources:
        mine = [t for t in threads if t["source_path"] == str(source.path)]
        main = [t for t in mine if not (source.inline_sidechain and t["parent_thread_id"])]
        assert len(main) == 1, f"{context}: {per_path[str(source.path)]} threads for {source.path}"
        assert main[0]["item_count"] == source.main_items(), context
        if source.inline_sidechain:
            (child,) = [t for t in mine if t["parent_thread_id"] == main[0]["thread_id"]]
            assert child["item_count"] == source.sidechain_items(), context
    created = count_events(home, SESSION_IMPORTED)
    assert created == expected_threads(sources), f"{context}: a thread was created twice"
    listed_ledger = run_cli("ledger", "--json", home=home)
    assert listed_ledger.returncode == 0, listed_ledger.stderr
    ledger = {
        e["source_path"]: (e["sha256"], e["consumed_bytes"], e["thread_id"])
        for e in listed_ledger.json()
    }
    assert len(ledger) == len(listed_ledger.json()) == len(sources), context
    for source in sources:
        data = source.path.read_bytes()
        sha, size, thread = ledger[str(source.path)]
        assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data)), context
        assert thread is not None, context
    incremental = read_model_rows(home)
    rebuilt = run_cli("rebuild", home=home)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert read_model_rows(home) == incremental, f"{context}: read models differ from a rebuild"


@pytest.fixture
def seed() -> int:
    chosen = int(os.environ.get("THREADLINE_CRASH_SEED", random.randrange(2**32)))
    print(f"THREADLINE_CRASH_SEED={chosen}")
    return chosen


def test_an_import_killed_at_random_points_and_run_again_loses_and_duplicates_nothing(
    tmp_path: Path, new_home: Any, seed: int
) -> None:
    rng = random.Random(seed)
    sources = make_tree(tmp_path / "user-home", rng)
    projects = tmp_path / "user-home" / ".claude" / "projects"
    home = new_home("home-0")
    changed = len(sources)

    for i in range(ITERATIONS):
        if i and i % 4 == 0:  # a new store: the first import is killed
            home, changed = new_home(f"home-{i}"), len(sources)
            for source in sources:  # a rewrite may have cut an inline sub-agent's lines:
                if source.inline_sidechain:  # a new store then has no child thread for it
                    source.inline_sidechain = any(r.get("isSidechain") for r in source.records)
        elif i:  # the same store: some sources grew, one may have been rewritten
            touched = rng.sample(sources, rng.randrange(1, 4))
            for source in touched:
                grow(source, rng)
            if i % 3 == 0:
                rewrite(rng.choice([s for s in sources if s not in touched]), rng)
                changed = len(touched) + 1
            else:
                changed = len(touched)
        base = max_rowid(home)
        where = import_killed(home, projects, rng, changed, base)
        context = f"seed {seed}, iteration {i}, killed {where}"
        print(context)

        rerun = run_cli("import", projects, "--json", home=home)

        assert rerun.returncode == 0, f"{context}: {rerun.stderr}"
        assert rerun.json()["problems"] == [], context
        check_store(home, sources, context)


def test_a_crash_after_saving_every_source_before_the_read_models_catch_up_is_repaired(
    tmp_path: Path,
    new_home: Any,
) -> None:
    from threadline.adapters.claude_code.reader import ClaudeCodeReader
    from threadline.application.import_transcripts import import_transcripts
    from threadline.application.importing import TranscriptImporter

    sources = make_tree(tmp_path / "user-home", random.Random(1))
    projects = tmp_path / "user-home" / ".claude" / "projects"
    home = new_home("home")
    # The real importer, stopped where a crash would stop it: every source saved with its
    # ledger entry, and the process gone before the read models caught up.
    store = open_test_store(home)
    try:
        reader = ClaudeCodeReader()
        importer = TranscriptImporter(store.app, reader, store.blobs, catch_up=None)
        import_transcripts([str(projects)], reader.discover, lambda: importer)
    finally:
        store.close()

    rerun = run_cli("import", projects, "--json", home=home)

    assert rerun.returncode == 0, rerun.stderr
    check_store(home, sources, "rerun after a crash before the catch-up")


# -- at the same time ------------------------------------------------------------------------


def at_the_same_time(count: int, work: Any) -> list[str]:
    """Run ``work()`` in ``count`` threads released together; the errors they raised."""
    errors: list[str] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        try:
            work()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_two_read_model_catch_ups_running_at_once_both_succeed(
    tmp_path: Path, new_home: Any
) -> None:
    from threadline.adapters.claude_code.reader import ClaudeCodeReader
    from threadline.application.import_transcripts import import_transcripts
    from threadline.application.importing import TranscriptImporter

    sources = make_tree(tmp_path / "user-home", random.Random(2))
    home = new_home("home")
    store = open_test_store(home)
    try:
        reader = ClaudeCodeReader()
        importer = TranscriptImporter(store.app, reader, store.blobs, catch_up=None)
        import_transcripts(
            [str(tmp_path / "user-home" / ".claude")], reader.discover, lambda: importer
        )
    finally:
        store.close()
    stores = [open_test_store(home) for _ in range(2)]

    try:
        errors = at_the_same_time(2, lambda: stores.pop().catch_up())
    finally:
        for left in stores:
            left.close()

    assert errors == []
    check_store(home, sources, "after two catch-ups at once")


def test_imports_running_at_the_same_time_into_one_store_all_succeed_without_duplicates(
    tmp_path: Path,
    new_home: Any,
) -> None:
    first = make_tree(tmp_path / "user-one", random.Random(3))
    second = make_tree(tmp_path / "user-two", random.Random(4))
    home = new_home("home")
    assert run_cli("threads", home=home).returncode == 0  # the store exists already
    trees = [tmp_path / "user-one", tmp_path / "user-one", tmp_path / "user-two"]
    procs = [
        subprocess.Popen(
            cli_command("import", str(tree / ".claude"), "--json"),
            cwd=REPO,
            env=cli_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tree in trees
    ]

    outputs = [proc.communicate(timeout=120) for proc in procs]

    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-2000:]
    check_store(home, first + second, "after three imports at the same time")


def test_two_to_four_importers_started_at_once_on_one_tree_write_each_source_once(
    tmp_path: Path, new_home: Any, seed: int
) -> None:
    """Rounds of 2-4 importers on the same tree and store: a new store (they race to create
    it too), then sources that grew or were rewritten in between. Each changed source is
    written by exactly one of them; the others find it done."""
    rng = random.Random(seed)
    root = tmp_path / "user-home"
    sources = make_tree(root, rng)
    projects = root / ".claude" / "projects"
    home = new_home("home-0")
    changed = list(sources)
    for i in range(CONCURRENT_ROUNDS):
        if i and i % 4 == 0:
            home, changed = new_home(f"home-{i}"), list(sources)
            for source in sources:  # as in the crash test: a cut inline sub-agent is gone
                if source.inline_sidechain:
                    source.inline_sidechain = any(r.get("isSidechain") for r in source.records)
        elif i:
            changed = rng.sample(sources, rng.randrange(1, 4))
            for source in changed:
                grow(source, rng)
            if rng.random() < 0.4:
                rewritten = rng.choice([s for s in sources if s not in changed])
                rewrite(rewritten, rng)
                changed.append(rewritten)
        count = rng.randint(2, 4)
        jobs = [rng.randint(1, 5) for _ in range(count)]
        context = f"seed {seed}, round {i}: {count} importers, --jobs {jobs}"
        print(context)

        writers = importers_at_once(home, projects, jobs, context)

        assert writers == Counter(str(s.path) for s in changed), context
        check_store(home, sources, context)


def importers_at_once(home: Path, projects: Path, jobs: list[int], context: str) -> Counter[str]:
    """One ``threadline import --jobs J`` per J, started together; how often each source
    was written (imported, appended or replaced) across them. Each must succeed."""
    procs = [
        subprocess.Popen(
            cli_command("import", str(projects), "--json", "--jobs", str(j)),
            cwd=REPO,
            env=cli_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for j in jobs
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    writers: Counter[str] = Counter()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 and "Traceback" not in err, f"{context}: {err[-2000:]}"
        report = json.loads(out)
        assert report["problems"] == [], context
        writers.update(s["path"] for s in report["sources"] if s["outcome"] in WRITES)
    return writers


def test_commands_opening_a_new_store_at_the_same_moment_all_open_it(
    tmp_path: Path, new_home: Any
) -> None:

    for attempt in range(100):  # a race: each attempt loses it now and then
        home = new_home(f"home-{attempt}")

        errors = at_the_same_time(4, lambda home=home: open_test_store(home).close())

        assert errors == [], f"attempt {attempt}"


# -- worker processes ------------------------------------------------------------------------

WORKER_TREE_MIB = 18
"""More than the importer's threshold for importing in worker processes (16 MiB)."""


def make_worker_tree(root: Path) -> list[Source]:
    """Four session files of 4.5 MiB each, made of big tool outputs."""
    pool = long_text("pool", 1_200_000)
    projects = root / ".claude" / "projects"
    sources = []
    for i in range(4):
        convo = Conversation(session_uuid(f"workers-{i}"), cwd=f"{CWD_ROOT}/big-{i}")
        for n in range(8):
            convo.user(f"Task {i}.{n}")
            convo.tool_turn("Read", {"file_path": f"/big/{n}"}, pool[n * 1000 :][:600_000])
        path = projects / slug(convo.cwd or "") / f"{convo.session_id}.jsonl"
        sources.append(Source(write_transcript(path, convo.records), convo, convo.records))
    assert sum(s.path.stat().st_size for s in sources) > WORKER_TREE_MIB * 1024 * 1024
    return sources


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "children").read_text()
        except FileNotFoundError:  # a thread that ended meanwhile (a connection pool's)
            continue
        found.update(int(c) for c in text.split())
    return found


def started_with(argument: str) -> set[int]:
    """Processes whose command line holds ``argument`` (this test's unique tmp path)."""
    found = set()
    for proc_dir in Path("/proc").iterdir():
        if proc_dir.name.isdigit() and int(proc_dir.name) != os.getpid():
            try:
                args = (proc_dir / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argument.encode() in args:
                found.add(int(proc_dir.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or not Path("/proc/self/task").exists(),
    reason="needs two cores (the importer uses worker processes only then) and Linux /proc",
)
def test_an_import_killed_while_its_worker_processes_run_leaves_none_behind(
    tmp_path: Path,
    new_home: Any,
) -> None:
    sources = make_worker_tree(tmp_path / "user-home")
    projects = tmp_path / "user-home" / ".claude" / "projects"
    home = new_home("home")
    proc = start_import(home, projects)
    workers: set[int] = set()
    try:
        while proc.poll() is None and not workers:
            workers = children(proc.pid)
            time.sleep(0.002)
        assert workers, "the import used no worker processes"
        settle = time.monotonic() + 0.1  # the pool may still be starting its other workers
        while proc.poll() is None and time.monotonic() < settle:
            workers |= children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        give_up = time.monotonic() + 5
        while time.monotonic() < give_up and any(alive(w) for w in workers):
            time.sleep(0.05)
        left = sorted(w for w in workers if alive(w))
    finally:
        for worker in workers | started_with(str(projects)):  # never leave them running
            if alive(worker):
                os.kill(worker, signal.SIGKILL)

    assert left == [], "worker processes outlived the killed import"
    rerun = run_cli("import", projects, "--json", home=home)
    assert rerun.returncode == 0, rerun.stderr
    check_store(home, sources, "rerun after killing an import with worker processes")


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2,
    reason="needs two cores (the importer uses worker processes only then)",
)
def test_importers_with_worker_processes_at_once_write_each_source_once(
    tmp_path: Path, new_home: Any
) -> None:
    sources = make_worker_tree(tmp_path / "user-home")
    projects = tmp_path / "user-home" / ".claude" / "projects"
    home = new_home("home")

    writers = importers_at_once(home, projects, [2, 2, 4], "three importers with workers")

    assert writers == Counter(str(s.path) for s in sources)
    check_store(home, sources, "after three importers with worker processes at once")
