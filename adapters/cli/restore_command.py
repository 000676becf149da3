"""``threadline restore``: the original transcript files, written back byte for byte."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from threadline.adapters.cli.common import EXIT_OK, EXIT_PROBLEMS

if TYPE_CHECKING:
    from threadline.application.restore import RecordedSource, Restored


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "restore",
        help="write imported transcripts back to disk, byte for byte",
        description="Write each source's bytes back at its own layout (Claude Code: "
        "projects/<slug>/<session>.jsonl, a sub-agent's with its agent-<id>.meta.json). With "
        "--to, under DIR; without, into the agent's home ($CLAUDE_CONFIG_DIR or ~/.claude), "
        "only where the file is missing.",
    )
    p.add_argument(
        "threads", nargs="*", metavar="THREAD", help="only these threads' sources (id prefixes)"
    )
    p.add_argument("--to", metavar="DIR", help="restore under DIR instead of the agent's home")
    p.add_argument("--agent", action="append", default=[], help="only this agent's sources")
    p.add_argument("--since", help="only sources modified since (ISO date or time, or 7d)")
    p.add_argument("--force", action="store_true", help="replace files that differ")
    p.add_argument(
        "--version",
        type=int,
        metavar="N",
        help="the N-th recorded version of each source instead of the newest (see --list)",
    )
    p.add_argument("--list", action="store_true", help="list every recorded version; write none")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_restore)


def cmd_restore(args: argparse.Namespace) -> int:
    from threadline.adapters.claude_code import layout as claude_layout
    from threadline.adapters.cli.common import UserError, print_json, store_for
    from threadline.adapters.persistence.codec import PydanticMapper
    from threadline.application import restore
    from threadline.application.read_queries import BadQueryError, parse_moment

    since_ns = None
    if args.since:
        try:
            moment = parse_moment(args.since).replace("Z", "+00:00")
        except BadQueryError as exc:
            raise UserError(str(exc)) from exc
        from datetime import datetime

        since_ns = int(datetime.fromisoformat(moment).timestamp() * 1e9)
    if args.version is not None and args.version < 1:
        raise UserError("--version counts from 1")
    with store_for(args) as store:
        mapper = store.app.mapper
        assert isinstance(mapper, PydanticMapper)
        known = restore.recorded_sources(store.app.recorder, mapper.decode_state)
        chosen = restore.select(known, args.threads, args.agent, since_ns)
        if args.list:
            return _list(chosen, args.json)
        results = []
        for source in chosen:
            version = source.newest if args.version is None else source.version(args.version)
            if version is None:
                print(
                    f"{source.source_key}: no version {args.version} "
                    f"({len(source.versions)} recorded)",
                    file=sys.stderr,
                )
                continue
            target = _target(source.agent, version.path, args.to)
            rules = {"overwrite": args.force, "only_missing": args.to is None}
            results.append(restore.restore_version(version, source, target, store.blobs, **rules))
            if version.meta is not None:  # only Claude Code's sub-agents record one
                beside = claude_layout.meta_path(target)
                results.append(restore.restore_meta(version, source, beside, store.blobs, **rules))
    if args.json:
        print_json([_row(r) for r in results])
    else:
        for r in results:
            why = f"  ({r.reason})" if r.reason else ""
            print(f"{r.outcome:<9} {r.target}{why}")
        if not results:
            print("nothing to restore", file=sys.stderr)
    bad = any(r.outcome in ("conflict", "failed") for r in results)
    return EXIT_PROBLEMS if bad else EXIT_OK


def _target(agent: str, path: str, to: str | None) -> str:
    """Where a source goes back to: its agent's own layout under ``to`` or the agent's home."""
    from threadline.adapters.claude_code import AGENT
    from threadline.adapters.claude_code import layout as claude_layout

    if agent == AGENT:
        root = claude_layout.home() if to is None else to
        relative: str | None = claude_layout.relative_path(path)
    else:
        markers, home = _OTHER_LAYOUTS.get(agent, ((), lambda: ""))
        parts = path.split(os.sep)
        at = max((i for i, part in enumerate(parts[:-1]) if part in markers), default=None)
        relative = os.path.join(*parts[at:]) if at is not None else None
        root = home() if to is None else to
        if relative is None or not root:  # no layout known: its own path, or under DIR/agent
            return path if to is None else os.path.join(to, agent, path.lstrip(os.sep))
    assert relative is not None
    return os.path.join(os.path.abspath(os.path.expanduser(root)), relative)


def _codex_home() -> str:
    from threadline.adapters.codex.discovery import default_roots

    return default_roots()[0]


def _gemini_home() -> str:
    from threadline.adapters.gemini.discovery import default_roots

    return default_roots()[0]


_OTHER_LAYOUTS: dict[str, tuple[tuple[str, ...], Callable[[], str]]] = {
    # CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl, CODEX_HOME/archived_sessions/…
    "codex": (("sessions", "archived_sessions"), _codex_home),
    # ~/.gemini/tmp/<project hash>/chats/session-*.json
    "gemini": (("tmp",), _gemini_home),
}


def _row(r: Restored) -> dict[str, object]:
    return {
        "outcome": r.outcome,
        "target": r.target,
        "reason": r.reason or None,
        "source": r.source.source_key,
        "agent": r.source.agent,
        "version": r.version.number,
        "sha256": r.meta.blob if r.meta else r.version.sha256,
        "bytes": r.meta.size if r.meta else r.version.size,
    }


def _list(sources: list[RecordedSource], as_json: bool) -> int:
    from threadline.adapters.cli.common import print_json

    rows: list[dict[str, Any]] = [
        {
            "source": s.source_key,
            "agent": s.agent,
            "version": v.number,
            "outcome": v.outcome,
            "bytes": v.size,
            "sha256": v.sha256,
            "modified": v.modified,
            "threads": sorted(v.thread_ids),
            "newest": v is s.newest,
        }
        for s in sources
        for v in s.versions
    ]
    if as_json:
        print_json(rows)
    else:
        for r in rows:
            mark = "*" if r["newest"] else " "
            print(
                f"{mark}{r['version']:>3}  {r['outcome']:<9} {r['bytes']:>11,}  "
                f"{r['modified'][:19]}  {str(r['sha256'])[:12]}  {r['source']}"
            )
    return EXIT_OK
