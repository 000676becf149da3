"""``threadline serve``: a read-only local web app over the read models.

Starlette routes, Jinja2 templates (autoescaped), assets from ``static/``; every
request reads through ``reading.Reader`` (one read port, either store). Only GET
and HEAD exist; a strict Content-Security-Policy allows our own scripts alone.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import suppress
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from threadline.adapters.web import present
from threadline.adapters.web.reading import ListFilters, NotFoundError, Reader, Session
from threadline.adapters.web.render import Renderer

HERE = Path(__file__).parent
PAGE_ITEMS = 60
"""Items in a thread page's first screen; the rest come a page at a time as you scroll."""
MORE_ITEMS = 200
TEXT_CHUNK = 1024 * 1024
"""Characters of a long text sent per "load the rest" request."""
LIST_LIMIT = 100
SEARCH_LIMIT = 20
"""Matches on a search page (as ``threadline search``); ``?limit=`` shows more."""
TOKEN_COOKIE = "threadline_token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
BLOB_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
"""Images served as themselves; anything else (SVG can script) as bytes to download."""
_KEY = re.compile(r"[0-9a-f]{16,128}")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def create_app(reader: Reader, token: str | None = None, loopback: bool = True) -> ASGIApp:
    """The web app; with ``token``, every request must carry it (cookie, header, or once
    as ``?token=`` which sets the cookie); on a loopback bind, only local Host names."""
    views = Views(reader, Renderer())
    app = Starlette(
        routes=[
            Route("/", views.thread_list),
            Route("/search", views.search),
            Route("/thread/{thread_id}", views.thread),
            Route("/thread/{thread_id}/items", views.items),
            Route("/thread/{thread_id}/item/{position:int}/text", views.text),
            Route("/blob/{key}", views.blob),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
    )
    return Guard(app, token, loopback)


class Views:
    def __init__(self, reader: Reader, renderer: Renderer) -> None:
        self.reader = reader
        self.render = renderer

    def thread_list(self, request: Request) -> Response:
        q = request.query_params
        filters = ListFilters(
            agent=q.get("agent", "").strip(),
            cwd=q.get("cwd", "").strip(),
            since=q.get("since", "").strip(),
            until=q.get("until", "").strip(),
            parent=q.get("parent", "").strip(),
            archived=q.get("archived", ""),
            cursor=q.get("cursor", ""),
            limit=_int(q.get("limit"), LIST_LIMIT, 1, 5000),
        )
        error = None
        with self.reader.session() as session:
            try:
                page = session.thread_list(filters)
            except (ValueError, NotFoundError) as exc:
                error = f"no thread {exc}" if isinstance(exc, NotFoundError) else str(exc)
                page = None
        next_url = None
        if page is not None and page.next_cursor:
            kept = [(k, v) for k, v in q.multi_items() if k != "cursor" and v]
            next_url = "/?" + urlencode([*kept, ("cursor", page.next_cursor)])
        html = self.render.page(
            "list.html",
            filters=filters,
            page=page,
            rows=present.list_rows(page.rows) if page is not None else [],
            error=error,
            next_url=next_url,
            first_page=not filters.cursor,
        )
        return HTMLResponse(html, status_code=400 if error else 200)

    def search(self, request: Request) -> Response:
        text = request.query_params.get("q", "").strip()
        rows, error = [], None
        if text:
            with self.reader.session(search=True) as session:
                try:
                    limit = _int(request.query_params.get("limit"), SEARCH_LIMIT, 1, 500)
                    rows = session.search(text, limit)
                except ValueError as exc:
                    error = str(exc)
        html = self.render.page("search.html", q=text, rows=rows, error=error)
        return HTMLResponse(html)

    def thread(self, request: Request) -> Response:
        start = _int(request.query_params.get("from"), 0, 0, None)
        with self.reader.session() as session:
            try:
                thread_id = session.resolve(request.path_params["thread_id"])
            except NotFoundError:
                return self._missing(request.path_params["thread_id"])
            thread = session.thread(thread_id)
            items = session.items(thread_id, start, PAGE_ITEMS)
            subagents = session.subagents(thread_id)
            parent = _parent(session, thread)
        html = self.render.page(
            "thread.html",
            thread=thread,
            parent=parent,
            entries=present.entries(items, subagents),
            start=start,
            next_position=_next(items, thread, start),
            prefix="item-",
        )
        return HTMLResponse(html)

    def items(self, request: Request) -> Response:
        """A page of a thread's entries as an HTML fragment, for scrolling, live updates
        and sub-agents opened in place; ``X-Next`` is where the next page starts (empty
        at the end), ``X-Item-Count`` how many items the thread has now."""
        q = request.query_params
        start = _int(q.get("from"), 0, 0, None)
        limit = _int(q.get("limit"), MORE_ITEMS, 1, 1000)
        with self.reader.session() as session:
            try:
                thread_id = session.resolve(request.path_params["thread_id"])
            except NotFoundError:
                return PlainTextResponse("no such thread", status_code=404)
            thread = session.thread(thread_id)
            if start >= thread["item_count"]:
                return Response(status_code=204, headers=_counts(None, thread))
            items = session.items(thread_id, start, limit)
            subagents = session.subagents(thread_id)
        prefix = "item-" if not q.get("embed") else f"sub-{thread_id[:8]}-item-"
        html = self.render.fragment(
            thread=thread, entries=present.entries(items, subagents), prefix=prefix
        )
        return HTMLResponse(html, headers=_counts(_next(items, thread, start), thread))

    def text(self, request: Request) -> Response:
        """An item's whole text as plain text: from ``offset`` (characters), a chunk at a
        time; or with ``all=1`` all of it, streamed."""
        q = request.query_params
        position = request.path_params["position"]
        with self.reader.session() as session:
            try:
                thread_id = session.resolve(request.path_params["thread_id"])
                item = session.item(thread_id, position)
            except NotFoundError:
                return PlainTextResponse("no such item", status_code=404)
        part = _int(q.get("part"), 0, 0, None)
        if item["type"] in ("user", "assistant") and part >= len(item["parts"]):
            return PlainTextResponse("no such part", status_code=404)
        text = present.part_text(item, part)
        headers = {"X-Total-Chars": str(len(text))}
        if q.get("all"):
            return StreamingResponse(_chunks(text), media_type="text/plain; charset=utf-8")
        offset = _int(q.get("offset"), 0, 0, None)
        chunk = text[offset : offset + TEXT_CHUNK]
        end = offset + len(chunk)
        headers["X-Next-Offset"] = str(end) if end < len(text) else ""
        return PlainTextResponse(chunk, headers=headers)

    def blob(self, request: Request) -> Response:
        key = request.path_params["key"]
        if not _KEY.fullmatch(key):
            return PlainTextResponse("not a blob key", status_code=404)
        with self.reader.session() as session:
            try:
                data = session.blob(key)
            except NotFoundError:
                return PlainTextResponse("no such blob", status_code=404)
        kind = request.query_params.get("type", "")
        media_type = kind if kind in IMAGE_TYPES else "application/octet-stream"
        headers = {"Content-Security-Policy": BLOB_CSP, "Cache-Control": "max-age=31536000"}
        if media_type == "application/octet-stream":
            headers["Content-Disposition"] = "attachment"
        return Response(data, media_type=media_type, headers=headers)

    def _missing(self, name: str) -> Response:
        html = self.render.page("missing.html", name=name)
        return HTMLResponse(html, status_code=404)


def _parent(session: Session, thread: dict[str, Any]) -> dict[str, Any] | None:
    if not thread.get("parent_thread_id"):
        return None
    try:
        return session.thread(thread["parent_thread_id"])
    except NotFoundError:
        return None


def _next(items: list[dict[str, Any]], thread: dict[str, Any], start: int) -> int | None:
    last = items[-1]["position"] if items else start - 1
    return last + 1 if last + 1 < thread["item_count"] else None


def _counts(next_position: int | None, thread: dict[str, Any]) -> dict[str, str]:
    return {
        "X-Next": "" if next_position is None else str(next_position),
        "X-Item-Count": str(thread["item_count"]),
        "Cache-Control": "no-store",
    }


def _chunks(text: str) -> Iterator[bytes]:
    for start in range(0, len(text), TEXT_CHUNK):
        yield text[start : start + TEXT_CHUNK].encode("utf-8", "replace")


def _int(value: str | None, default: int, low: int, high: int | None) -> int:
    try:
        n = int(value) if value else default
    except ValueError:
        n = default
    n = max(n, low)
    return n if high is None else min(n, high)


class Guard:
    """Around the app: only GET and HEAD; local Host names on a loopback bind (no DNS
    rebinding); the token when one is set; security headers on every response."""

    def __init__(self, app: ASGIApp, token: str | None, loopback: bool) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if self.token is not None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            given = query.pop("token", None)
            if given is not None and hmac.compare_digest(given, self.token):
                location = scope["path"] + ("?" + urlencode(query) if query else "")
                cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                response = Response(
                    status_code=303, headers={"Location": location, "Set-Cookie": cookie}
                )
                await _secured(response)(scope, receive, send)
                return
            if not self._has_token(headers):
                response = PlainTextResponse(
                    "a token is required: open the URL that `threadline serve` printed",
                    status_code=401,
                )
                await _secured(response)(scope, receive, send)
                return

        started = time.perf_counter()

        async def send_secured(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                took = (time.perf_counter() - started) * 1000
                raw.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                names = {k.lower() for k, _ in raw}
                for name, value in SECURITY_HEADERS:
                    if name.encode() not in names:
                        raw.append((name.encode(), value.encode()))
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_secured)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> Response | None:
        if scope["method"] not in ("GET", "HEAD"):
            return _secured(
                PlainTextResponse("read-only", status_code=405, headers={"Allow": "GET, HEAD"})
            )
        if self.loopback:
            host = headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
            if name not in ("127.0.0.1", "localhost", "[::1]"):
                return _secured(PlainTextResponse("unknown host", status_code=400))
        return None

    def _has_token(self, headers: dict[str, str]) -> bool:
        assert self.token is not None
        candidates = [headers.get("x-threadline-token", "")]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            candidates.append(auth[7:].strip())
        cookie = SimpleCookie()
        with suppress(CookieError):
            cookie.load(headers.get("cookie", ""))
        if TOKEN_COOKIE in cookie:
            candidates.append(cookie[TOKEN_COOKIE].value)
        return any(c and hmac.compare_digest(c, self.token) for c in candidates)


SECURITY_HEADERS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-resource-policy", "same-origin"),
)


def _secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    return response
