"""A minimal MCP server over stdio that needs ``START_DELAY_SEC`` (default 0.3 s) to start.

Standard library only, so that the delay is the start-up time rather than
Python importing an SDK: it sleeps, then answers ``initialize`` and
``tools/list`` with one tool and ignores notifications.
"""

from __future__ import annotations

import json
import os
import sys
import time

time.sleep(float(os.environ.get("START_DELAY_SEC", "0.3")))
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    method = message.get("method")
    if method == "initialize":
        result: dict[str, object] = {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "slow", "version": "1"},
        }
    elif method == "tools/list":
        result = {
            "tools": [{"name": "ping", "description": "pong", "inputSchema": {"type": "object"}}]
        }
    else:
        error = {"code": -32601, "message": f"no method {method}"}
        print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "error": error}), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), flush=True)
