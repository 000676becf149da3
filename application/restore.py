"""Giving the original source files back, byte for byte, from the pages the ledger names.

Every ``LedgerRecorded`` event names the pages (content-addressed blobs of whole
lines) that one version of a source consumed: all of them when the source was
read from the start, or only the appended ones. A version's bytes are the pages
of the last full read followed by every append since; their sha256 must be the
one the ledger recorded, or nothing is written.

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

    def result(outcome: Outcome, reason: str = "") -> Restored:
        return Restored(target, source, version, outcome, reason)

    if not version.complete:
        return result("failed", "the ledger does not name every page of this version")
    if os.path.lexists(target):
        if only_missing and not overwrite:
            return result("present", "a file is there already")
        if os.path.isfile(target) and _file_sha256(target) == version.sha256:
            return result("unchanged")
        if not overwrite:
            return result("conflict", "a different file is there; --force replaces it")
    directory = os.path.dirname(target) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".restore-", suffix=".tmp", dir=directory)
    try:
        hasher = hashlib.sha256()
        with os.fdopen(fd, "wb") as f:
            for page in version.pages:
                data = blobs.get(page.blob)
                if len(data) != page.size:
                    return result("failed", f"page {page.blob[:12]} has {len(data)} bytes")
                hasher.update(data)
                f.write(data)
                del data
            f.flush()
            os.fsync(f.fileno())
        if hasher.hexdigest() != version.sha256:
            return result("failed", "the pages' sha256 differs from the ledger's")
        os.utime(temporary, ns=(version.mtime_ns, version.mtime_ns))
        os.replace(temporary, target)
        temporary = ""
    except KeyError as exc:
        return result("failed", f"missing from the store: {exc.args[0]}")
    finally:
        if temporary:
            os.unlink(temporary)
    return result("restored")


def _file_sha256(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            hasher.update(block)
    return hasher.hexdigest()
