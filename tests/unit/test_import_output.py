"""What ``threadline import`` prints: the summary for a person, the report for a program."""

from __future__ import annotations

import json

import pytest

from threadline.adapters.cli import summary
from threadline.application.reports import ImportReport, SourceReport
from threadline.application.sources import Problem


def a_report() -> ImportReport:
    report = ImportReport(problems=[Problem("/t/café.jsonl", 0, "not a regular file")])
    report.sources.append(SourceReport("/t/ok.jsonl", "imported", "thread-1", bytes_read=3 << 20))
    report.sources.append(
        SourceReport(
            "/t/bad.jsonl",
            "appended",
            "thread-2",
            problems=[Problem("/t/bad.jsonl", 7, "torn line")],
        )
    )
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
    assert report["counts"]["imported"] == report["counts"]["appended"] == 1
    assert report["problems"] == [
        {"path": "/t/café.jsonl", "line": 0, "reason": "not a regular file"},
        {"path": "/t/bad.jsonl", "line": 7, "reason": "torn line"},
    ]
    assert report["seconds"] == 1.234


def test_the_summary_counts_every_outcome_and_lists_problems_with_file_and_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary.import_summary(a_report())
    out, err = capsys.readouterr()

    rows = dict(line.rsplit(maxsplit=1) for line in out.splitlines()[1:])
    assert rows["imported"] == rows["appended"] == "1"
    assert rows["skipped"] == rows["failed"] == "0"
    assert rows["MiB read"] == "3.0"
    assert err.splitlines() == [
        "2 problem(s):",
        "  /t/café.jsonl: not a regular file",
        "  /t/bad.jsonl:7: torn line",
    ]
