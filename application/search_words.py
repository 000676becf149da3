"""The words search knows an item by: one tokenizer for the index and the query, every store.

As SQLite's FTS5 tokenizer ``unicode61 remove_diacritics 2`` splits and folds a text
(ADR 0015): a word is a run of letters and digits (and the combining accents of
decomposed Latin text); everything else, ``_`` included, separates words; case is
folded, and the diacritics of Latin letters are removed (``Café`` is ``cafe``; Greek
and Cyrillic letters keep theirs, as there). SQLite's index tokenizes in FTS5 itself;
PostgreSQL's is made of the distinct words this module finds (ADR 0009), and a query's
words are found here for both.

Standard library only, and hot: an import runs every item's text through
``distinct_words`` (~100 M characters for the many-lines fixture). ASCII, nearly all
of it, is split by ``bytes.translate`` and ``bytes.split``; only the few words with
other characters go through the regular expression and the fold.

Chinese, Japanese and Korean put no spaces between words: each run of their letters is
known by its overlapping bigrams, as Lucene's CJK analyzer and pg_bigm know it
(``split_cjk``; ADR 0015 "CJK text"), on both stores and in every query.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from functools import cache
from itertools import accumulate
from operator import add

TOKEN = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")
"""A word as written: a run of letters and digits, and of the combining accents that
decomposed Latin text (macOS file names) puts after its letters."""
CJK = (
    "\u3005-\u3007"  # the iteration mark 々, 〆, the ideographic zero
    "\u3041-\u3096\u309d-\u309f"  # Hiragana
    "\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"  # Katakana, the prolonged sound mark ー too
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufa6d\ufa70-\ufad9"  # Han: ext. A, unified, compat.
    "\uac00-\ud7a3"  # Hangul syllables
    "\uff66-\uff9f"  # half-width Katakana
)
"""The letters of Chinese, Japanese and Korean, as a character class's ranges: all of
them letters to FTS5's tokenizer and to ``TOKEN``."""
CJK_RUN = re.compile(f"([{CJK}]+)")
"""A run of CJK letters (one group: ``split`` keeps the runs between the rest)."""
_NOT_CJK_BYTES = bytes(b for b in range(256) if not (0xE3 <= b <= 0xED or b == 0xEF))
"""Every byte but those that start the UTF-8 of U+3000-U+DFFF and U+F000-U+FFFF, where
all CJK letters are: ``bytes.translate`` deletes them at ~1 ns a byte (``max(text)``
takes ~40 ns a character, a regular expression ~7; ADR 0015 "CJK text")."""
MAX_WORD_BYTES = 2000
"""A longer word is indexed and looked for by its first this many bytes (UTF-8):
PostgreSQL's ``tsvector`` holds words of at most 2,047 bytes."""

_ASCII_WORDS = bytes(
    c + 32 if 65 <= c <= 90 else c if 48 <= c <= 57 or 97 <= c <= 122 or c >= 128 else 32
    for c in range(256)
)
"""Bytes of UTF-8 text: ASCII upper case to lower, every other ASCII byte but letters
and digits to a space; the bytes of other characters left as they are."""


@cache
def _fold_char(char: str) -> str:
    code = ord(char)
    if 0x300 <= code < 0x370:  # a combining accent: removed, as remove_diacritics does
        return ""
    if code < 0x250 or 0x1E00 <= code < 0x1F00:  # Latin: without its diacritics
        decomposed = unicodedata.normalize("NFD", char)
        return "".join(c for c in decomposed if not unicodedata.combining(c))
    return char


def fold(token: str) -> str:
    """A token compared as FTS5's ``remove_diacritics 2`` compares it: lower case,
    Latin letters without their diacritics."""
    token = token.lower()
    if token.isascii():
        return token
    return "".join(map(_fold_char, token))


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order, repeats included (a query's words)."""
    return [w for w in (_bounded(fold(t)) for t in TOKEN.findall(text)) if w]


def split_cjk(text: str, query: bool = False) -> tuple[str, str]:
    """``text`` with each run of CJK letters a space (a run ends where the script
    changes: ``東京tower``), and the words search knows the runs by, between spaces
    (none: ``""``). In the index, each run's overlapping bigrams and its last letter
    alone, so that every letter of a run starts a word of the index; in a ``query``, a
    run's bigrams (an item must hold all of them), or its one letter alone: a prefix
    (``is_prefix``). Text without CJK letters is returned as it is, nearly free."""
    if text.isascii() or not _may_have_cjk(text.encode("utf-8", "surrogatepass")):
        return text, ""
    return _split_runs(text, query)


def _split_runs(text: str, query: bool) -> tuple[str, str]:
    """``split_cjk`` of a text that may hold CJK letters (checked by the caller)."""
    parts = CJK_RUN.split(text)
    runs = parts[1::2]
    if not runs:
        return text, ""
    if query:
        found = [w for run in runs for w in (map(add, run, run[1:]) if run[1:] else [run])]
        return " ".join(parts[::2]), " ".join(found)
    return " ".join(parts[::2]), _bigrams(runs)


def _may_have_cjk(raw: bytes) -> bool:
    return bool(raw.translate(None, _NOT_CJK_BYTES))


_SPACE = array("I", [32])


def _bigrams(runs: list[str]) -> str:
    """Each run's bigrams and its last letter, between spaces, made without a string
    for each (4x faster than ``map(add, run, run[1:])``; ADR 0015 "CJK text"): the runs'
    code points, each followed by the next and a space."""
    units = array("I", " ".join(runs).encode("utf-32-le"))
    words = _SPACE * (3 * len(units))
    words[0::3] = units
    words[1::3] = units[1:] + _SPACE
    for at in accumulate(len(run) + 1 for run in runs[:-1]):
        words[3 * at - 2] = 32  # the space between two runs, not the next run's first letter
    return words.tobytes().decode("utf-32-le")


def index_text(text: str) -> str:
    """What SQLite's index is given of ``text``: its CJK runs as ``split_cjk`` splits them."""
    rest, cjk = split_cjk(text)
    return f"{rest} {cjk}" if cjk else text


def is_prefix(word: str) -> bool:
    """A query's word of one CJK letter: found as the first letter of an index word."""
    return len(word) == 1 and CJK_RUN.match(word) is not None


def distinct_words(text: str) -> set[bytes]:
    """The distinct folded words of ``text`` as UTF-8 (what the index holds of an item),
    CJK runs as ``split_cjk`` splits them."""
    raw = text.encode("utf-8", "surrogatepass")
    if not text.isascii() and _may_have_cjk(raw):
        rest, cjk = _split_runs(text, query=False)
        if cjk:  # letters only: nothing to split or fold
            return _distinct_words(rest.encode("utf-8", "surrogatepass")) | set(
                cjk.encode().split()
            )
    return _distinct_words(raw)


def _distinct_words(raw: bytes) -> set[bytes]:
    found = set(raw.translate(_ASCII_WORDS).split())
    if raw.isascii():
        return {w[:MAX_WORD_BYTES] for w in found} if len(raw) > MAX_WORD_BYTES else found
    other = {w for w in found if not w.isascii()}
    found -= other
    for word in other:  # split again where a character that is not a letter or digit is
        text_of = word.decode("utf-8", "surrogatepass")
        found.update(w.encode("utf-8", "surrogatepass") for w in words(text_of))
    return {w[:MAX_WORD_BYTES] for w in found} if len(raw) > MAX_WORD_BYTES else found


def _bounded(word: str) -> str:
    if len(word) * 4 <= MAX_WORD_BYTES:
        return word
    cut = word.encode("utf-8", "surrogatepass")[:MAX_WORD_BYTES]
    return cut.decode("utf-8", "ignore")
