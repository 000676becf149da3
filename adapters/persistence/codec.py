"""Pydantic events through orjson, after the library's aggregate7/aggregate8 examples.

The library's default JSON transcoder is replaced because it is slower on large
text, and because orjson alone would silently turn datetimes and UUIDs of
dataclass events into strings; pydantic re-validates them on the way back.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.persistence import Compressor, Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, register_topic, resolve_topic
from pydantic import BaseModel

import threadline.domain
from threadline.adapters.persistence.compression import compress_state, decompress_state

# Stores written before the layers were installed as one package name their events
# ``domain.session:Session.SessionImported``: such topics resolve into ``threadline.domain``
# (ADR 0010; the projections read both spellings, ``application.projections.topics``).
register_topic("domain", threadline.domain)


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class PydanticMapper(Mapper[UUID]):
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = self.transcoder.encode(cast(BaseModel, domain_event).model_dump(mode="json"))
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return resolve_topic(stored_event.topic)(**self.decode_state(stored_event.state))

    def decode_state(self, state: bytes) -> dict[str, Any]:
        """The event's fields as plain JSON data, for read models that need no validation."""
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        return cast(dict[str, Any], self.transcoder.decode(state))


class ZstdCompressor(Compressor):
    """The library's compressor hook with zstd (level 1): states of 256 bytes or more are
    stored as zstd frames; states stored before, or too small to gain, are read as they
    are (``compression.decompress_state``; ADR 0015)."""

    def compress(self, data: bytes) -> bytes:
        return compress_state(data)

    def decompress(self, data: bytes) -> bytes:
        return decompress_state(data)


CODEC_ENV = {
    "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
    "MAPPER_TOPIC": get_topic(PydanticMapper),
    "COMPRESSOR_TOPIC": get_topic(ZstdCompressor),
}
