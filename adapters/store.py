"""Opening Threadline's store: the composition root of the write and read sides.

The embedded SQLite file under the home by default; the PostgreSQL database
that ``--database-url`` or ``$THREADLINE_DATABASE_URL`` names for a shared store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threadline.adapters.home import StoreLocation, StoreUnavailableError, resolve_location
from threadline.adapters.persistence.codec import CODEC_ENV, PydanticMapper
from threadline.application.ports import BlobStore
from threadline.application.projections import CatchUp, ReadModelStore
from threadline.application.threadline import Threadline

if TYPE_CHECKING:
    from threadline.adapters.persistence.postgres import WaitForSaves


CATCH_UP_PAGE = 500
"""Events per catch-up transaction, at most; a page also ends at ``PAGE_TEXT_CHARS`` of search
text. The import's parent then peaks at ~100 to 105 MiB while it indexes (50 events a page,
without the bound on text: 145 to 385 MiB; ADR 0015)."""


@dataclass
class Store:
    location: StoreLocation
    app: Threadline
    blobs: BlobStore
    read_models: ReadModelStore
    _catch_up: CatchUp = field(init=False)

    def __post_init__(self) -> None:
        mapper = self.app.mapper
        assert isinstance(mapper, PydanticMapper)
        self._catch_up = CatchUp(
            log=self.app.recorder,
            decode=mapper.decode_state,  # type: ignore[arg-type]
            store=self.read_models,
            page_size=CATCH_UP_PAGE,
        )

    @property
    def home(self) -> str:
        return self.location.home

    def catch_up(self, **kwargs: Any) -> int:
        return self._catch_up.run(**kwargs)

    def rebuild(self, **kwargs: Any) -> int:
        return self._catch_up.rebuild(**kwargs)

    @contextmanager
    def listening(self) -> Iterator[WaitForSaves]:
        """``wait(seconds, stop)`` between catch-ups: True when events were saved meanwhile.

        On PostgreSQL a wait ends as soon as any process saves (LISTEN for the
        recorder's NOTIFY); SQLite has no notifications, so a wait lasts its seconds
        (or until ``stop``) and the caller catches up to find out."""
        if self.location.database_url is None:
            yield lambda seconds, stop: stop.wait(seconds) and False
            return
        from threadline.adapters.persistence.postgres import listening_for_saves

        channel = self.app.recorder.channel_name  # type: ignore[attr-defined]
        with listening_for_saves(self.location.database_url, channel) as wait:
            yield wait

    def close(self) -> None:
        self.app.close()


def open_store(home: str | StoreLocation | None = None, database_url: str | None = None) -> Store:
    """The store at ``home`` (or the given location); created on first use."""
    location = home if isinstance(home, StoreLocation) else resolve_location(home, database_url)
    try:
        if location.database_url is None:
            return _open_sqlite(location)
        return _open_postgres(location, location.database_url)
    except StoreUnavailableError:
        raise
    except Exception as exc:  # any failure here means there is no usable store
        said = exc.strerror if isinstance(exc, OSError) and exc.filename else None
        reason = " ".join(str(said or exc).split())  # a driver's lines, joined
        raise StoreUnavailableError(f"cannot open the store in {location.where}: {reason}") from exc


def _open_sqlite(location: StoreLocation) -> Store:
    from threadline.adapters.persistence.sqlite import (
        SQLiteBlobStore,
        creation_lock,
        prepare_database,
        prepare_home,
        sqlite_env,
    )
    from threadline.adapters.persistence.sqlite_read_models import SQLiteReadModels

    prepare_home(location.home)
    with creation_lock(location.home):
        db_path = prepare_database(location.home)
        app = Threadline(env={**CODEC_ENV, **sqlite_env(db_path)})
        read_models = app.factory.tracking_recorder(SQLiteReadModels)
        assert isinstance(read_models, SQLiteReadModels)
        blobs = SQLiteBlobStore(read_models.datastore)
    return Store(location=location, app=app, blobs=blobs, read_models=read_models)


def _open_postgres(location: StoreLocation, url: str) -> Store:
    from threadline.adapters.persistence.postgres import (
        PostgresBlobStore,
        compress_with_lz4,
        creation_lock,
        postgres_env,
    )
    from threadline.adapters.persistence.postgres_read_models import PostgresReadModels

    with creation_lock(url) as created:
        # Once created, nothing is created again: CREATE INDEX IF NOT EXISTS and ALTER
        # TABLE lock their tables, and would deadlock with a catch-up writing them.
        env = {**CODEC_ENV, **postgres_env(url), "CREATE_TABLE": "no" if created else "yes"}
        app = Threadline(env=env)
        try:
            read_models = app.factory.tracking_recorder(PostgresReadModels)
            assert isinstance(read_models, PostgresReadModels)
            if created:
                blobs = PostgresBlobStore(read_models.datastore)
            else:
                compress_with_lz4(read_models.datastore, "threadline_events", "state")
                blobs = PostgresBlobStore.create(read_models.datastore)
        except BaseException:
            app.close()
            raise
    return Store(location=location, app=app, blobs=blobs, read_models=read_models)
