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
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

TOKEN = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")
"""A word as written: a run of letters and digits, and of the combining accents that
decomposed Latin text (macOS file names) puts after its letters."""
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


def distinct_words(text: str) -> set[bytes]:
    """The distinct folded words of ``text`` as UTF-8 (what the index holds of an item)."""
    raw = text.encode("utf-8", "surrogatepass")
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
