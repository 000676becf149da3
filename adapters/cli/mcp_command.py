"""``threadline mcp``: serve the archive to agents over MCP (``adapters/mcp_server.py``)."""

from __future__ import annotations

import argparse
from typing import Any

from threadline.adapters.cli.common import EXIT_OK, UserError, location_for


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "mcp",
        help="an MCP server over the archive (read-only: search, list_threads, read_thread, usage)",
    )
    p.add_argument(
        "--http",
        type=int,
        metavar="PORT",
        help="serve streamable HTTP on 127.0.0.1:PORT (path /mcp) instead of stdio",
    )
    p.set_defaults(run=cmd_mcp)


def cmd_mcp(args: argparse.Namespace) -> int:
    from threadline.adapters.mcp_server import serve

    if args.http is not None and not 0 < args.http < 65536:
        raise UserError(f"--http: not a port: {args.http}")
    serve(location_for(args), args.http)
    return EXIT_OK
