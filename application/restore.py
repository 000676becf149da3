"""Giving the original source files back, byte for byte, from the pages the ledger names.

Every ``LedgerRecorded`` event names the pages (content-addressed blobs of whole
lines) that one version of a source consumed: all of them when the source was
read from the start, or only the appended ones. A version's bytes are the pages
of the last full read followed by every append since; their sha256 must be the
one the ledger recorded, or nothing is written. A version may also name the small
file its agent keeps beside it (Claude Code's sub-agent ``agent-<id>.meta.json``),
stored whole as one blob: it goes back beside the transcript by the same rules.

A file is written beside its target under a temporary name, checked, synced and
then renamed over it, so a crash never leaves half a transcript. An existing
file with other bytes is never replaced unless the caller forces it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from threadline.application.ports import BlobStore
from threadline.domain.ledger import Import

PAGE = 500


def _topics(event_class: type) -> frozenset[str]:
    """A topic and its spelling in stores written before the one installed package (ADR 0010)."""
    topic = get_topic(event_class)
    return frozenset({topic, topic.removeprefix("threadline.")})


T_REGISTERED = _topics(Import.SourceRegistered)  # type: ignore[attr-defined]
T_LEDGER = _topics(Import.LedgerRecorded)  # type: ignore[attr-defined]
T_TOUCHED = _topics(Import.SourceTouched)  # type: ignore[attr-defined]


class NotificationLog(Protocol):
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...


@dataclass(frozen=True)
class Page:
    blob: str
    size: int


@dataclass(frozen=True)
class RecordedVersion:
    """One version of a source as the ledger recorded it, and the pages that make it."""

    number: int
    """1 for the first version recorded, counting every ``LedgerRecorded`` of the source."""
    path: str
    sha256: str
    """Of the bytes consumed (the whole file unless its last line was torn)."""
    size: int
    mtime_ns: int
    outcome: str
    thread_ids: frozenset[str]
    pages: tuple[Page, ...]
    complete: bool
    """The pages add up to the bytes consumed (False: a page of this chain was never named)."""
    meta: Page | None = None
    """The file beside the source as this version was read, when one was recorded."""

    @property
    def modified(self) -> str:
        moment = datetime.fromtimestamp(self.mtime_ns / 1e9, UTC)
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class RecordedSource:
    agent: str
    source_key: str
    versions: list[RecordedVersion] = field(default_factory=list)

    @property
    def newest(self) -> RecordedVersion:
        return self.versions[-1]

    def version(self, number: int) -> RecordedVersion | None:
        return next((v for v in self.versions if v.number == number), None)


def recorded_sources(
    log: NotificationLog, decode: Callable[[bytes], dict[str, Any]]
) -> list[RecordedSource]:
    """Every source the ledger knows, with each version's pages, in the order first seen."""
    sources: dict[Any, RecordedSource] = {}
    chains: dict[Any, list[Page]] = {}
    wanted = sorted(T_REGISTERED | T_LEDGER | T_TOUCHED)
    start = 0
    while True:
        page = log.select_notifications(start, PAGE, topics=wanted, inclusive_of_start=False)
        for n in page:
            event = decode(n.state)
            if n.topic in T_REGISTERED:
                sources[n.originator_id] = RecordedSource(event["agent"], event["source_key"])
                chains[n.originator_id] = []
                continue
            source = sources[n.originator_id]
            if n.topic in T_TOUCHED:  # the same bytes found under a new mtime
                source.versions[-1] = replace(source.versions[-1], mtime_ns=event["mtime_ns"])
                continue
            version = event["version"]
            new = [Page(p["blob"], p["size"]) for p in event["pages"]]
            consumed = version["consumed_bytes"]
            chain = chains[n.originator_id]
            # A full read names all the pages; an append names those after the last version.
            chain = new if sum(p.size for p in new) == consumed else chain + new
            chains[n.originator_id] = chain
            threads = {event["thread_id"], *event.get("sidechains", {}).values()} - {None}
            meta = event.get("meta")  # recorded since this field was added
            source.versions.append(
                RecordedVersion(
                    number=len(source.versions) + 1,
                    path=event["path"],
                    sha256=version["consumed_sha256"],
                    size=consumed,
                    mtime_ns=version["mtime_ns"],
                    outcome=event["outcome"],
                    thread_ids=frozenset(str(t) for t in threads),
                    pages=tuple(chain),
                    complete=sum(p.size for p in chain) == consumed,
                    meta=Page(meta["blob"], meta["size"]) if meta else None,
                )
            )
        if len(page) < PAGE:
            break
        start = page[-1].id
    return [s for s in sources.values() if s.versions]


def select(
    sources: Iterable[RecordedSource],
    threads: Sequence[str] = (),
    agents: Sequence[str] = (),
    since_ns: int | None = None,
) -> list[RecordedSource]:
    """The sources of these threads (id prefixes) and agents, modified since ``since_ns``."""
    chosen = []
    for source in sources:
        newest = source.newest
        if agents and source.agent not in agents:
            continue
        if since_ns is not None and newest.mtime_ns < since_ns:
            continue
        ids = {t for v in source.versions for t in v.thread_ids}
        if threads and not any(t.startswith(prefix) for t in ids for prefix in threads):
            continue
        chosen.append(source)
    return chosen


Outcome = Literal["restored", "unchanged", "present", "conflict", "failed"]


@dataclass(frozen=True)
class Restored:
    target: str
    source: RecordedSource
    version: RecordedVersion
    outcome: Outcome
    reason: str = ""
    meta: Page | None = None
    """Set when the file written is the version's meta file, not its transcript."""


def restore_version(
    version: RecordedVersion,
    source: RecordedSource,
    target: str,
    blobs: BlobStore,
    *,
    overwrite: bool,
    only_missing: bool = False,
) -> Restored:
    """Write ``version``'s bytes to ``target``, unless a file with other bytes is there and
    ``overwrite`` is off (or any file is there and ``only_missing`` is on)."""
    if not version.complete:
        reason = "the ledger does not name every page of this version"
        return Restored(target, source, version, "failed", reason)
    outcome, reason = _write(
        target,
        version.pages,
        version.sha256,
        version.mtime_ns,
        blobs,
        overwrite=overwrite,
        only_missing=only_missing,
    )
    return Restored(target, source, version, outcome, reason)


def restore_meta(
    version: RecordedVersion,
    source: RecordedSource,
    target: str,
    blobs: BlobStore,
    *,
    overwrite: bool,
    only_missing: bool = False,
) -> Restored:
    """Write the meta file ``version`` recorded to ``target`` by the same rules (its blob's
    key is the sha256 of its bytes); it keeps the time it is written at."""
    assert version.meta is not None
    outcome, reason = _write(
        target,
        (version.meta,),
        version.meta.blob,
        None,
        blobs,
        overwrite=overwrite,
        only_missing=only_missing,
    )
    return Restored(target, source, version, outcome, reason, meta=version.meta)


def _write(
    target: str,
    pages: Sequence[Page],
    sha256: str,
    mtime_ns: int | None,
    blobs: BlobStore,
    *,
    overwrite: bool,
    only_missing: bool,
) -> tuple[Outcome, str]:
    if os.path.lexists(target):
        if only_missing and not overwrite:
            return "present", "a file is there already"
        if os.path.isfile(target) and _file_sha256(target) == sha256:
            return "unchanged", ""
        if not overwrite:
            return "conflict", "a different file is there; --force replaces it"
    directory = os.path.dirname(target) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".restore-", suffix=".tmp", dir=directory)
    try:
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as f:
            for page in pages:
                data = blobs.get(page.blob)
                if len(data) != page.size:
                    return "failed", f"page {page.blob[:12]} has {len(data)} bytes"
                hasher.update(data)
                f.write(data)
                del data
            f.flush()
            os.fsync(f.fileno())
        if hasher.hexdigest() != sha256:
            return "failed", "the pages' sha256 differs from the ledger's"
        if mtime_ns is not None:
            os.utime(temporary, ns=(mtime_ns, mtime_ns))
        os.replace(temporary, target)
        temporary = ""
    except KeyError as exc:
        return "failed", f"missing from the store: {exc.args[0]}"
    finally:
        if temporary:
            os.unlink(temporary)
    return "restored", ""


def _file_sha256(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            hasher.update(block)
    return hasher.hexdigest()
