#!/usr/bin/env python3
"""Deterministic synthetic Codex home (rollouts), for the Codex import benchmark.

Usage:
    gen_codex_fixture.py OUT_CODEX_HOME SESSIONS TOTAL_MIB SEED [--base-time ISO]
                         [--projects N] [--max-tool-kib K]

Writes, under OUT_CODEX_HOME (used as $CODEX_HOME, or as $HOME/.codex):
    sessions/YYYY/MM/DD/rollout-YYYY-MM-DDTHH-MM-SS-<uuid>.jsonl   the rollouts
    session_index.jsonl                                            names of some threads

Same arguments -> byte-identical files (cwd strings are fixed fake paths, so the
output does not depend on OUT_CODEX_HOME). Modelled on
../shared/bench/gen_claude_fixture.py.

Line shapes follow what Codex 0.169 writes (tests/fixtures/codex/real/exec/,
../shared/formats/codex.md): `session_meta` first (with its ~20 KB
`base_instructions`), then per turn `event_msg/task_started`, the developer and
`<environment_context>` messages on the first turn, `turn_context`, the prompt as
`response_item/message` (role user) and `event_msg/user_message`, `reasoning`
(summary + opaque `encrypted_content`) with `event_msg/agent_reasoning`,
`function_call` (`exec_command`, arguments a JSON string) with its
`function_call_output`, `custom_tool_call` (`apply_patch`) with its
`custom_tool_call_output`, `event_msg/token_count` after each model response,
the answer as `response_item/message` (role assistant) and
`event_msg/agent_message`, and `event_msg/task_complete`. Size comes mostly from
tool outputs: most are small, a few percent are large (64 KiB up to 1 MiB, capped
by --max-tool-kib).
"""

# ruff: noqa: UP031  (printf-style, as gen_claude_fixture.py: the lines are log-like text)
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

MIB = 1024 * 1024
WORDS = (  # noqa: SIM905
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
    "omicron pi rho sigma tau upsilon phi chi psi omega build test cargo pytest "
    "import export session thread rollout ledger parse json line error warning "
    "ok done file path src lib main index config user assistant tool result"
).split()
COMMANDS = ("rg -n", "ls -la", "cargo test", "pytest -q", "git diff", "sed -n 1,200p", "cat")


def dumps(obj: Any) -> str:
    # serde_json style: no spaces, raw non-ASCII.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def make_pool(rng: random.Random, size: int) -> str:
    """A deterministic block of log/listing-like text to slice tool outputs from."""
    lines = []
    total = 0
    n = 0
    while total < size:
        kind = rng.randrange(5)
        if kind == 0:
            line = "-rw-r--r-- 1 user staff %7d Nov %2d %02d:%02d src/%s/%s_%d.rs" % (
                rng.randrange(100, 9_999_999),
                rng.randrange(1, 29),
                rng.randrange(24),
                rng.randrange(60),
                rng.choice(WORDS),
                rng.choice(WORDS),
                rng.randrange(1000),
            )
        elif kind == 1:
            line = "test %s::%s_%d ... %s" % (
                rng.choice(WORDS),
                rng.choice(WORDS),
                n,
                rng.choice(("ok", "ok", "ok", "FAILED", "ignored")),
            )
        elif kind == 2:
            line = "%s:%d:%d: %s" % (
                "src/" + rng.choice(WORDS) + ".py",
                rng.randrange(1, 3000),
                rng.randrange(1, 120),
                " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 14))),
            )
        elif kind == 3:
            line = "    %6d\t%s" % (
                n,
                " ".join(rng.choice(WORDS) for _ in range(rng.randrange(2, 18))),
            )
        else:
            line = '[%s] {"k": "%s", "v": %d, "tab": "a\\tb", "q": "\\"x\\""} é ✓' % (
                rng.choice(("INFO", "WARN", "DEBUG")),
                rng.choice(WORDS),
                rng.randrange(10**6),
            )
        lines.append(line)
        total += len(line) + 1
        n += 1
    return "\n".join(lines) + "\n"


def sentence(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(lo, hi))).capitalize() + "."


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def uuid7(rng: random.Random, t: dt.datetime) -> str:
    """A UUIDv7 as Codex makes them: 48 bits of Unix milliseconds, then random bits."""
    ms = int(t.timestamp() * 1000)
    value = (ms << 80) | rng.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


BASE_INSTRUCTIONS = (
    "You are Codex, a coding agent based on GPT-5. You and the user share the same "
    "workspace and collaborate to achieve the user's goals.\n\n"
)


class RolloutWriter:
    """Writes one rollout, turn by turn, counting its bytes."""

    def __init__(
        self,
        rng: random.Random,
        pool: str,
        fh: TextIO,
        thread_id: str,
        cwd: str,
        start: dt.datetime,
    ) -> None:
        self.rng = rng
        self.pool = pool
        self.fh = fh
        self.tid = thread_id
        self.cwd = cwd
        self.t = start
        self.bytes = 0
        self.ordinal = 0
        self.sequence = 0
        self.call = 0
        self.total = {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0}
        self.turn_id = ""

    def _tick(self, lo_ms: int = 5, hi_ms: int = 4000) -> None:
        self.t += dt.timedelta(milliseconds=self.rng.randrange(lo_ms, hi_ms))

    def write(self, kind: str, payload: dict[str, Any], **extra: Any) -> None:
        record = {
            "timestamp": iso(self.t),
            "ordinal": self.ordinal,
            "type": kind,
            "payload": payload,
        }
        record.update(extra)
        line = dumps(record) + "\n"
        self.fh.write(line)
        self.bytes += len(line.encode("utf-8"))
        self.ordinal += 1

    def item(self, payload: dict[str, Any]) -> None:
        self.sequence += 1
        payload["internal_chat_message_metadata_passthrough"] = {"turn_id": self.turn_id}
        self.write(
            "response_item",
            payload,
            metadata={"history_sequence": self.sequence, "client_authored": False},
        )

    def session_meta(self, index: int) -> None:
        self.write(
            "session_meta",
            {
                "session_id": self.tid,
                "id": self.tid,
                "timestamp": iso(self.t),
                "cwd": self.cwd,
                "originator": "codex_cli_rs" if index % 4 else "codex_exec",
                "cli_version": "0.169.0",
                "source": "cli" if index % 4 else "exec",
                "thread_source": "user",
                "model_provider": "openai",
                "base_instructions": {"text": BASE_INSTRUCTIONS * 120},
                "git": {
                    "commit_hash": f"{self.rng.getrandbits(160):040x}",
                    "branch": self.rng.choice(("main", "dev", f"fix/{self.rng.choice(WORDS)}")),
                    "repository_url": "git@github.com:example/{}.git".format(
                        self.cwd.rsplit("/", 1)[-1]
                    ),
                },
                "history_mode": "paginated",
            },
        )

    def message(self, role: str, text: str) -> None:
        kind = "output_text" if role == "assistant" else "input_text"
        self.item(
            {
                "type": "message",
                "id": "msg_" + uuid7(self.rng, self.t),
                "role": role,
                "content": [{"type": kind, "text": text}],
            }
        )

    def token_count(self) -> None:
        last = {
            "input_tokens": self.rng.randrange(2_000, 60_000),
            "cached_input_tokens": self.rng.randrange(0, 2_000),
            "output_tokens": self.rng.randrange(20, 2_000),
        }
        last["reasoning_output_tokens"] = last["output_tokens"] // 4
        last["total_tokens"] = last["input_tokens"] + last["output_tokens"]
        for key in self.total:
            self.total[key] += last[key]
        total = dict(self.total)
        total["reasoning_output_tokens"] = total["output_tokens"] // 4
        total["total_tokens"] = total["input_tokens"] + total["output_tokens"]
        self.write(
            "event_msg",
            {
                "type": "token_count",
                "info": {
                    "total_token_usage": total,
                    "last_token_usage": last,
                    "model_context_window": 258_400,
                },
                "rate_limits": {"limit_id": "codex", "primary": None, "secondary": None},
            },
        )

    def tool_output(self, big: bool, max_bytes: int) -> str:
        if big:
            size = self.rng.randrange(64 * 1024, 1024 * 1024)
        else:
            size = int(self.rng.paretovariate(1.2) * 300)
        size = min(size, max_bytes, len(self.pool) - 1)
        start = self.rng.randrange(0, len(self.pool) - size)
        return self.pool[start : start + size]

    def turn(self, first: bool, max_tool_bytes: int, big_share: float) -> None:
        self.turn_id = uuid7(self.rng, self.t)
        self.write(
            "event_msg",
            {
                "type": "task_started",
                "turn_id": self.turn_id,
                "started_at": int(self.t.timestamp()),
                "model_context_window": 258_400,
            },
        )
        if first:
            self.message("developer", "<permissions instructions>\n" + sentence(self.rng, 40, 120))
            self.message(
                "user",
                f"<environment_context>\n  <cwd>{self.cwd}</cwd>\n  <shell>bash</shell>\n"
                "</environment_context>",
            )
        model = self.rng.choice(("gpt-5.1-codex", "gpt-5.1-codex", "gpt-5.1"))
        self.write(
            "turn_context",
            {
                "turn_id": self.turn_id,
                "cwd": self.cwd,
                "approval_policy": "on-request",
                "sandbox_policy": {"type": "workspace-write"},
                "model": model,
                "effort": self.rng.choice(("low", "medium", "high")),
                "summary": "auto",
            },
        )
        prompt = sentence(self.rng, 6, 60)
        self._tick(2000, 60000)
        self.message("user", prompt)
        self.write(
            "event_msg",
            {"type": "user_message", "message": prompt, "images": [], "local_images": []},
        )
        for _ in range(self.rng.randrange(0, 7)):
            self._tick()
            summary = f"**{sentence(self.rng, 2, 5)}**\n\n{sentence(self.rng, 8, 40)}"
            self.write("event_msg", {"type": "agent_reasoning", "text": summary})
            self.item(
                {
                    "type": "reasoning",
                    "id": "rs_%d" % self.call,
                    "summary": [{"type": "summary_text", "text": summary}],
                    "content": None,
                    "encrypted_content": "gAAAAAB" + f"{self.rng.getrandbits(1600):x}",
                }
            )
            self.call += 1
            call_id = "call_{}".format(uuid7(self.rng, self.t).replace("-", "")[:24])
            big = self.rng.random() < big_share
            if self.rng.random() < 0.2:
                name = self.rng.choice(WORDS)
                old, new = sentence(self.rng, 4, 12), sentence(self.rng, 4, 12)
                patch = (
                    f"*** Begin Patch\n*** Update File: src/{name}.py\n@@\n-{old}\n+{new}\n"
                    "*** End Patch\n"
                )
                self.item(
                    {
                        "type": "custom_tool_call",
                        "status": "completed",
                        "call_id": call_id,
                        "name": "apply_patch",
                        "input": patch,
                    }
                )
                self.token_count()
                self._tick()
                self.item(
                    {
                        "type": "custom_tool_call_output",
                        "call_id": call_id,
                        "output": "Exit code: 0\nWall time: 0 seconds\nOutput:\n"
                        "Success. Updated the following files:\nM src/x.py\n",
                    }
                )
            else:
                command = f"{self.rng.choice(COMMANDS)} {self.rng.choice(WORDS)}"
                self.item(
                    {
                        "type": "function_call",
                        "name": "exec_command",
                        "arguments": dumps({"cmd": command, "workdir": self.cwd}),
                        "call_id": call_id,
                    }
                )
                self.token_count()
                self._tick()
                body = self.tool_output(big, max_tool_bytes)
                self.item(
                    {
                        "type": "function_call_output",
                        "call_id": call_id,
                        "output": "Chunk ID: %06x\nWall time: 0.%03d seconds\nProcess exited with "
                        "code 0\nOriginal token count: %d\nOutput:\n%s"
                        % (
                            self.rng.getrandbits(24),
                            self.rng.randrange(1000),
                            len(body) // 4,
                            body,
                        ),
                    }
                )
        self._tick()
        answer = " ".join(sentence(self.rng, 5, 30) for _ in range(self.rng.randrange(1, 6)))
        self.write("event_msg", {"type": "agent_message", "message": answer})
        self.message("assistant", answer)
        self.token_count()
        self.write(
            "event_msg",
            {
                "type": "task_complete",
                "turn_id": self.turn_id,
                "last_agent_message": answer,
                "completed_at": int(self.t.timestamp()),
            },
        )


def generate(
    out: Path,
    sessions: int,
    total_mib: float,
    seed: int,
    base_time: dt.datetime,
    projects: int,
    max_tool_kib: int,
) -> tuple[int, int]:
    """Write the tree; return (rollouts written, bytes written)."""
    rng = random.Random(seed)
    pool = make_pool(random.Random(seed + 1), 4 * MIB)
    budget = int(total_mib * MIB)
    weights = [rng.paretovariate(1.5) for _ in range(sessions)]
    left = sum(weights)
    max_tool_bytes = max_tool_kib * 1024 if max_tool_kib else 1024 * 1024
    written = 0
    floors = 0  # bytes of the rollouts' first turns (with their session_meta)
    names = []
    t = base_time
    for index in range(sessions):
        t += dt.timedelta(seconds=rng.randrange(60, 4 * 3600))
        thread_id = uuid7(rng, t)
        cwd = "/home/dev/work/proj-%02d" % rng.randrange(projects)
        folder = out / "sessions" / t.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / ("rollout-{}-{}.jsonl".format(t.strftime("%Y-%m-%dT%H-%M-%S"), thread_id))
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            writer = RolloutWriter(rng, pool, fh, thread_id, cwd, t)
            writer.session_meta(index)
            writer.turn(True, max_tool_bytes, big_share=0.03)  # every rollout has a turn
            first = writer.bytes
            floors += first
            # What is left of the budget, less the first turns still to write (as large as
            # the ones so far), shared by weight among the sessions still to write: a
            # session that ran over (a turn is written whole) is made up by the rest.
            ahead = floors / (index + 1) * (sessions - index - 1)
            spare = max(budget - written - first - ahead, 0)
            target = first + spare * weights[index] / left
            left -= weights[index]
            while writer.bytes < target:
                writer.turn(False, max_tool_bytes, big_share=0.03)
        written += writer.bytes
        if index % 5 == 0:
            names.append(
                {"id": thread_id, "thread_name": sentence(rng, 2, 6), "updated_at": iso(writer.t)}
            )
    with (out / "session_index.jsonl").open("w", encoding="utf-8") as fh:
        for name in names:
            fh.write(dumps(name) + "\n")
    return sessions, written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out_codex_home", type=Path)
    ap.add_argument("sessions", type=int)
    ap.add_argument("total_mib", type=float)
    ap.add_argument("seed", type=int)
    ap.add_argument("--base-time", default="2026-11-01T09:00:00Z")
    ap.add_argument("--projects", type=int, default=8)
    ap.add_argument("--max-tool-kib", type=int, default=0, help="cap each tool output (0: 1 MiB)")
    args = ap.parse_args(argv)
    base = dt.datetime.fromisoformat(args.base_time.replace("Z", "+00:00"))
    count, size = generate(
        args.out_codex_home,
        args.sessions,
        args.total_mib,
        args.seed,
        base,
        args.projects,
        args.max_tool_kib,
    )
    print(f"wrote {count} rollouts, {size / MIB:.1f} MiB, under {args.out_codex_home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
