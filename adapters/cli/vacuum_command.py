"""``threadline vacuum``: compress what an older release stored raw, and give disk back."""

from __future__ import annotations

import argparse

from threadline.adapters.cli.common import EXIT_OK


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "vacuum",
        help="compress blobs stored raw by older releases, then give the free space back",
        description="Compresses every blob an older release stored uncompressed, then "
        "rewrites the store to return freed space to the file system (SQLite: VACUUM; "
        "PostgreSQL: VACUUM FULL of Threadline's tables). Takes the store's write lock: "
        "run it when no import is running.",
    )
    p.set_defaults(run=cmd_vacuum)


def cmd_vacuum(args: argparse.Namespace) -> int:
    from threadline.adapters.cli.common import store_for
    from threadline.adapters.persistence.maintenance import vacuum

    with store_for(args) as store:
        report = vacuum(store)
    mib = 1024 * 1024
    pages = ""
    if report.page_size_before != report.page_size_after:
        pages = f" ({report.page_size_before} -> {report.page_size_after} bytes a page)"
    print(
        f"compressed {report.compressed_blobs} blobs stored raw; "
        f"store {report.bytes_before / mib:.1f} MiB -> {report.bytes_after / mib:.1f} MiB{pages}"
    )
    return EXIT_OK
