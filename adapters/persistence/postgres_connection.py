"""Connecting to the PostgreSQL store: light (psycopg alone), for the read commands too."""

from __future__ import annotations

from typing import Any

import psycopg

SCHEMA = "threadline"
"""Every table of the store lives in this schema of the database the URL names."""
CONNECT_TIMEOUT_SECONDS = 10


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A plain connection whose search path is Threadline's schema."""
    return psycopg.connect(
        url,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        options=f"-c search_path={SCHEMA}",
        **kwargs,
    )
