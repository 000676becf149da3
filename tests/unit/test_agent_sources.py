"""The registry of agents: which agent a path's shape names, and what each agent says of
a location through the source port, without loading any reader."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from threadline.adapters.sources import AGENT_NAMES, Root, Sources, UnknownAgentError
from threadline.application.sources import conversation_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "claude"
SESSION = "9a4e7d21-63b0-4f5c-8e12-7c3f0b9d5e84"
THREAD = "01a23526-c6a5-78c2-8bb8-19309353d420"
GEMINI_CHILD = "692b985f-930a-4376-b617-58fbc933826c"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """One user's home with every agent's data where it keeps it."""
    shutil.copytree(SAMPLES / "projects", tmp_path / ".claude" / "projects")
    shutil.copytree(FIXTURES / "codex" / "real" / "exec", tmp_path / ".codex")
    shutil.copytree(FIXTURES / "opencode" / "real", tmp_path / ".local/share/opencode")
    shutil.copytree(FIXTURES / "gemini" / "real", tmp_path / ".gemini")
    return tmp_path


def agents_of(path: Path | str, *named: str) -> list[str]:
    return [root.agent for root in Sources(named).roots_of(str(path))]


def test_each_agents_home_directories_and_files_are_recognised_by_their_shape(
    home: Path,
) -> None:
    rollout = next((home / ".codex").rglob(f"rollout-*{THREAD}.jsonl"))
    chat = next((home / ".gemini").rglob("session-*.jsonl"))
    db = home / ".local/share/opencode/opencode.db"
    cases = {
        home / ".claude": ["claude-code"],
        home / ".claude" / "projects": ["claude-code"],
        home / ".codex": ["codex"],
        home / ".codex" / "sessions" / "2026": ["codex"],
        rollout: ["codex"],
        home / ".local/share/opencode": ["opencode"],
        db: ["opencode"],
        f"{db}#ses_0001": ["opencode"],
        home / ".gemini": ["gemini"],
        home / ".gemini" / "tmp": ["gemini"],
        chat.parent: ["gemini"],
        chat: ["gemini"],
    }
    for path, agents in cases.items():
        assert agents_of(path) == agents, path


def test_a_path_no_agent_claims_is_claude_codes_unless_other_agents_are_named(
    home: Path,
) -> None:
    project = next((home / ".claude" / "projects").iterdir())
    session = project / f"{SESSION}.jsonl"

    assert agents_of(project) == agents_of(session) == ["claude-code"]
    assert agents_of(home / "no-such-file.jsonl") == ["claude-code"]
    assert agents_of(project, "codex") == ["codex"]  # what --agent says
    assert agents_of(home / ".codex", "gemini") == ["gemini"]


def test_each_agent_names_its_conversations_through_the_port(home: Path) -> None:
    Sources()  # the registry is loaded: every agent names its conversations
    project = next((home / ".claude" / "projects").iterdir())
    rollout = next((home / ".codex").rglob(f"rollout-*{THREAD}.jsonl"))
    db = home / ".local/share/opencode/opencode.db"
    child = next((home / ".gemini").rglob(f"{GEMINI_CHILD}.jsonl"))

    assert conversation_of("claude-code", str(project / f"{SESSION}.jsonl")) == SESSION
    assert conversation_of("codex", str(rollout)) == THREAD
    assert conversation_of("opencode", f"{db}#ses_0001") == "ses_0001"
    assert conversation_of("gemini", str(child)) == GEMINI_CHILD


LOOK_ONLY = """
import sys
from threadline.adapters.sources import Sources
sources = Sources()
found, _ = sources.discover(sources.default_roots())
names = {s.agent for s in found}
print(sorted(names))
print(sorted(m for m in sys.modules if m.endswith(".reader") or m.endswith(".mapping")
             or m.split(".")[0] in ("orjson", "dataclasses", "eventsourcing", "pydantic")))
"""


def test_finding_every_agents_sources_loads_no_reader_and_nothing_heavy(home: Path) -> None:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}

    done = subprocess.run(
        [sys.executable, "-c", LOOK_ONLY], env=env, capture_output=True, text=True, check=True
    )

    agents, loaded = done.stdout.splitlines()
    assert agents == str(sorted(AGENT_NAMES))
    assert loaded == "[]"


def test_every_agent_is_found_under_its_default_home_and_each_reads_its_own_sources(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(home))
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_DATA_HOME", "GEMINI_CLI_HOME"):
        monkeypatch.delenv(name, raising=False)
    sources = Sources()

    roots = sources.default_roots()
    found, problems = sources.discover(roots)

    assert sorted({r.agent for r in roots}) == sorted(AGENT_NAMES)
    assert not problems
    counts = {a: sum(s.agent == a for s in found) for a in AGENT_NAMES}
    assert counts == {"claude-code": 3, "codex": 4, "opencode": 3, "gemini": 3}


def test_a_location_is_gone_when_its_file_or_its_session_is_no_longer_there(
    home: Path,
) -> None:
    sources = Sources()
    rollout = next((home / ".codex").rglob("rollout-*.jsonl"))
    db = home / ".local/share/opencode/opencode.db"
    present, _ = sources.discover([Root("opencode", str(db))])
    roots = [Root("codex", str(home / ".codex")), Root("opencode", str(db.parent))]
    missing = [str(rollout), present[0].path, f"{db}#ses_deleted", "/elsewhere/rollout-x.jsonl"]
    rollout.unlink()

    assert sources.gone(roots, missing) == [
        Root("codex", str(rollout)),
        Root("opencode", f"{db}#ses_deleted"),
    ]


def test_an_unknown_agent_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownAgentError, match=r"unknown agent cursor .*claude-code, codex"):
        Sources(["cursor"])
