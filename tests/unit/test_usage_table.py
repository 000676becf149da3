"""The usage table's cost column: one precision for every row of a table."""

from __future__ import annotations

import io
from typing import Any

from threadline.adapters.cli.usage_command import usage_table

TOKENS = ("input", "output", "cache_creation", "cache_read", "reasoning", "total")


def _totals(cost: float) -> dict[str, Any]:
    return {f"{t}_tokens": 10 for t in TOKENS} | {"cost": cost, "unpriced_models": []}


def _costs(*costs: float) -> list[str]:
    rows = [{"date": f"2026-10-0{i + 1}", "models": []} | _totals(c) for i, c in enumerate(costs)]
    report = {
        "report": "daily",
        "rows": rows,
        "totals": _totals(sum(costs)),
        "prices": {"taken": "2026-12-02"},
        "unpriced_models": [],
    }
    out = io.StringIO()
    usage_table(report, out)
    lines = out.getvalue().splitlines()
    return [line.split()[-1] for line in [*lines[2 : 2 + len(costs)], lines[-2]]]


def test_costs_of_a_cent_or_more_are_shown_in_cents() -> None:
    assert _costs(0.0159, 2.5) == ["$0.02", "$2.50", "$2.52"]


def test_a_cost_under_half_a_cent_shows_the_whole_column_to_four_places() -> None:
    assert _costs(0.0042, 0.0159) == ["$0.0042", "$0.0159", "$0.0201"]


def test_nothing_costs_nothing_at_either_precision() -> None:
    assert _costs(0.0, 1.0) == ["$0.00", "$1.00", "$1.00"]
