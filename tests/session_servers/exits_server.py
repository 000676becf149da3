"""An MCP server that exits during start-up, before answering ``initialize``."""

import sys

sys.stderr.write("exits_server: missing API key\n")
sys.exit(3)
