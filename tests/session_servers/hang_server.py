"""An MCP server that hangs: it never answers and ignores its stdin closing.

``PID_FILE`` gets its process id.
"""

import os
import time

if pid_file := os.environ.get("PID_FILE"):
    with open(pid_file, "w") as f:
        f.write(str(os.getpid()))
while True:
    time.sleep(60)
