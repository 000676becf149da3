"""The real Codex CLI 0.169.0 for the tests that check what Codex makes of our exports.

The binary is the one ``.ci/package.json`` pins (``npm ci --prefix .ci``), else
``$CODEX_BIN``, else the npm install ``bench/import_bench.py`` makes in
``/tmp/codex-peer``. Without it a test that asks for the ``codex_binary`` fixture is
skipped, and under ``CI=true`` (or ``THREADLINE_REQUIRE_CODEX=1``) it fails instead:
a skipped test never counts as passing there.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CODEX_BINARY = "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"


def codex_candidates() -> list[str]:
    return [
        str(REPO / ".ci" / CODEX_BINARY),
        os.environ.get("CODEX_BIN", ""),
        f"/tmp/codex-peer/{CODEX_BINARY}",
        f"/tmp/codex-peer/npm/{CODEX_BINARY}",
    ]


def find_codex() -> str | None:
    return next((c for c in codex_candidates() if c and os.access(c, os.X_OK)), None)


def require_codex() -> str:
    """The binary; else the test is skipped, or fails under CI=true."""
    found = find_codex()
    if found is not None:
        return found
    reason = (
        "the Codex CLI 0.169.0 binary is not installed (npm ci --prefix .ci, or "
        "npm install --prefix /tmp/codex-peer @openai/codex@0.169.0, or $CODEX_BIN)"
    )
    if (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("THREADLINE_REQUIRE_CODEX") == "1"
    ):
        pytest.fail(f"{reason}; under CI=true the Codex tests must run")
    pytest.skip(reason)


class AppServer:
    """``codex app-server`` with ``CODEX_HOME=codex_home``: JSON-RPC 2.0 over stdio, one
    JSON object a line (the handshake of ``../shared/bench/drive_codex_import.py``)."""

    def __init__(self, codex: str, codex_home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
        env.update(
            HOME=str(codex_home.parent), CODEX_HOME=str(codex_home), RUST_LOG="warn", NO_COLOR="1"
        )
        self.proc = subprocess.Popen(
            [codex, "app-server", "--listen", "stdio://", "--disable", "plugins"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        init = self.request(
            "initialize",
            {
                "clientInfo": {
                    "name": "threadline_tests",
                    "title": "threadline",
                    "version": "0.1.0",
                },
                "capabilities": {"experimentalApi": True, "requestAttestation": False},
            },
        )
        assert "result" in init, init
        self._send({"jsonrpc": "2.0", "method": "initialized"})

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                self.messages.put(json.loads(raw))
            except json.JSONDecodeError:
                continue
        self.messages.put(None)

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        self.next_id += 1
        rid = self.next_id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            message = self.messages.get(timeout=timeout)
            assert message is not None, "codex app-server exited"
            if "method" in message and "id" in message:  # a request to us: we support none
                self._send(
                    {
                        "jsonrpc": "2.0",
                        "id": message["id"],
                        "error": {"code": -32601, "message": "no"},
                    }
                )
            elif message.get("id") == rid:
                return message

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def message_texts(turns: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for turn in turns:
        for item in turn.get("items", []):
            kind = item.get("type")
            if kind == "userMessage":
                text = "".join(
                    c.get("text", "") for c in item.get("content", []) if isinstance(c, dict)
                )
                out.append(("user", text))
            elif kind == "agentMessage":
                out.append(("agent", item.get("text", "")))
    return out
