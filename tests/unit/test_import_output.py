"""What ``threadline import`` prints: the summary for a person, the report for a program."""

from __future__ import annotations

import json

import pytest

from threadline.adapters.cli import summary
from threadline.application.reports import ImportReport, SourceReport
from threadline.application.sources import Problem


def a_report() -> ImportReport:
    report = ImportReport(problems=[Problem("/t/café.jsonl", 0, "not a regular file")])
    report.sources.append(
        SourceReport("/t/ok.jsonl", "imported", "thread-1", bytes_read=3 << 20, agent="claude-code")
    )
    report.sources.append(
        SourceReport(
            "/t/bad.jsonl",
            "appended",
            "thread-2",
            problems=[Problem("/t/bad.jsonl", 7, "torn line")],
            agent="claude-code",
        )
    )
    report.sources.append(SourceReport("/c/rollout-1.jsonl", "imported", "t-3", agent="codex"))
    report.seconds = 1.234
    return report


def test_the_json_report_is_the_same_bytes_whichever_encoder_writes_it(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "ORJSON_FROM", 10**9)
    summary.import_json(a_report())
    by_json = capsysbinary.readouterr().out
    monkeypatch.setattr(summary, "ORJSON_FROM", 1)
    summary.import_json(a_report())
    by_orjson = capsysbinary.readouterr().out

    assert by_json == by_orjson
    report = json.loads(by_json)
    assert report["counts"]["imported"] == 2
    assert report["counts"]["appended"] == 1
    assert report["agents"]["claude-code"]["imported"] == 1
    assert report["agents"]["codex"]["imported"] == 1
    assert report["agents"]["codex"]["appended"] == 0
    assert [s["agent"] for s in report["sources"]] == ["claude-code", "claude-code", "codex"]
    assert report["problems"] == [
        {"path": "/t/café.jsonl", "line": 0, "reason": "not a regular file"},
        {"path": "/t/bad.jsonl", "line": 7, "reason": "torn line"},
    ]
    assert report["seconds"] == 1.234


def test_the_summary_counts_the_outcomes_that_happened_per_agent_and_lists_problems(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary.import_summary(a_report())
    out, err = capsys.readouterr()

    header, *lines = out.splitlines()
    assert header.split() == ["Import", "claude-code", "codex", "total"]
    rows = {line[:8].strip(): line[8:].split() for line in lines}
    assert rows["imported"] == ["1", "1", "2"]
    assert rows["appended"] == ["1", "0", "1"]
    assert "skipped" not in rows and "failed" not in rows  # only what happened
    assert rows["MiB read"] == ["3.0"]
    assert err.splitlines() == [
        "2 problem(s):",
        "  /t/café.jsonl: not a regular file",
        "  /t/bad.jsonl:7: torn line",
    ]
