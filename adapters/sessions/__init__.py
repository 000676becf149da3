"""What live sessions run on: the store, MCP servers, the shell, the prompt log."""

from __future__ import annotations

from dataclasses import dataclass

from threadline.adapters.home import StoreLocation, resolve_location
from threadline.adapters.sessions.history import PromptLog
from threadline.adapters.sessions.mcp import McpConnectionManager
from threadline.adapters.sessions.shell import default_user_shell
from threadline.adapters.store import Store, open_store
from threadline.application.sessions import SessionServices
from threadline.application.threadline import Threadline


@dataclass
class StoreForSessions:
    store: Store

    @property
    def app(self) -> Threadline:
        return self.store.app

    @property
    def location(self) -> str:
        return self.store.location.describe()

    def close(self) -> None:
        self.store.close()


def session_services(location: StoreLocation | str | None = None) -> SessionServices:
    """The services for sessions at ``location`` (a home, for the SQLite store)."""
    if not isinstance(location, StoreLocation):
        location = resolve_location(location)
    where = location
    return SessionServices(
        open_store=lambda: StoreForSessions(open_store(where)),
        mcp=McpConnectionManager,
        discover_shell=default_user_shell,
        prompt_history=PromptLog(location.home),
    )
