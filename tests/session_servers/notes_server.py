"""An MCP server written with the ``mcp`` SDK: two tools over stdio.

``START_DELAY_SEC`` makes it take that long before it serves (a slow start);
``PID_FILE`` gets its process id, so a test can check it is gone afterwards.
"""

from __future__ import annotations

import os
import time

from mcp.server.mcpserver import MCPServer

server = MCPServer("notes")
notes: list[str] = []


@server.tool()
def add_note(text: str) -> int:
    """Keep a note; returns how many there are."""
    notes.append(text)
    return len(notes)


@server.tool()
def list_notes() -> list[str]:
    """Every note kept so far."""
    return notes


if __name__ == "__main__":
    if pid_file := os.environ.get("PID_FILE"):
        with open(pid_file, "w") as f:
            f.write(str(os.getpid()))
    time.sleep(float(os.environ.get("START_DELAY_SEC", "0")))
    server.run()
