"""Store faults: which to retry, how often, how long to wait, how to name them.

One policy for every use case that writes (an import, a live session) and every store:
faults are classified on the library's own exceptions (``eventsourcing.persistence``),
which SQLite and PostgreSQL map their drivers' errors to (ADR 0008).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_all,
    wait_random_exponential,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

STORE_ATTEMPTS = 6
"""Tries of one store operation in all: a conflict or transient fault is retried 5 times."""
RETRY_WAIT_SECONDS = 0.05
RETRY_MAX_WAIT_SECONDS = 2.0
"""Exponential backoff with full jitter: waits of at most 0.05, 0.1, 0.2, 0.4 and 0.8 s
(never more than 2 s), on top of each try's own lock timeout."""

TRANSIENT_ERRORS = (OperationalError, InterfaceError)
"""A lock held too long by another process (SQLite ``database is locked``), a dropped
or refused connection (a PostgreSQL server restarting), an exhausted connection pool."""
PERMANENT_SIGNS = (
    "disk is full",
    "no space left",
    "quota",
    "i/o error",
    "readonly",
    "read-only",
    "permission denied",
    "unable to open",
    "not a database",
    "malformed",
    "authentication failed",
    "does not exist",
)
"""Operational errors that no wait will cure: no space, no permission, a broken file."""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__


def _transient_cause(exc: BaseException) -> BaseException | None:
    for cause in _causes(exc):
        if isinstance(cause, TRANSIENT_ERRORS):
            text = str(cause).lower()
            return None if any(sign in text for sign in PERMANENT_SIGNS) else cause
    return None


def is_transient(exc: BaseException) -> bool:
    """A store fault that may go away by itself if we wait (here or in an exception's causes)."""
    return _transient_cause(exc) is not None


def is_retryable(exc: BaseException) -> bool:
    """Transient, or a conflict with a concurrent writer (re-read, then try again)."""
    return isinstance(exc, IntegrityError) or is_transient(exc)


def store_error_reason(exc: BaseException) -> str:
    """One line naming the fault, without the statement or values the driver may add."""
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def store_retrying(what: str, *, patience: float | None = None) -> Retrying:
    """Bounded retries of one store operation, each logged with what it was doing.

    With ``patience`` (seconds), a fault is retried until it has lasted that long, and
    at least ``STORE_ATTEMPTS`` times: for a writer that cannot be run again later.
    """

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        conflict = isinstance(exc, IntegrityError)  # expected when importers race: quieter
        bound = f"{STORE_ATTEMPTS - 1}" if patience is None else f"up to {patience:g} s"
        log.log(
            logging.INFO if conflict else logging.WARNING,
            "%s: %s; retry %d of %s in %.2f s",
            what,
            store_error_reason(_transient_cause(exc) or exc) if exc else "failed",
            state.attempt_number,
            bound,
            wait,
        )

    attempts = stop_after_attempt(STORE_ATTEMPTS)
    return Retrying(
        retry=retry_if_exception(is_retryable),
        stop=attempts if patience is None else stop_all(attempts, stop_after_delay(patience)),
        wait=wait_random_exponential(multiplier=RETRY_WAIT_SECONDS, max=RETRY_MAX_WAIT_SECONDS),
        before_sleep=log_retry,
        reraise=True,
    )


def with_store_retries(what: str, call: Callable[[], T], *, patience: float | None = None) -> T:
    """``call()``, retried on conflicts and transient store faults; else its exception."""
    return store_retrying(what, patience=patience)(call)
