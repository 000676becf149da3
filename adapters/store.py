"""Opening Threadline's store: the composition root of the write and read sides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.home import StoreUnavailableError, resolve_home
from adapters.persistence.codec import CODEC_ENV, PydanticMapper
from adapters.persistence.sqlite import (
    SQLiteBlobStore,
    creation_lock,
    prepare_database,
    prepare_home,
    sqlite_env,
)
from adapters.persistence.sqlite_read_models import SQLiteReadModels
from application.projections import CatchUp
from application.threadline import Threadline


@dataclass
class Store:
    home: str
    app: Threadline
    blobs: SQLiteBlobStore
    read_models: SQLiteReadModels
    _catch_up: CatchUp = field(init=False)

    def __post_init__(self) -> None:
        mapper = self.app.mapper
        assert isinstance(mapper, PydanticMapper)
        self._catch_up = CatchUp(
            log=self.app.recorder,
            decode=mapper.decode_state,  # type: ignore[arg-type]
            store=self.read_models,
        )

    def catch_up(self, **kwargs: Any) -> int:
        return self._catch_up.run(**kwargs)

    def rebuild(self, **kwargs: Any) -> int:
        return self._catch_up.rebuild(**kwargs)

    def close(self) -> None:
        self.app.close()


def open_store(home: str | None = None) -> Store:
    """The embedded SQLite store under the Threadline home."""
    home = resolve_home(home)
    try:
        prepare_home(home)
        with creation_lock(home):
            db_path = prepare_database(home)
            app = Threadline(env={**CODEC_ENV, **sqlite_env(db_path)})
            read_models = app.factory.tracking_recorder(SQLiteReadModels)
            assert isinstance(read_models, SQLiteReadModels)
            blobs = SQLiteBlobStore(read_models.datastore)
    except OSError as exc:
        reason = exc.strerror if exc.strerror and exc.filename else str(exc)
        raise StoreUnavailableError(f"cannot open the store in {home}: {reason}") from exc
    except Exception as exc:  # any failure here means there is no usable store
        raise StoreUnavailableError(f"cannot open the store in {home}: {exc}") from exc
    return Store(home=home, app=app, blobs=blobs, read_models=read_models)
