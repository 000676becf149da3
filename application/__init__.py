"""Use cases: import transcripts, read threads back, keep the read models current."""
