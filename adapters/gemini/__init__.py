"""Gemini CLI chats (``~/.gemini/tmp/<project>/chats/session-*.json[l]``)."""

AGENT = "gemini"
