"""Where the bytes live (ADR 0001): pages + refs against every value inline in events.

    python bench/bytes_design.py HOME PROJECTS_ROOT blob|inline

"inline" forces every text and tool input into the events and stores no pages
(it also drops the raw envelope, so it keeps less than "blob"). Prints the
import plus read-model catch-up time; run it under `/usr/bin/time -f %M` for RSS.
"""

import hashlib
import sys
import time

import threadline.adapters.claude_code.mapping as m
from threadline.adapters.claude_code.reader import ClaudeCodeReader
from threadline.adapters.store import open_store
from threadline.application.import_transcripts import import_transcripts
from threadline.application.importing import TranscriptImporter

mode = sys.argv[3]
store = open_store(sys.argv[1])
if mode == "inline":
    m.INLINE_TEXT_CHARS = 10**12
    m.INLINE_JSON_BYTES = 10**12

    class NoPages:
        def put(self, data: bytes) -> str:
            return hashlib.sha256(data).hexdigest()

        def get(self, key: str) -> bytes:
            raise KeyError(key)

    blobs = NoPages()
else:
    blobs = store.blobs
r = ClaudeCodeReader()
imp = TranscriptImporter(store.app, r, blobs, catch_up=store.catch_up)
t = time.perf_counter()
rep = import_transcripts([sys.argv[2]], r.discover, lambda: imp)
print(
    mode, sys.argv[2], "import+catch-up s", round(time.perf_counter() - t, 2), rep.count("imported")
)
