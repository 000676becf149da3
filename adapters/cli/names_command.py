"""``threadline rename|archive|unarchive THREAD``: the user's own names for threads.

The thread is found as ``show`` finds it (a unique id prefix is enough); the change is
an event on the thread (``Threadline.rename_thread`` and its siblings), retried when an
import writes to the same thread at once; the read models are caught up before the
command returns, so the next ``threads`` shows it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from threadline.adapters.cli.common import EXIT_OK, EXIT_PROBLEMS, UserError, print_json, store_for

if TYPE_CHECKING:
    from threadline.application.threadline import ThreadNames


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "rename",
        help="give a thread your own name (no title its source writes later replaces it)",
    )
    p.add_argument("thread", metavar="THREAD", help="a thread id (a unique prefix is enough)")
    p.add_argument("title", metavar="TITLE", nargs="+", help="the name (words are joined)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_rename)

    for name, help_text in (
        ("archive", "hide a thread from `threads` (`threads --archived` lists it)"),
        ("unarchive", "list an archived thread in `threads` again"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("thread", metavar="THREAD", help="a thread id (a unique prefix is enough)")
        p.add_argument("--json", action="store_true")
        p.set_defaults(run=cmd_archive, archive=name == "archive")


def cmd_rename(args: argparse.Namespace) -> int:
    from threadline.domain.session import TitleNotGivenError, check_title_given

    title = " ".join(" ".join(args.title).split())
    try:
        check_title_given(title)
    except TitleNotGivenError as exc:
        raise UserError(str(exc)) from exc
    result = _change(args, lambda app, thread_id: app.rename_thread(thread_id, title))
    short = result["thread_id"][:8]
    done = f"renamed {short}: {result['title']}"
    return _report(args, result, done if result["changed"] else f"{short} already has that name")


def cmd_archive(args: argparse.Namespace) -> int:
    if args.archive:
        result = _change(args, lambda app, thread_id: app.archive_thread(thread_id))
        short = result["thread_id"][:8]
        done = f"archived {short} (`threads --archived` lists it)"
        return _report(args, result, done if result["changed"] else f"{short} was archived already")
    result = _change(args, lambda app, thread_id: app.unarchive_thread(thread_id))
    short = result["thread_id"][:8]
    done = f"unarchived {short}"
    return _report(args, result, done if result["changed"] else f"{short} was not archived")


def _change(args: argparse.Namespace, change: Any) -> ThreadNames:
    """Resolve the thread's prefix on the read models, make the change on the store, and
    catch the read models up."""
    from uuid import UUID

    from threadline.adapters.cli.commands import read_models_for
    from threadline.application import views

    with read_models_for(args) as read_models:
        thread_id = views.resolve_thread(read_models, args.thread)
    with store_for(args) as store:
        try:
            result: ThreadNames = change(store.app, UUID(thread_id))
        except views.ThreadNotFoundError as exc:  # in the read models, not in the events
            raise UserError(str(exc), EXIT_PROBLEMS) from exc
        store.catch_up()
    return result


def _report(args: argparse.Namespace, result: ThreadNames, message: str) -> int:
    if args.json:
        print_json(result)
    else:
        print(message)
    return EXIT_OK
