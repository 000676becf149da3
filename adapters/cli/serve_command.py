"""``threadline serve``: the web app on a local port (``adapters/web``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

DEFAULT_PORT = 8765
KEPT_CONNECTIONS = 8
"""PostgreSQL connections the app keeps open between requests (one per request at once)."""


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("serve", help="read the threads in a browser (a local web app)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"(default {DEFAULT_PORT}; 0: any free)"
    )
    p.add_argument("--open", action="store_true", help="open the page in a browser")
    p.set_defaults(run=cmd_serve)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        import ipaddress  # here: every command's start-up imports this module

        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    import secrets
    import socket
    import threading
    import webbrowser

    import uvicorn

    from threadline.adapters.cli.common import EXIT_OK, UserError
    from threadline.adapters.web.app import create_app
    from threadline.adapters.web.reading import Reader

    loopback = is_loopback(args.host)
    token = None if loopback else secrets.token_urlsafe(24)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response's head and body go out at once, not
    # 40 ms apart (Nagle's algorithm waiting for a delayed ACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((args.host, args.port))
        sock.listen(128)  # connections wait from now on, while the app starts
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    port = sock.getsockname()[1]
    shown_host = args.host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    url = f"http://{shown_host}:{port}/"
    if token is not None:
        print(
            f"threadline: warning: serving on {args.host}, which is not a loopback address: "
            "anyone who can reach it and has the token can read every thread",
            file=sys.stderr,
        )
        url += f"?token={token}"
    print(f"threadline: serving {url} (Ctrl-C stops)", file=sys.stderr, flush=True)
    reader = Reader(args.home, args.database_url, keep=KEPT_CONNECTIONS)
    app = create_app(reader, token=token, loopback=loopback)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    if args.open:
        threading.Timer(0.5, webbrowser.open, [url]).start()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        reader.close()
    return EXIT_OK
