"""The usage projection's rules on plain event dicts: what carries usage, what counts once,
how it adds up by period, thread, model and project, and what it costs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from threadline.adapters.cli import usage_command
from threadline.application import projections
from threadline.application.row_changes import (
    ClearUsage,
    ClearUsageBuckets,
    InsertUsage,
    InsertUsageThread,
    UncountMessageIds,
    UpdateUsageThread,
)
from threadline.application.usage import (
    MESSAGE_COLUMNS,
    REPORT_KINDS,
    SHIPPED_PRICES,
    BadPriceTableError,
    BadUsageQueryError,
    Bucket,
    DateRange,
    ThreadInfo,
    UsageProjection,
    bucket_from_row,
    bucket_rows,
    build_report,
    count_once,
    counted,
    date_range,
    load_prices,
    message_row,
    slot_of,
    zone_named,
)

SHIPPED = Path(SHIPPED_PRICES).read_text("utf-8")
PRICES = load_prices(SHIPPED)
SONNET = "claude-sonnet-4-5-20250929"
T_ITEMS = next(iter(projections.T_ITEMS))
T_IMPORTED = next(iter(projections.T_IMPORTED))
T_REPLACED = next(iter(projections.T_REPLACED))


def assistant(
    ts: str = "2026-10-05T14:02:10.500Z",
    message_id: str | None = "msg_1",
    model: str = SONNET,
    **usage: int,
) -> dict[str, Any]:
    return {
        "type": "assistant",
        "line": 3,
        "timestamp": ts,
        "message_id": message_id,
        "model": model,
        "parts": ["hi"],
        "usage": usage or {"input_tokens": 10, "output_tokens": 20},
    }


def rows_of(thread: str, items: list[dict[str, Any]], first: int = 0) -> list[dict[str, Any]]:
    ops = UsageProjection().changes(
        T_ITEMS,
        {"originator_id": thread, "first_position": first, "items": items},
        1,
        None,
    )
    return [op._asdict() for op in ops if isinstance(op, InsertUsage)]


def test_the_projections_topics_are_the_session_events() -> None:
    projection = UsageProjection()
    assert projection.topics >= projections.T_ITEMS
    assert (
        projection.topics
    ) >= projections.T_IMPORTED | projections.T_APPENDED | projections.T_REPLACED
    assert "usage" in projections.PROJECTIONS
    assert usage_command.REPORT_KINDS == REPORT_KINDS


def test_an_assistant_item_with_usage_is_one_row_in_utc_with_its_quarter_hour() -> None:
    item = assistant(
        "2026-10-05T16:14:59.999+02:00",
        input_tokens=5,
        output_tokens=7,
        cache_creation_input_tokens=300_000,
        cache_read_input_tokens=11,
    )
    row = message_row("t", 4, item)
    assert row is not None
    values = dict(zip(MESSAGE_COLUMNS, row, strict=True))
    assert values["timestamp"] == "2026-10-05T14:14:59.999Z"
    assert values["slot"] == "2026-10-05T14:00"
    assert (values["input_tokens"], values["output_tokens"]) == (5, 7)
    assert values["cache_creation_tokens"] == 300_000
    assert values["cache_creation_above"] == 100_000  # past 200k: the dearer rate
    assert values["input_above"] == 0


@pytest.mark.parametrize(
    "item",
    [
        {"type": "user", "line": 1, "timestamp": "2026-10-05T14:00:00Z", "parts": ["x"]},
        {**assistant(), "usage": None},
        {**assistant(), "timestamp": None},
        assistant(input_tokens=0, output_tokens=0),
    ],
    ids=["user", "no usage", "no timestamp", "all zeros"],
)
def test_items_without_usage_have_no_row(item: dict[str, Any]) -> None:
    assert message_row("t", 0, item) is None


def test_slots_are_quarter_hours() -> None:
    assert slot_of(datetime(2026, 1, 1, 23, 59, 59, tzinfo=UTC)) == "2026-01-01T23:45"
    assert slot_of(datetime(2026, 1, 1, 0, 15, tzinfo=UTC)) == "2026-01-01T00:15"


def test_buckets_add_up_one_thread_slot_and_model() -> None:
    rows = [
        message_row("t", 0, assistant("2026-10-05T14:01:00Z", "a")),
        message_row(
            "t", 1, assistant("2026-10-05T14:14:00Z", "b", input_tokens=1, output_tokens=2)
        ),
        message_row("t", 2, assistant("2026-10-05T14:15:00Z", "c")),
    ]
    buckets = {(b.slot, b.thread_id): b for b in map(bucket_from_row, bucket_rows(rows))}  # type: ignore[arg-type]
    first = buckets[("2026-10-05T14:00", "t")]
    assert first.tokens["input"] == 11 and first.tokens["output"] == 22
    assert first.messages == 2
    assert (first.first, first.last) == ("2026-10-05T14:01:00.000Z", "2026-10-05T14:14:00.000Z")
    assert buckets[("2026-10-05T14:15", "t")].messages == 1


def copy(thread: str, position: int, sidechain: int, **usage: int) -> dict[str, Any]:
    row = rows_of(thread, [assistant(**usage)], position)[0]
    return row | {"sidechain": sidechain}


def test_the_top_level_copy_counts_over_a_sub_agents_replay_even_if_larger() -> None:
    parent = copy("parent", 3, 0, input_tokens=10, output_tokens=20)
    replay = copy("child", 0, 1, input_tokens=10, output_tokens=20, cache_read_input_tokens=500)
    assert counted([replay, parent]) == [parent]


def test_of_two_top_level_copies_the_largest_counts_then_the_earliest() -> None:
    small = copy("a", 0, 0, input_tokens=10, output_tokens=9)
    large = copy("b", 0, 0, input_tokens=10, output_tokens=20)
    assert counted([small, large]) == [large]
    same = copy("c", 5, 0, input_tokens=10, output_tokens=20)
    assert counted([same, large]) == [large]  # the same time: the lower thread id


def test_rows_without_a_message_id_are_each_their_own_response() -> None:
    a = rows_of("t", [assistant(message_id=None)], 0)[0] | {"sidechain": 0}
    b = rows_of("t", [assistant(message_id=None)], 1)[0] | {"sidechain": 0}
    assert len(counted([a, b])) == 2


def test_count_once_takes_lost_copies_out_of_their_buckets() -> None:
    parent = copy("parent", 0, 0, input_tokens=10, output_tokens=20)
    replay = copy("child", 0, 1, input_tokens=10, output_tokens=20)
    own = rows_of("child", [assistant(message_id="msg_own", input_tokens=1, output_tokens=1)], 1)
    rows = [message_row("parent", 0, assistant()), message_row("child", 0, assistant())]
    rows.append(
        message_row("child", 1, assistant(message_id="msg_own", input_tokens=1, output_tokens=1))
    )
    buckets = [bucket_from_row(r) for r in bucket_rows(rows)]  # type: ignore[arg-type]
    kept = count_once(buckets, [parent, replay])
    by_thread = {b.thread_id: b for b in kept}
    assert by_thread["parent"].tokens["output"] == 20
    assert by_thread["child"].tokens["output"] == own[0]["output_tokens"] == 1
    assert by_thread["child"].messages == 1
    # A bucket that only held a lost copy goes.
    only_replay = count_once(
        [b for b in buckets if b.thread_id == "parent"]
        + [
            bucket_from_row(bucket_rows([message_row("child", 0, assistant())])[0])  # type: ignore[list-item]
        ],
        [parent, replay],
    )
    assert [b.thread_id for b in only_replay] == ["parent"]


def test_a_rewrite_clears_the_threads_rows_and_buckets() -> None:
    ops = UsageProjection().changes(
        T_REPLACED,
        {"originator_id": "t", "summary": {"cwd": "/w", "title": "T"}, "reason": "x"},
        1,
        None,
    )
    assert ops == [
        UpdateUsageThread("/w", "T", "t"),
        UncountMessageIds("t"),
        ClearUsage("t"),
        ClearUsageBuckets("t"),
    ]


def test_a_sub_agent_thread_is_a_sidechain() -> None:
    event = {
        "originator_id": "child",
        "source": {"agent": "claude-code", "path": "/p", "agent_id": "a1"},
        "summary": {"cwd": "/w", "title": "sub"},
        "parent_thread_id": "parent",
    }
    [row] = UsageProjection().changes(T_IMPORTED, event, 1, None)
    assert row == InsertUsageThread("child", "claude-code", "/w", "sub", "parent", 1)


# -- reports ---------------------------------------------------------------------------------


def bucket(slot: str, thread: str = "t", model: str = SONNET, **tokens: int) -> Bucket:
    counts = {
        k: tokens.get(k, 0)
        for k in ("input", "output", "cache_creation", "cache_read", "reasoning")
    }
    above = {
        k: tokens.get(f"{k}_above", 0) for k in ("input", "output", "cache_creation", "cache_read")
    }
    return Bucket(slot, thread, model, counts, above, 1, slot + ":00.000Z", slot + ":00.000Z")


THREADS = {
    "t": ThreadInfo("claude-code", "/w/app", "Top", None),
    "sub": ThreadInfo("claude-code", "/w/app", "Sub", "t"),
    "other": ThreadInfo("claude-code", "/w/lib", "Other", None),
}


def test_days_are_local_days_in_the_zone() -> None:
    buckets = [bucket("2026-10-04T22:15", input=1), bucket("2026-10-04T21:45", input=2)]
    paris = build_report("daily", buckets, THREADS, PRICES, ZoneInfo("Europe/Paris"))
    assert [(r.key, r.totals.tokens["input"]) for r in paris.rows] == [
        ("2026-10-04", 2),
        ("2026-10-05", 1),
    ]
    utc = build_report("daily", buckets, THREADS, PRICES, UTC)
    assert [r.key for r in utc.rows] == ["2026-10-04"]
    kolkata = build_report(
        "daily", [bucket("2026-10-04T18:30", input=1)], THREADS, PRICES, ZoneInfo("Asia/Kolkata")
    )
    assert kolkata.rows[0].key == "2026-10-05"  # +05:30: a half-hour offset falls exactly


def test_weeks_start_on_monday_and_months_are_calendar_months() -> None:
    buckets = [bucket("2026-10-04T12:00", input=1), bucket("2026-10-05T12:00", input=2)]
    weekly = build_report("weekly", buckets, THREADS, PRICES, UTC)
    assert [r.key for r in weekly.rows] == ["2026-09-28", "2026-10-05"]
    monthly = build_report("monthly", buckets, THREADS, PRICES, UTC)
    assert [(r.key, r.totals.tokens["input"]) for r in monthly.rows] == [("2026-10", 3)]


def test_a_sub_agents_usage_counts_in_its_top_level_thread() -> None:
    buckets = [bucket("2026-10-04T12:00", "t", input=1), bucket("2026-10-04T12:00", "sub", input=2)]
    report = build_report("session", buckets, THREADS, PRICES, UTC)
    assert [(r.key, r.totals.tokens["input"]) for r in report.rows] == [("t", 3)]
    assert report.rows[0].thread == THREADS["t"]


def test_projects_are_cwds_and_models_are_models_by_cost() -> None:
    buckets = [
        bucket("2026-10-04T12:00", "t", input=1_000_000),
        bucket("2026-10-04T12:00", "other", "claude-opus-4-1-20250805", input=1_000_000),
    ]
    projects = build_report("project", buckets, THREADS, PRICES, UTC)
    assert [(r.key, round(r.totals.cost, 2)) for r in projects.rows] == [
        ("/w/lib", 15.0),
        ("/w/app", 3.0),
    ]
    models = build_report("model", buckets, THREADS, PRICES, UTC)
    assert [r.key for r in models.rows] == ["claude-opus-4-1-20250805", SONNET]


def test_cost_per_kind_of_token_and_the_dearer_rate_past_200k() -> None:
    b = bucket(
        "2026-10-04T12:00",
        input=1_000_000,
        output=1_000_000,
        cache_creation=1_000_000,
        cache_read=1_000_000,
        input_above=100_000,
    )
    report = build_report("daily", [b], THREADS, PRICES, UTC)
    # 3 + 15 + 3.75 + 0.30, and 100k input tokens at 6 instead of 3
    assert report.totals.cost == pytest.approx(22.05 + 0.3)


def test_an_unknown_model_is_listed_and_not_priced_as_zero() -> None:
    buckets = [
        bucket("2026-10-04T12:00", model="claude-opus-4-99", input=1000, output=10),
        bucket("2026-10-04T12:00", input=1_000_000),
    ]
    report = build_report("daily", buckets, THREADS, PRICES, UTC)
    assert report.totals.unpriced == {"claude-opus-4-99": 1010}
    assert report.totals.cost == pytest.approx(3.0)
    out = report.as_dict()
    assert out["unpriced_models"] == [{"model": "claude-opus-4-99", "tokens": 1010}]
    assert out["rows"][0]["unpriced_models"] == ["claude-opus-4-99"]


def test_a_model_matches_its_entry_or_its_name_without_a_date_only() -> None:
    assert PRICES.find("claude-sonnet-4-5-20250929") == PRICES.find("claude-sonnet-4-5")
    assert PRICES.find("claude-opus-4-1") is not None
    assert PRICES.find("claude-opus-4-9") is None  # not claude-opus-4's price
    assert PRICES.find("gpt-5") is None


def test_the_override_adds_and_replaces_models() -> None:
    override = json.dumps(
        {
            "taken": "2026-12-01",
            "models": {
                "gpt-5": {"input": 1.25, "output": 10, "cache_write": 0, "cache_read": 0.125},
                "claude-sonnet-4-5": {"input": 1, "output": 1, "cache_write": 1, "cache_read": 1},
            },
        }
    )
    prices = load_prices(SHIPPED, override, "home/pricing.json")
    assert prices.find("gpt-5") is not None
    report = build_report(
        "daily", [bucket("2026-10-04T12:00", input=1_000_000)], THREADS, prices, UTC
    )
    assert report.totals.cost == pytest.approx(1.0)
    assert "2026-12-01" in prices.taken
    with pytest.raises(BadPriceTableError):
        load_prices(SHIPPED, '{"models": {"x": {"input": 1}}}')


def test_date_bounds_are_whole_local_days_or_moments() -> None:
    assert date_range("2026-10-04", "20261005") == DateRange(
        since_date=date(2026, 10, 4), until_date=date(2026, 10, 5)
    )
    buckets = [
        bucket("2026-10-03T12:00", input=1),
        bucket("2026-10-04T12:00", input=2),
        bucket("2026-10-06T00:00", input=4),
    ]
    report = build_report(
        "daily", buckets, THREADS, PRICES, UTC, date_range("2026-10-04", "2026-10-05")
    )
    assert report.totals.tokens["input"] == 2
    report = build_report(
        "daily", buckets, THREADS, PRICES, UTC, date_range("2026-10-04T12:10", None)
    )
    assert report.totals.tokens["input"] == 6
    with pytest.raises(BadUsageQueryError):
        date_range("2026-13-01", None)
    with pytest.raises(BadUsageQueryError):
        date_range("yesterday-ish", None)
    with pytest.raises(BadUsageQueryError):
        zone_named("Mars/Olympus")


def test_one_hour_cache_writes_cost_their_own_price() -> None:
    # The real 2.1.152 session's one response (tests/fixtures/claude-real): 1,045 tokens
    # written to a one-hour cache, priced at twice the input price, as ccusage 20.0.24 does.
    item = assistant(
        model="claude-opus-4-7",
        input_tokens=6,
        output_tokens=16,
        cache_creation_input_tokens=1045,
        cache_read_input_tokens=3057,
    )
    item["usage"]["cache_creation"] = {
        "ephemeral_1h_input_tokens": 1045,
        "ephemeral_5m_input_tokens": 0,
    }
    row = message_row("t", 0, item)
    assert (
        row is not None
        and dict(zip(MESSAGE_COLUMNS, row, strict=True))["cache_creation_1h_tokens"] == 1045
    )
    [b] = [bucket_from_row(r) for r in bucket_rows([row])]
    assert b.cache_1h == 1045
    report = build_report("daily", [b], THREADS, PRICES, UTC)
    assert report.totals.cost == pytest.approx(0.0124085)  # ccusage's figure
    five_minutes = b._replace(cache_1h=0)
    assert build_report("daily", [five_minutes], THREADS, PRICES, UTC).totals.cost == (
        pytest.approx(0.00848975)  # 1,045 x $6.25 instead of $10 per million
    )


@pytest.mark.parametrize(
    ("stamp", "utc", "slot"),
    [
        ("2026-10-05T14:14:59.999000Z", "2026-10-05T14:14:59.999Z", "2026-10-05T14:00"),
        ("2026-10-05T14:15:00.5Z", "2026-10-05T14:15:00.500Z", "2026-10-05T14:15"),
        ("2026-10-05T14:59:00Z", "2026-10-05T14:59:00.000Z", "2026-10-05T14:45"),
        ("2026-10-06T01:44:00.1+11:00", "2026-10-05T14:44:00.100Z", "2026-10-05T14:30"),
    ],
)
def test_times_are_utc_to_the_millisecond_cut_or_parsed(stamp: str, utc: str, slot: str) -> None:
    row = message_row("t", 0, assistant(stamp))
    assert row is not None and (row[3], row[4]) == (utc, slot)
