"""``threadline export THREAD --format html|markdown|json``: one thread as a document,
its sub-agent threads included where they were spawned; ``--format codex``: the thread
as a Codex rollout in a Codex home, recorded on the thread (``application/exports.py``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

FORMATS = ("html", "markdown", "json", "codex")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("export", help="write one thread as HTML, Markdown, JSON or for Codex")
    p.add_argument("thread_id", metavar="THREAD", help="a thread id (a unique prefix is enough)")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="html",
        help="(default html) codex: a rollout the Codex CLI lists, reads and resumes",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    p.add_argument(
        "--codex-home",
        metavar="DIR",
        help="with --format codex: the Codex home to write into (default $CODEX_HOME, "
        "else ~/.codex)",
    )
    p.add_argument("--json", action="store_true", help="with --format codex: what was done")
    p.add_argument("--no-subagents", action="store_true", help="leave the sub-agent threads out")
    p.set_defaults(run=cmd_export)


Row = dict[str, Any]


def cmd_export(args: argparse.Namespace) -> int:
    from threadline.adapters.cli.common import EXIT_OK, EXIT_PROBLEMS, UserError
    from threadline.adapters.web.reading import NotFoundError, Reader

    if (args.codex_home or args.json) and args.format != "codex":
        raise UserError("--codex-home and --json go with --format codex")
    if args.output and args.format == "codex":
        raise UserError("--format codex writes into a Codex home (--codex-home), not -o")
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
            if args.format == "codex":
                thread, items = session.thread(thread_id), session.items(thread_id)
            else:
                document = _document(session, thread_id, not args.no_subagents, set())
        except NotFoundError as exc:
            raise UserError(f"no thread {exc}", EXIT_PROBLEMS) from exc
        if args.format == "html":
            data = _html(session, document).encode()
    if args.format == "codex":
        return _export_codex(args, thread, items)
    if args.format == "markdown":
        data = _markdown(document).encode()
    elif args.format == "json":
        import orjson

        data = orjson.dumps(_json(document), option=orjson.OPT_INDENT_2) + b"\n"
    _write(args.output, data)
    return EXIT_OK


def _export_codex(args: argparse.Namespace, thread: Row, items: list[Row]) -> int:
    """Write the rollout, record the export on the thread, say what was done."""
    import os
    from uuid import UUID

    from eventsourcing.application import AggregateNotFoundError

    from threadline.adapters.cli.common import (
        EXIT_FAILED,
        EXIT_OK,
        EXIT_PROBLEMS,
        UserError,
        print_json,
        store_for,
    )
    from threadline.adapters.codex import AGENT
    from threadline.adapters.codex.discovery import default_roots
    from threadline.adapters.codex.export import ContinuedInCodexError
    from threadline.adapters.codex.export import export_thread as write_rollout
    from threadline.application.exports import Written, export_thread

    home = os.path.abspath(args.codex_home or default_roots()[0])

    def write() -> Written:
        done = write_rollout(thread, items, home)
        return Written(
            agent=AGENT,
            target=home,
            rollout_id=done.codex_thread_id,
            path=done.path,
            sha256=done.sha256,
            written=done.written or done.name_written,
        )

    with store_for(args) as store:
        try:
            result = export_thread(store.app, UUID(thread["thread_id"]), write)
        except AggregateNotFoundError as exc:
            raise UserError(f"no thread {thread['thread_id']} in the store", EXIT_PROBLEMS) from exc
        except ContinuedInCodexError as exc:
            raise UserError(str(exc), EXIT_PROBLEMS) from exc
        except OSError as exc:
            where = exc.filename or home
            raise UserError(f"cannot write to {where}: {exc.strerror or exc}", EXIT_FAILED) from exc
    out = result.written
    if args.json:
        print_json(
            {
                "thread_id": thread["thread_id"],
                "codex_home": out.target,
                "codex_thread_id": out.rollout_id,
                "path": out.path,
                "written": out.written,
                "recorded": result.recorded,
            }
        )
    else:
        said = "exported to" if out.written else "already exported, unchanged:"
        print(f"{thread['thread_id'][:8]} {said} {out.path}")
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
