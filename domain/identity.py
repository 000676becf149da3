"""Deterministic identities.

Every id that an import mints is a uuid5 of what the import is about, so two
importers that see the same source compute the same ids, and the event store's
unique (originator id, version) key turns a second, concurrent import into a
conflict instead of a duplicate thread.
"""

from __future__ import annotations

from uuid import UUID, uuid5

THREADLINE_NAMESPACE = UUID("0b5c3f4e-7a8e-5d21-9f7c-6c1d2e3f4a5b")


def import_id(agent: str, source_key: str) -> UUID:
    """The import ledger entry of one source, e.g. one transcript file."""
    return uuid5(THREADLINE_NAMESPACE, f"import:{agent}:{source_key}")


def imported_thread_id(agent: str, source_key: str) -> UUID:
    """The thread that holds one imported source."""
    return uuid5(THREADLINE_NAMESPACE, f"thread:{agent}:{source_key}")


def sidechain_thread_id(parent_thread: UUID, chain_root: str) -> UUID:
    """A child thread for a sub-agent conversation written inline in its parent."""
    return uuid5(THREADLINE_NAMESPACE, f"sidechain:{parent_thread}:{chain_root}")


def conversation_index_id(agent: str, conversation_id: str) -> UUID:
    """The index entry of one conversation, by the agent's own id for it (ADR 0011)."""
    return uuid5(THREADLINE_NAMESPACE, f"conversation:{agent}:{conversation_id}")


def conversation_thread_id(agent: str, conversation_id: str) -> UUID:
    """The thread of a conversation first imported by a release that indexes conversations.

    Threads imported before keep the id ``imported_thread_id`` gave them; the index
    names whichever a conversation has."""
    return uuid5(THREADLINE_NAMESPACE, f"conversation-thread:{agent}:{conversation_id}")


IDENTITY_UPGRADE_ID = uuid5(THREADLINE_NAMESPACE, "upgrade:conversation-index")
"""The one record that the threads imported before conversations were indexed have been
indexed (ADR 0011)."""


def conversation_start_id(agent: str, line_uuid: str) -> UUID:
    """The index entry of the first line (by its uuid) of a conversation's transcript."""
    return uuid5(THREADLINE_NAMESPACE, f"conversation-start:{agent}:{line_uuid}")
