"""``threadline usage daily`` side by side with ccusage 20.0.24 (``ccusage claude daily
--offline --json``) on the same trees: the tokens (and the cost, to the millionth of a
dollar) of each day and model must be equal, or the difference must be one ADR 0014
explains (``EXPLAINED``).

ccusage is the native binary of ``@ccusage/ccusage-linux-x64`` that ``.ci/run`` installs
(``.ci/package.json``; the ``ccusage`` wrapper package cannot be locked here, as its other
platforms' packages are not in this registry). Without it the test is skipped, and under
``CI=true`` it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, Conversation, run_cli, session_uuid, slug, write_transcript

CCUSAGE = REPO / ".ci" / "node_modules" / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage"
FIXTURES = REPO / "tests" / "fixtures"
GENERATOR = REPO.parent / "shared" / "bench" / "gen_claude_fixture.py"
KINDS = ("input", "output", "cache_creation", "cache_read")

Tokens = dict[tuple[str, str], tuple[float, ...]]
"""(day, model) -> input, output, cache-creation and cache-read tokens, and the cost."""

EXPLAINED: dict[str, dict[tuple[str, str], tuple[tuple[float, ...], tuple[float, ...]]]] = {}
"""Per tree, the (day, model) cells where the two differ for a reason ADR 0014 gives, as
(Threadline's, ccusage's) tokens: none on these trees."""


@pytest.fixture(scope="module")
def ccusage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CCUSAGE.exists():
        message = f"ccusage 20.0.24 is not installed at {CCUSAGE} (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    # npm leaves the native binary without its executable bit (the wrapper sets it).
    binary = tmp_path_factory.mktemp("ccusage") / "ccusage"
    shutil.copyfile(CCUSAGE, binary)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def ccusage_daily(binary: Path, *roots: Path, home: Path) -> Tokens:
    done = subprocess.run(
        [str(binary), "claude", "daily", "--offline", "--json"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),  # no other agent's data, no config
            "TZ": "UTC",
            "CLAUDE_CONFIG_DIR": ",".join(str(r) for r in roots),
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out: Tokens = {}
    for day in json.loads(done.stdout)["daily"]:
        for m in day["modelBreakdowns"]:
            key = (day.get("date") or day["period"], m["modelName"])
            out[key] = (
                m["inputTokens"],
                m["outputTokens"],
                m["cacheCreationTokens"],
                m["cacheReadTokens"],
                m["cost"],
            )
    return out


def threadline_daily(home: Path, *roots: Path) -> Tokens:
    for root in roots:
        result = run_cli("import", root, "--json", home=home)
        assert result.returncode in (0, 1), result.stderr
    result = run_cli("usage", "daily", "--json", "--timezone", "UTC", home=home)
    assert result.returncode == 0, result.stderr
    out: Tokens = {}
    for row in result.json()["rows"]:
        for m in row["models"]:
            if m["model"] != "<synthetic>":
                tokens = tuple(m[f"{k}_tokens"] for k in KINDS)
                out[(row["date"], m["model"])] = (*tokens, m["cost"])
    return out


def same(a: tuple[float, ...] | None, b: tuple[float, ...] | None) -> bool:
    """Equal tokens, and costs equal to the millionth of a dollar (ours are rounded so)."""
    if a is None or b is None:
        return a is b
    return a[:4] == b[:4] and abs(a[4] - b[4]) <= 1e-6 + 1e-9 * abs(b[4])


def assert_agree(name: str, ours: Tokens, theirs: Tokens) -> None:
    assert theirs, f"{name}: ccusage found no usage; the comparison would prove nothing"
    explained = EXPLAINED.get(name, {})
    differ = {
        key: {"threadline": ours.get(key), "ccusage": theirs.get(key)}
        for key in sorted(set(ours) | set(theirs))
        if not same(ours.get(key), theirs.get(key))
        and explained.get(key) != (ours.get(key), theirs.get(key))
    }
    assert not differ, f"{name}: unexplained differences (day, model): {differ}"


def duplicates_tree(root: Path) -> list[Path]:
    """The shapes that are counted twice when done wrong: streamed fragments, a resumed
    session's replay, a sub-agent's replay of its parent, one file at two locations."""
    conv = Conversation(session_uuid("dup-parent"))
    conv.user("Go")

    def answer(c: Conversation, message_id: str, request: str, **usage: int) -> None:
        message = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 0, "output_tokens": 0} | usage,
        }
        c.envelope("assistant", message=message, requestId=request)

    for out in (9, 9, 209):
        answer(conv, "msg_frag", "req_frag", input_tokens=10, output_tokens=out)
    answer(conv, "msg_2", "req_2", input_tokens=20, output_tokens=2, cache_read_input_tokens=99)
    folder = root / "a" / ".claude" / "projects" / slug(conv.cwd or "")
    conv.write(folder / f"{conv.session_id}.jsonl")

    resumed = session_uuid("dup-resumed")
    more = Conversation(resumed, start=conv.start, _n=conv._n, parent=conv.parent)
    answer(more, "msg_3", "req_3", input_tokens=30, output_tokens=3)
    lines = [r | {"sessionId": resumed} for r in conv.records] + more.records
    write_transcript(folder / f"{resumed}.jsonl", lines)

    child = Conversation(conv.session_id, is_sidechain=True, agent_id="a0c0ffee")
    child.user("look")
    answer(
        child, "msg_2", "req_replay", input_tokens=20, output_tokens=2, cache_read_input_tokens=5000
    )
    answer(child, "msg_own", "req_own", input_tokens=4, output_tokens=40)
    child.write(folder / conv.session_id / "subagents" / "agent-a0c0ffee.jsonl")

    copy = root / "b" / ".claude" / "projects" / slug(conv.cwd or "")
    copy.mkdir(parents=True)
    shutil.copyfile(folder / f"{conv.session_id}.jsonl", copy / f"{conv.session_id}.jsonl")
    return [root / "a" / ".claude", root / "b" / ".claude"]


def spotter_tree(root: Path) -> list[Path]:
    """Real Claude Code 2.1.39 transcripts (marot/spotter, MIT; tests/fixtures/README.md):
    a 2,385-line session with 420 streamed assistant lines, a sub-agent, a compaction
    agent and 25 ``agent_progress`` copies of the sub-agent's messages."""
    with tarfile.open(FIXTURES / "claude-real-spotter-ae4a77f8.tar.xz") as archive:
        archive.extractall(root, filter="data")
    return [root / ".claude"]


def generated_tree(root: Path) -> list[Path]:
    if not GENERATOR.exists():
        pytest.skip(f"the fixture generator is not at {GENERATOR}")
    subprocess.run(
        [sys.executable, str(GENERATOR), str(root), "8", "6", "42", "--max-tool-kib", "8"],
        check=True,
        capture_output=True,
    )
    return [root / ".claude"]


TREES: dict[str, Callable[[Path], list[Path]]] = {
    "samples": lambda root: [REPO / "samples" / "claude"],
    "real-kvsankar-2.1.152": lambda root: [FIXTURES / "claude-real"],
    "real-spotter-2.1.39": spotter_tree,
    "duplicates": duplicates_tree,
    "generated-8-sessions": generated_tree,
}


@pytest.mark.parametrize("name", list(TREES))
def test_daily_tokens_and_cost_per_model_agree_with_ccusage(
    name: str, ccusage: Path, tmp_path: Path
) -> None:
    roots = TREES[name](tmp_path / "tree")
    theirs = ccusage_daily(ccusage, *roots, home=tmp_path)
    ours = threadline_daily(tmp_path / "threadline-home", *roots)
    assert_agree(name, ours, theirs)


def test_the_comparison_fails_on_a_difference() -> None:
    ours: Tokens = {("2026-10-05", "m"): (1, 2, 3, 4, 0.5)}
    with pytest.raises(AssertionError, match="unexplained"):
        assert_agree("x", ours, {("2026-10-05", "m"): (1, 2, 3, 5, 0.5)})
    with pytest.raises(AssertionError, match="unexplained"):
        assert_agree("x", ours, {("2026-10-05", "m"): (1, 2, 3, 4, 0.51)})
    with pytest.raises(AssertionError, match="unexplained"):
        assert_agree("x", ours, ours | {("2026-10-06", "m"): (1, 0, 0, 0, 0.0)})
    assert_agree("x", ours, {("2026-10-05", "m"): (1, 2, 3, 4, 0.5000004)})
