"""Where the store is: the home, or the PostgreSQL database a URL names, printed safely."""

from __future__ import annotations

import pytest

from threadline.adapters.home import StoreUnavailableError, redact, resolve_location


def test_a_database_url_password_is_never_shown() -> None:
    url = "postgresql://alice:s3cret-pw@db.example:5433/threadline?sslmode=require"

    shown = redact(url)

    assert "s3cret-pw" not in shown
    assert shown == "postgresql://alice:***@db.example:5433/threadline?sslmode=require"


def test_a_url_without_a_password_is_shown_as_it_is() -> None:
    assert redact("postgresql://bob@localhost/db") == "postgresql://bob@localhost/db"


def test_the_flag_wins_over_the_environment_which_wins_over_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THREADLINE_DATABASE_URL", "postgresql://env@host/db")

    assert resolve_location("/h", "postgresql://flag@host/db").database_url == (
        "postgresql://flag@host/db"
    )
    assert resolve_location("/h").database_url == "postgresql://env@host/db"
    monkeypatch.delenv("THREADLINE_DATABASE_URL")
    sqlite = resolve_location("/h")
    assert sqlite.database_url is None
    assert sqlite.describe() == "/h/threadline.db"


def test_a_url_that_is_not_postgresql_is_refused_without_its_password() -> None:
    with pytest.raises(StoreUnavailableError) as refused:
        resolve_location("/h", "mysql://root:hunter2@db/x")

    assert "hunter2" not in str(refused.value)
    assert "not a PostgreSQL URL" in str(refused.value)
