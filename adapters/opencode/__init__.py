"""OpenCode sessions: ``opencode.db`` (SQLite) and the legacy ``storage/`` JSON tree."""

AGENT = "opencode"
