"""The web page's view of items: pairing, cutting, and escaped search snippets."""

from __future__ import annotations

from typing import Any

from threadline.adapters.web import present
from threadline.adapters.web.render import marked


def call(position: int, call_id: str) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "position": position,
        "call_id": call_id,
        "name": "Bash",
        "input": {"command": "ls"},
    }


def result(position: int, call_id: str, output: Any = "ok") -> dict[str, Any]:
    return {"type": "tool_result", "position": position, "call_id": call_id, "output": output}


def test_a_result_goes_with_its_call_and_one_without_stands_alone() -> None:
    found = present.entries([call(0, "a"), call(1, "b"), result(2, "a"), result(3, "z")])
    assert [(e.kind, e.position) for e in found] == [("tool", 0), ("tool", 1), ("result", 3)]
    assert found[0].result is not None and found[0].result.position == 2
    assert found[1].result is None
    assert found[0].preview == "ls"


def test_long_texts_are_cut_in_the_page_and_whole_in_an_export() -> None:
    text = "x" * (present.INLINE_CHARS * 3)
    (paged,) = present.entries([result(0, "q", text)])
    assert paged.parts[0].cut and len(paged.parts[0].text) == present.INLINE_CHARS
    assert paged.parts[0].chars == len(text) and paged.parts[0].size == len(text)
    (whole,) = present.entries([result(0, "q", text)], limit=None)
    assert not whole.parts[0].cut and whole.parts[0].text == text


def test_a_snippet_is_escaped_and_only_the_read_sides_marks_become_mark() -> None:
    html = marked('<script>alert(1)</script> "a" \x02found\x03 <mark>forged</mark>')
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<mark>") == 1 and "<mark>found</mark>" in html
    assert "&lt;mark&gt;forged&lt;/mark&gt;" in html
