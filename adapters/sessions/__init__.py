"""What live sessions run on: the SQLite store, MCP servers, the shell, the prompt log."""

from __future__ import annotations

import os
from dataclasses import dataclass

from adapters.home import resolve_home
from adapters.persistence.sqlite_queries import DB_FILENAME
from adapters.sessions.history import PromptLog
from adapters.sessions.mcp import McpConnectionManager
from adapters.sessions.shell import default_user_shell
from adapters.store import Store, open_store
from application.sessions import SessionServices
from application.threadline import Threadline


@dataclass
class SQLiteSessionStore:
    store: Store

    @property
    def app(self) -> Threadline:
        return self.store.app

    @property
    def location(self) -> str:
        return os.path.join(self.store.home, DB_FILENAME)

    def close(self) -> None:
        self.store.close()


def session_services(home: str | None = None) -> SessionServices:
    home = resolve_home(home)
    return SessionServices(
        open_store=lambda: SQLiteSessionStore(open_store(home)),
        mcp=McpConnectionManager,
        discover_shell=default_user_shell,
        prompt_history=PromptLog(home),
    )
