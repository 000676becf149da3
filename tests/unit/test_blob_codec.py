"""The blob codec: frames that read back exactly, by ranges, without decompressing the rest."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.adapters.persistence import compression
from threadline.adapters.persistence.compression import (
    MAGIC,
    BlobPage,
    decode_blob,
    decode_state,
    decompress_state,
    encode_blob,
    open_blob,
)
from threadline.adapters.persistence.sqlite_lines import SQLiteSourceLines
from threadline.application.history import SourceLines

FRAME = 1024


def text(size: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b'{"type":"user"}', b"\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


@pytest.mark.parametrize(
    "raw",
    [b"", b"x", text(FRAME), text(FRAME * 5), text(FRAME * 5 + 7), os.urandom(FRAME * 3 + 1)],
    ids=["empty", "one byte", "one frame", "whole frames", "a partial frame", "incompressible"],
)
def test_every_blob_decodes_to_its_bytes(raw: bytes) -> None:
    stored = encode_blob(raw, frame_bytes=FRAME)

    assert stored.startswith(MAGIC)
    assert decode_blob(stored) == raw
    assert bytes(open_blob(stored)) == raw
    assert len(open_blob(stored)) == len(raw)


def test_text_is_stored_smaller_and_random_bytes_not_much_larger() -> None:
    assert len(encode_blob(text(100_000))) < 100_000 / 3
    noise = os.urandom(100_000)
    assert len(encode_blob(noise, frame_bytes=FRAME)) <= len(noise) + 24 + 4 * 98


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(0, FRAME * 6),
    start=st.integers(0, FRAME * 7),
    length=st.integers(0, FRAME * 4),
)
def test_any_range_reads_as_a_slice_of_the_original(size: int, start: int, length: int) -> None:
    raw = text(size, seed=size)
    page = open_blob(encode_blob(raw, frame_bytes=FRAME))

    assert page[start : start + length] == raw[start : start + length]


def test_reading_a_line_decompresses_only_the_frames_holding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = text(FRAME * 40)
    stored = encode_blob(raw, frame_bytes=FRAME)
    reads: list[tuple[int, int]] = []

    def read_at(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return stored[offset : offset + length]

    page = BlobPage(read_at)
    line = page.read(FRAME * 20 + 100, FRAME + 50)  # spans frames 20 and 21

    assert line == raw[FRAME * 20 + 100 : FRAME * 21 + 150]
    frame_reads = reads[2:]  # the header, then the frame table
    assert len(frame_reads) == 2
    assert sum(n for _, n in frame_reads) < len(stored) / 10


def test_blobs_written_before_compression_read_as_they_are() -> None:
    raw = b'{"type":"user"}\n\xff\xfe not utf-8\n'

    assert decode_blob(raw) == raw
    assert open_blob(raw)[3:9] == raw[3:9]
    assert bytes(open_blob(raw)) == raw


def test_event_states_round_trip_and_old_ones_read_as_they_are() -> None:
    big = b'{"items":[' + b",".join(b'{"text":"hello world"}' for _ in range(200)) + b"]}"
    small = b'{"a":1}'

    packed = compression.compress_state(big)

    assert packed.startswith(compression.ZSTD_FRAME) and len(packed) < len(big) / 5
    assert decompress_state(packed) == big
    assert compression.compress_state(small) == small
    assert decompress_state(small) == small  # an event written before compression
    assert decode_state(packed)["items"][0] == {"text": "hello world"}


def sqlite_with(rows: dict[str, bytes], path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL)")
    conn.executemany("INSERT INTO blobs VALUES (?, ?)", rows.items())
    conn.commit()
    return conn


def test_sqlite_source_lines_read_encoded_and_raw_blobs(tmp_path: Path) -> None:
    raw = text(FRAME * 30)
    conn = sqlite_with(
        {"new": encode_blob(raw, frame_bytes=FRAME), "old": raw}, tmp_path / "store.db"
    )

    with SQLiteSourceLines(conn) as lines:
        for key in ("new", "old"):
            assert lines.line(key, 5000, 3000) == raw[5000:8000]
            assert lines.line(key, len(raw) - 10, 10) == raw[-10:]
        with pytest.raises(KeyError):
            lines.line("missing", 0, 1)


class CountingBlobs:
    """A store that reads blobs by ranges, counting the frames it decompresses."""

    def __init__(self, stored: dict[str, bytes]) -> None:
        self.stored = stored
        self.decompressed = 0

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        self.stored[key] = encode_blob(data)
        return key

    def get(self, key: str) -> bytes:
        return decode_blob(self.stored[key])

    def page(self, key: str) -> BlobPage:
        page = open_blob(self.stored[key])
        frame = page.frame

        def counted(number: int, *, keep: bool = True) -> bytes:
            if number not in page._frames:
                self.decompressed += 1
            return frame(number, keep=keep)

        page.frame = counted  # type: ignore[method-assign]
        return page


def test_history_reads_a_2_mib_output_from_its_frames_not_the_whole_page() -> None:
    output = text(2 * 1024 * 1024, seed=7).replace(b"\n", b" ").replace(b'"', b"'")
    before = text(2 * 1024 * 1024, seed=8)
    line = b'{"type":"user","toolUseResult":{"stdout":"' + output + b'"}}\n'
    blobs = CountingBlobs({})
    key = blobs.put(before + line + text(2 * 1024 * 1024, seed=9))
    frames = -(-len(blobs.get(key)) // compression.FRAME_BYTES)
    ref = {
        "kind": "source-ref",
        "line": {"blob": key, "offset": len(before), "length": len(line)},
        "pointer": "/toolUseResult/stdout",
    }

    value = SourceLines(blobs).value(ref)

    assert value == output.decode()
    needed = -(-len(line) // compression.FRAME_BYTES) + 1
    assert blobs.decompressed <= needed < frames


def test_a_line_over_many_frames_keeps_only_the_frame_the_next_line_starts_in() -> None:
    raw = text(FRAME * 6, seed=3)
    page = open_blob(encode_blob(raw, frame_bytes=FRAME))

    assert page[FRAME // 2 : FRAME * 4 + 10] == raw[FRAME // 2 : FRAME * 4 + 10]
    assert list(page._frames) == [4]
    assert page[FRAME * 4 + 10 : FRAME * 4 + 20] == raw[FRAME * 4 + 10 : FRAME * 4 + 20]
    for n in range(6):
        assert page[FRAME * n : FRAME * n + 5] == raw[FRAME * n : FRAME * n + 5]
    assert len(page._frames) == compression.CACHED_FRAMES


def test_sqlite_source_lines_keep_a_few_blobs_open_and_still_read_every_one(
    tmp_path: Path,
) -> None:
    from threadline.adapters.persistence.sqlite_lines import OPEN_BLOBS

    pages = {f"page-{i}": text(FRAME * 8, seed=i) for i in range(OPEN_BLOBS + 3)}
    conn = sqlite_with(
        {k: encode_blob(v, frame_bytes=FRAME) for k, v in pages.items()}, tmp_path / "s.db"
    )

    with SQLiteSourceLines(conn) as lines:
        for _ in range(2):
            for key, raw in pages.items():
                assert lines.line(key, FRAME * 3 + 5, 100) == raw[FRAME * 3 + 5 : FRAME * 3 + 105]
                assert len(lines._blobs) <= OPEN_BLOBS
