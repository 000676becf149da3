"""``threadline export THREAD --format html|markdown|json``: one thread as a document,
its sub-agent threads included where they were spawned."""

from __future__ import annotations

import argparse
import sys
from typing import Any

FORMATS = ("html", "markdown", "json")


def add_export_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="write one thread as HTML, Markdown or JSON")
    p.add_argument("thread_id", metavar="THREAD", help="a thread id (a unique prefix is enough)")
    p.add_argument("--format", choices=FORMATS, default="html", help="(default html)")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    p.add_argument("--no-subagents", action="store_true", help="leave the sub-agent threads out")
    p.set_defaults(run=cmd_export)


Row = dict[str, Any]


def cmd_export(args: argparse.Namespace) -> int:
    from threadline.adapters.cli.common import EXIT_OK, EXIT_PROBLEMS, UserError
    from threadline.adapters.web.reading import NotFoundError, Reader

    reader = Reader(args.home, args.database_url)
    with reader.session() as session:
        from threadline.application import views

        try:
            thread_id = views.resolve_thread(session.queries, args.thread_id)
        except views.ThreadNotFoundError as exc:
            raise UserError(str(exc), EXIT_PROBLEMS) from exc
        except views.AmbiguousThreadError as exc:
            raise UserError(str(exc)) from exc
        try:
            document = _document(session, thread_id, not args.no_subagents, set())
        except NotFoundError as exc:
            raise UserError(f"no thread {exc}", EXIT_PROBLEMS) from exc
        if args.format == "html":
            data = _html(session, document).encode()
    if args.format == "markdown":
        data = _markdown(document).encode()
    elif args.format == "json":
        import orjson

        data = orjson.dumps(_json(document), option=orjson.OPT_INDENT_2) + b"\n"
    _write(args.output, data)
    return EXIT_OK


def _document(session: Any, thread_id: str, subagents: bool, seen: set[str]) -> Row:
    """A thread, all its items, and (recursively) its sub-agent threads by spawning call."""
    seen.add(thread_id)
    thread = session.thread(thread_id)
    items = session.items(thread_id)
    children: dict[str, Row] = {}
    if subagents:
        for call_id, row in session.subagents(thread_id).items():
            if row["thread_id"] not in seen:
                children[call_id] = _document(session, row["thread_id"], True, seen)
    return {"thread": thread, "items": items, "subagents": children}


def _json(document: Row) -> Row:
    """``show --json``'s document, and each sub-agent thread's under ``subagents`` (its
    ``thread.spawned_by_call_id`` names the call that spawned it)."""
    out: Row = {"thread": document["thread"], "items": document["items"], "next_position": None}
    if document["subagents"]:
        out["subagents"] = [_json(child) for child in document["subagents"].values()]
    return out


def _markdown(document: Row) -> str:
    """``show --markdown``'s document; each sub-agent thread's, quoted, after the tool call
    that spawned it."""
    from threadline.adapters.cli import render

    thread, items, children = document["thread"], document["items"], document["subagents"]
    header = render.markdown(thread, [])
    parts, segment = [header], []
    for item in items:
        segment.append(item)
        if item["type"] == "tool_call" and item["call_id"] in children:
            parts.append(render.markdown(thread, segment)[len(header) :])
            segment = []
            child = _markdown(children[item["call_id"]])
            quoted = "\n".join(("> " + line).rstrip() for line in child.splitlines())
            parts.append(f"\n> **sub-agent thread**\n>\n{quoted}\n")
    if segment:
        parts.append(render.markdown(thread, segment)[len(header) :])
    return "".join(parts)


def _html(session: Any, document: Row) -> str:
    from contextlib import suppress

    from threadline.adapters.web import present
    from threadline.adapters.web.reading import NotFoundError
    from threadline.adapters.web.render import Renderer

    def entries(doc: Row) -> list[Any]:
        found = present.entries(
            doc["items"], {k: v["thread"] for k, v in doc["subagents"].items()}, limit=None
        )
        for entry in found:
            child = doc["subagents"].get(entry.call_id) if entry.kind == "tool" else None
            if child is not None:
                entry.subagent_entries = entries(child)
        return found

    thread = document["thread"]
    parent = None
    if thread.get("parent_thread_id"):
        with suppress(NotFoundError):
            parent = session.thread(thread["parent_thread_id"])
    return Renderer().export(
        thread=thread,
        parent=parent,
        entries=entries(document),
        start=0,
        next_position=None,
        prefix="item-",
        blobs=session.blob,
    )


def _write(path: str | None, data: bytes) -> None:
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    with open(path, "wb") as f:
        f.write(data)
