"""The search tokenizer: the words both stores index an item by, as SQLite's FTS5 finds them."""

from __future__ import annotations

import random
import re
import sqlite3
from operator import add

import pytest

from threadline.application.read_queries import SearchQuery
from threadline.application.search_words import (
    CJK,
    MAX_WORD_BYTES,
    distinct_words,
    index_text,
    is_prefix,
    split_cjk,
    words,
)

SAMPLES = [
    "rename cache_key to snake_case_name",
    "Crème brûlée at the Café; NAÏVE Łódź",
    "cafe\u0301s decomposed, as macOS writes file names",
    "日本語のテキスト 東京タワー, 東京",
    "x86_64 v1.2.3 ١٢٣ ½ x² 3rd",
    "Ωμέγα йогурт İstanbul straße",
    "path /src/weather-app/main.py:42 --dry-run 'quoted' \"double\" \\back\\slash",
    "emoji😀between tabs\tand\nnew lines\x00NUL",
    "東京タワーに行きました。我住在东京市 서울에서 만나요",
    "東京tower Python3で ﾃｽﾄ 人々 ㇰ 豈 x㐀y",
]


def fts5_words(text: str) -> set[str]:
    """The words SQLite's index (``unicode61 remove_diacritics 2``) holds for ``text``."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
    conn.execute("INSERT INTO t VALUES (?)", (text,))
    return {r[0] for r in conn.execute("SELECT term FROM v")}


@pytest.mark.parametrize("text", SAMPLES)
def test_the_words_are_the_ones_sqlites_index_holds(text: str) -> None:
    """SQLite's index is given the text with its CJK runs split (``index_text``)."""
    assert {w.decode() for w in distinct_words(text)} == fts5_words(index_text(text))


@pytest.mark.parametrize("text", SAMPLES)
def test_the_index_and_the_query_split_a_text_alike(text: str) -> None:
    """The fast path (ASCII by bytes) and the query's path (the regular expression)."""
    assert distinct_words(text) == {w.encode() for w in words(index_text(text))}


def cjk(text: str, query: bool = False) -> list[str]:
    """The words of the text's CJK runs, in order."""
    return split_cjk(text, query)[1].split()


def test_a_cjk_run_is_indexed_as_its_bigrams_and_its_last_letter() -> None:
    assert cjk("東京タワーに行く") == ["東京", "京タ", "タワ", "ワー", "ーに", "に行", "行く", "く"]
    assert cjk("我住在东京市") == ["我住", "住在", "在东", "东京", "京市", "市"]
    assert cjk("서울에서 만나요") == ["서울", "울에", "에서", "서", "만나", "나요", "요"]
    assert cjk("ﾃｽﾄ 人々") == ["ﾃｽ", "ｽﾄ", "ﾄ", "人々", "々"]
    assert cjk("京") == ["京"]


def test_the_index_words_of_runs_are_the_bigrams_of_each_run_and_its_last_letter() -> None:
    """``_bigrams`` (array arithmetic) against the plain definition, on random texts."""
    rnd = random.Random(15)
    letters = "東京タワーに行く我住在东京市서울에서만나요ﾃｽﾄ人々 a1_é。、!😀"
    for _ in range(2000):
        text = "".join(rnd.choices(letters, k=rnd.randint(0, 30)))
        runs = re.findall(f"[{CJK}]+", text)
        plain = [w for run in runs for w in [*map(add, run, run[1:]), run[-1]]]
        assert cjk(text) == plain, text


def test_a_query_run_is_its_bigrams_and_one_letter_is_a_prefix() -> None:
    assert cjk("東京タワー", query=True) == ["東京", "京タ", "タワ", "ワー"]
    assert cjk("京 東京", query=True) == ["京", "東京"]
    assert is_prefix("京") and is_prefix("ﾃ") and is_prefix("서")
    assert not is_prefix("a") and not is_prefix("東京") and not is_prefix("é")


def test_a_run_ends_where_the_script_changes() -> None:
    assert words(index_text("東京tower")) == ["tower", "東京", "京"]
    assert words(index_text("Python3で")) == ["python3", "で"]
    assert words(index_text("v2の設定_file")) == ["v2", "file", "の設", "設定", "定"]
    assert split_cjk("東京tower", query=True) == (" tower", "東京")
    assert split_cjk("Python3で", query=True) == ("Python3 ", "で")


def test_text_without_cjk_letters_is_returned_as_it_is() -> None:
    for text in ("plain ascii text", "Crème brûlée 😀 Ωμέγα ─┼─", "、。\u3000", ""):
        assert split_cjk(text)[0] is text
        assert split_cjk(text, query=True) == (text, "")
        assert index_text(text) is text


def test_underscores_separate_case_and_diacritics_fold_digits_stay() -> None:
    assert words("snake_case_NAME") == ["snake", "case", "name"]
    assert words("Crème brûlée cafe\u0301") == ["creme", "brulee", "cafe"]
    assert words("東京タワー 東京") == ["東京タワー", "東京"]
    assert words("x86_64 v1.2") == ["x86", "64", "v1", "2"]
    assert words("йогурт Ωμέγα") == ["йогурт", "ωμέγα"]  # only Latin letters lose accents
    assert SearchQuery("Snake_Case crème").words == ("snake", "case", "creme")
    assert SearchQuery("__").words == ()


def test_a_word_longer_than_a_tsvector_holds_is_cut_alike_on_both_sides() -> None:
    ascii_word, other = "a" * 3000, "é" * 3000
    (indexed,) = distinct_words(f"{ascii_word} {ascii_word.upper()}")
    assert indexed == ascii_word[:MAX_WORD_BYTES].encode()
    assert words(ascii_word) == [indexed.decode()]
    (cut,) = distinct_words(other)
    assert len(cut) <= MAX_WORD_BYTES
    assert words(other) == [cut.decode()] == ["e" * MAX_WORD_BYTES]


def test_an_item_of_more_words_than_a_tsvector_holds_has_them_in_several_rows() -> None:
    from threadline.adapters.persistence.postgres_read_models import TSVECTOR_BYTES, word_chunks

    few = {b"alpha", b"beta"}
    many = {f"word{i:07d}".encode() for i in range(240_000)}  # 12 bytes each, with the space

    assert sorted(word_chunks(few)[0].split()) == ["alpha", "beta"]
    chunks = word_chunks(many)
    assert len(chunks) == 3
    assert all(len(c.encode()) <= TSVECTOR_BYTES for c in chunks)
    assert {w.encode() for c in chunks for w in c.split()} == many
    assert word_chunks(set()) == [""]
