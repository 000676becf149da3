"""Claude Code transcripts: where they live, how to read them, what their records mean."""

AGENT = "claude-code"
