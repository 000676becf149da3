"""How a blob's bytes are stored: zstd frames behind a small index, or as they were.

A page of source lines is cut into frames of ``FRAME_BYTES`` and each frame is
compressed on its own, so a reader that needs one line decompresses only the
frame(s) holding it, not the whole multi-megabyte page (ADR 0015)::

    MAGIC  frame_bytes:u32  raw_size:u64  frames:u32  stored_size:u32 (per frame)  frame…

A frame that zstd does not make smaller is kept as it is (its stored size then
equals its raw size; a compressed frame is always smaller). Blobs written before
compression existed are their raw bytes: anything that does not start with
``MAGIC`` is read as it is, and a store upgraded from that release first
re-encodes the (unlikely) raw blobs that happen to start with ``MAGIC``
(``needs_wrapping``), so no byte is ever misread.
"""

from __future__ import annotations

import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

import zstandard

MAGIC = b"\x00TLz"
HEADER = struct.Struct("<4sIQI")
SIZE = struct.Struct("<I")
FRAME_BYTES = 1024 * 1024
LEVEL = 1
CACHED_FRAMES = 2
"""Decompressed frames a ``BlobPage`` keeps: lines are read in order, and the next one starts
in the frame the last one ended in (ADR 0015: 8 kept held up to 32 MiB for four open pages)."""

_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    found: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if found is None:
        found = _local.compressor = zstandard.ZstdCompressor(
            level=LEVEL, write_checksum=False, write_content_size=True
        )
    return found


def _decompressor() -> zstandard.ZstdDecompressor:
    found: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if found is None:
        found = _local.decompressor = zstandard.ZstdDecompressor()
    return found


def encode_blob(raw: bytes, frame_bytes: int = FRAME_BYTES, level: int = LEVEL) -> bytes:
    """``raw`` as stored: an index and its frames, each compressed unless that saves nothing."""
    view = memoryview(raw)
    compress = (
        _compressor().compress
        if level == LEVEL
        else zstandard.ZstdCompressor(level=level, write_checksum=False).compress
    )
    frames = []
    for start in range(0, len(raw), frame_bytes):
        chunk = view[start : start + frame_bytes]
        packed = compress(chunk)
        frames.append(packed if len(packed) < len(chunk) else bytes(chunk))
    index = b"".join(SIZE.pack(len(f)) for f in frames)
    return b"".join((HEADER.pack(MAGIC, frame_bytes, len(raw), len(frames)), index, *frames))


def is_encoded(stored: bytes | memoryview) -> bool:
    return bytes(stored[: len(MAGIC)]) == MAGIC


def needs_wrapping(stored_start: bytes) -> bool:
    """A blob written raw, before compression, that a reader would mistake for an encoded
    one: it must be re-encoded when a store of that release is upgraded."""
    return stored_start[: len(MAGIC)] == MAGIC


class FrameIndex:
    """Where each frame of an encoded blob is, from its header."""

    __slots__ = ("frame_bytes", "raw_size", "starts", "stored_sizes")

    def __init__(self, frame_bytes: int, raw_size: int, stored_sizes: list[int]) -> None:
        self.frame_bytes = frame_bytes
        self.raw_size = raw_size
        self.stored_sizes = stored_sizes
        self.starts: list[int] = []
        at = HEADER.size + SIZE.size * len(stored_sizes)
        for size in stored_sizes:
            self.starts.append(at)
            at += size

    @classmethod
    def read(cls, read_at: Callable[[int, int], bytes]) -> FrameIndex:
        magic, frame_bytes, raw_size, count = HEADER.unpack(read_at(0, HEADER.size))
        assert magic == MAGIC
        table = read_at(HEADER.size, SIZE.size * count)
        sizes = [s for (s,) in SIZE.iter_unpack(table)]
        return cls(frame_bytes, raw_size, sizes)

    def raw_length(self, frame: int) -> int:
        return min(self.frame_bytes, self.raw_size - frame * self.frame_bytes)


class BlobPage:
    """A stored blob read by ranges: ``page[a:b]`` decompresses only the frames it covers
    (and keeps the last few decompressed). ``read_at(offset, n)`` reads stored bytes."""

    def __init__(self, read_at: Callable[[int, int], bytes], raw: bytes | None = None) -> None:
        self._read_at = read_at
        self._raw = raw
        self._index: FrameIndex | None = None
        self._frames: OrderedDict[int, bytes] = OrderedDict()

    @classmethod
    def of(cls, stored: bytes | memoryview) -> BlobPage:
        """A page over stored bytes in memory, encoded or raw."""
        if not is_encoded(stored):
            return cls(_no_reads, bytes(stored))
        view = memoryview(stored)
        return cls(lambda at, n: view[at : at + n].tobytes())

    def index(self) -> FrameIndex:
        if self._index is None:
            self._index = FrameIndex.read(self._read_at)
        return self._index

    def __len__(self) -> int:
        return len(self._raw) if self._raw is not None else self.index().raw_size

    def frame(self, number: int, *, keep: bool = True) -> bytes:
        """A frame's bytes, decompressed once: the last ``CACHED_FRAMES`` read are kept
        (unless not ``keep``: one read through and never again)."""
        found = self._frames.get(number)
        if found is not None:
            self._frames.move_to_end(number)
            return found
        index = self.index()
        stored = self._read_at(index.starts[number], index.stored_sizes[number])
        raw_length = index.raw_length(number)
        data = stored if len(stored) == raw_length else _decompressor().decompress(stored)
        if keep:
            self._frames[number] = data
            if len(self._frames) > CACHED_FRAMES:
                self._frames.popitem(last=False)
        return data

    def read(self, offset: int, length: int) -> bytes:
        if self._raw is not None:
            return self._raw[offset : offset + length]
        index = self.index()
        end = min(offset + length, index.raw_size)
        if offset >= end:
            return b""
        size = index.frame_bytes
        first, last = offset // size, (end - 1) // size
        if first == last:
            base = first * size
            return self.frame(first)[offset - base : end - base]
        # A line over several frames: the frames it covers wholly are read through, only
        # the last is kept (the next line starts there); its part of each, joined once.
        parts = [memoryview(self.frame(first, keep=False))[offset - first * size :]]
        parts += (memoryview(self.frame(n, keep=False)) for n in range(first + 1, last))
        parts.append(memoryview(self.frame(last))[: end - last * size])
        return b"".join(parts)

    def __getitem__(self, span: slice) -> bytes:
        start, stop, step = span.indices(len(self))
        assert step == 1, "pages are read by contiguous ranges"
        return self.read(start, max(0, stop - start))

    def __bytes__(self) -> bytes:
        if self._raw is not None:
            return self._raw
        return b"".join(self.frame_bytes_all())

    def frame_bytes_all(self) -> list[bytes]:
        index = self.index()
        decompress = _decompressor().decompress
        out = []
        for n, start in enumerate(index.starts):
            stored = self._read_at(start, index.stored_sizes[n])
            raw_length = index.raw_length(n)
            out.append(stored if len(stored) == raw_length else decompress(stored))
        return out


def _no_reads(offset: int, length: int) -> bytes:  # pragma: no cover - raw pages never read
    raise AssertionError("a raw page has no frames")


def decode_blob(stored: bytes | memoryview) -> bytes:
    """A blob's original bytes, whether stored encoded or (before compression) raw."""
    if not is_encoded(stored):
        return bytes(stored)
    return bytes(BlobPage.of(stored))


def open_blob(stored: bytes | memoryview) -> BlobPage:
    """A blob read by ranges (``page[a:b]``, ``bytes(page)`` for all of it): the one call the
    read side makes on what it selected from ``blobs.data``."""
    return BlobPage.of(stored)


# -- event payloads -----------------------------------------------------------

ZSTD_FRAME = b"\x28\xb5\x2f\xfd"
"""How every zstd frame starts. A stored event written without compression is orjson
text of an object, which starts with ``{``: the two never meet."""

SMALL_STATE = 256
"""Event states shorter than this are stored as they are: a zstd frame would save little."""


def compress_state(state: bytes) -> bytes:
    if len(state) < SMALL_STATE:
        return state
    packed = _compressor().compress(state)
    return packed if len(packed) < len(state) else state


def decompress_state(state: bytes) -> bytes:
    """An event's state as the transcoder wrote it, compressed or (older stores, small
    events) not."""
    if state[:4] == ZSTD_FRAME:
        return _decompressor().decompress(state)
    return state


def decode_state(state: bytes) -> dict[str, Any]:
    """An event's fields as plain JSON data, straight from a stored state (``show``)."""
    import orjson

    return cast(dict[str, Any], orjson.loads(decompress_state(state)))
