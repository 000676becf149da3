#!/usr/bin/env python3
"""How fast could a rebuild be if its Python work were free? (ADR 0007)

    python bench/rebuild_floor.py STORE_HOME

``STORE_HOME`` is an imported SQLite store, e.g. ``/tmp/rb2/many-lines-store`` after
``bench/read_bench.py --keep /tmp/rb2``. The script rebuilds every projection of that
store in two steps: first every page's row changes are made in memory (decoding events,
reading source lines: the Python work another process could do), then they are written.
SQLite lets one connection write at a time, so the writing is what no second process
can take over. Figures are this process's CPU seconds, so another job's load changes
them little. Last, the search texts alone are indexed into a fresh FTS5 table in a
scratch file (no Python per row): the cost of tokenising them, whoever writes.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from itertools import groupby
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from threadline.adapters.persistence.sqlite_read_models import (  # noqa: E402
    CONFIGURE,
    DDL,
    SQLiteReadModels,
)
from threadline.adapters.store import open_store  # noqa: E402
from threadline.application.projections import PROJECTIONS  # noqa: E402
from threadline.application.row_changes import InsertSearch, RowChange  # noqa: E402


def main(home: str) -> None:
    store = open_store(home)
    catch_up, read_models = store._catch_up, store.read_models
    assert isinstance(read_models, SQLiteReadModels), "a SQLite store"
    names = list(PROJECTIONS)
    cpu = time.process_time
    started = cpu()
    read_models.reset(names)
    reset = cpu() - started

    started = cpu()
    pages: list[tuple[int, list[RowChange]]] = []
    positions = dict.fromkeys(names, 0)
    start, end = 0, catch_up.log.max_notification_id() or 0
    while start < end:
        start, _, ops = catch_up._page(dict(PROJECTIONS), positions, start, end)
        pages.append((start, ops))
    changes = cpu() - started

    spent: defaultdict[str, float] = defaultdict(float)
    for last, ops in pages:
        with read_models.datastore.transaction(commit=True) as c:
            for kind, run in groupby(ops, key=type):  # as ``write`` batches them
                before = cpu()
                read_models.write(c, list(run))
                spent[kind.__name__] += cpu() - before
            before = cpu()
        spent["commit"] += cpu() - before
        read_models.apply([], dict.fromkeys(names, last))
    store.close()
    texts = [change.text for _, ops in pages for change in ops if isinstance(change, InsertSearch)]

    print(f"pages: {len(pages)}, reset {reset:.2f} s, row changes in Python {changes:.2f} s")
    print(f"writing {sum(spent.values()):.2f} s:")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name}: {seconds:.3f} s")
    print(f"FTS5 alone, {len(texts)} texts, {sum(map(len, texts)) / 1e6:.0f} M characters:")
    fts_alone(texts, len(pages))


def fts_alone(texts: list[str], transactions: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        conn = sqlite3.connect(Path(scratch) / "fts.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        for stmt in (DDL["search"][1], *CONFIGURE["search"]):
            conn.execute(stmt)
        batch = -(-len(texts) // transactions)
        inserting = committing = 0.0
        for first in range(0, len(texts), batch):
            conn.execute("BEGIN IMMEDIATE")
            before = time.process_time()
            conn.executemany(
                "INSERT INTO search_text (rowid, text) VALUES (?, ?)",
                enumerate(texts[first : first + batch], start=first + 1),
            )
            middle = time.process_time()
            conn.execute("COMMIT")
            inserting += middle - before
            committing += time.process_time() - middle
        conn.close()
    print(f"  inserts {inserting:.2f} s, commits {committing:.2f} s")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
