"""PostgreSQL indexes a long text in rows of at most 64 Ki characters, cut between words."""

from __future__ import annotations

import re

from threadline.adapters.persistence.postgres_read_models import SEARCH_CHUNK_CHARS, search_chunks


def test_a_text_that_fits_is_one_row_and_an_empty_one_none() -> None:
    assert search_chunks("short text") == ["short text"]
    assert search_chunks("") == []


def test_a_long_text_is_cut_between_words_and_nothing_is_lost() -> None:
    text = " ".join(f"word{i}" for i in range(40_000))  # ~390k characters

    pieces = search_chunks(text)

    assert "".join(pieces) == text
    assert len(pieces) == 6
    assert all(len(p) <= SEARCH_CHUNK_CHARS for p in pieces)
    words = [w for p in pieces for w in re.findall(r"[^\W_]+", p)]
    assert words == re.findall(r"[^\W_]+", text)  # no word split across two rows


def test_a_text_without_a_break_near_the_limit_is_cut_at_the_limit() -> None:
    text = "x" * (2 * SEARCH_CHUNK_CHARS + 10)

    assert [len(p) for p in search_chunks(text)] == [SEARCH_CHUNK_CHARS, SEARCH_CHUNK_CHARS, 10]
