"""Reading a Claude Code transcript in one pass.

The pages of lines are read, hashed and stored by ``adapters/jsonl_pages.read_pages``
as for every line-based agent; this module maps them to the main thread, its inline
sidechains and the sub-agents known only from progress lines. A last line with no
newline that is not valid JSON is torn (still being written): it is left unconsumed
for the next import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import orjson

from threadline.adapters.claude_code import AGENT, layout
from threadline.adapters.claude_code.discovery import (
    conversation_of,
    discover,
    is_subagent_file,
    parent_conversation,
)
from threadline.adapters.claude_code.mapping import ThreadFacts, TranscriptMapper
from threadline.adapters.git import git_info
from threadline.adapters.jsonl_pages import read_pages
from threadline.application.ports import (
    BlobStore,
    Problem,
    ReadMode,
    ReadTranscript,
    ResumePoint,
    SourceFile,
    ThreadContent,
    name_conversations,
)
from threadline.domain.items import Unknown
from threadline.domain.ledger import MetaFile, SourceVersion
from threadline.domain.session import GitInfo, ThreadSummary, TranscriptSource

PAGE_BYTES = 4 * 1024 * 1024
"""Target size of one stored page of source lines."""


name_conversations(AGENT, conversation_of)


class ClaudeCodeReader:
    agent = AGENT

    def discover(self, paths: Iterable[str]) -> tuple[list[SourceFile], list[Problem]]:
        return discover(paths)

    def conversation_of(self, path: str) -> str | None:
        return conversation_of(path)

    # -- one pass ------------------------------------------------------------

    def read(
        self, source: SourceFile, resume: ResumePoint | None, blobs: BlobStore
    ) -> ReadTranscript:
        path = source.path
        mapper = TranscriptMapper(path, blobs, is_subagent_file=is_subagent_file(path))

        def started(mode: ReadMode) -> None:
            if mode == "append" and resume is not None:
                mapper.continue_chains(resume.sidechain_lines)

        paged = read_pages(path, resume, blobs, mapper.feed, on_start=started)
        if paged.torn is not None:
            mapper.problems.append(paged.torn)
        version, mode = paged.version, paged.mode
        subagent = is_subagent_file(path)
        meta, spawned_by, meta_problem = _meta(path, blobs) if subagent else (None, None, None)
        # Lines appended to a known transcript belong to it, whatever they hold.
        main, sidechains = self._threads(source, mapper, spawned_by, continuing=mode == "append")
        if meta_problem is not None:
            mapper.problems.append(meta_problem)
        facts = mapper.main
        conversation = conversation_of(path, facts.session_id, facts.agent_id)
        return ReadTranscript(
            conversation_id=conversation,
            mirrored=self._mirrored(source, mapper, conversation) if main else {},
            prefix_of_resume=mode == "replace"
            and resume is not None
            and _is_prefix_of(resume, version, blobs),
            sidechain_lines=mapper.sidechain_lines(),
            version=version,
            mode=mode,
            pages=paged.pages,
            main=main,
            sidechains=sidechains,
            problems=mapper.problems,
            meta=meta,
        )

    # -- threads -------------------------------------------------------------

    def _threads(
        self,
        source: SourceFile,
        mapper: TranscriptMapper,
        spawned_by: str | None,
        *,
        continuing: bool,
    ) -> tuple[ThreadContent | None, dict[str, ThreadContent]]:
        path = source.path
        facts = mapper.main
        if not continuing and not _looks_like_transcript(mapper):
            if facts.records or mapper.sidechains:
                mapper.problem(0, "no Claude Code conversation records; not a transcript")
            elif not mapper.problems:
                mapper.problem(0, "empty file; nothing to import")
            else:
                mapper.problem(0, "no readable records; not imported")
            return None, {}
        subagent = is_subagent_file(path)
        parent = parent_conversation(path, facts.session_id) if subagent else None
        main = ThreadContent(
            source=TranscriptSource(
                agent=AGENT,
                path=path,
                session_id=facts.session_id,
                agent_id=facts.agent_id if subagent else None,
            ),
            summary=self._summary(facts, mapper, source),
            items=facts.built_items(),
            parent_conversation_id=parent,
            spawned_by_call_id=spawned_by,
        )
        if facts.cwd is None and facts.records and not continuing:
            mapper.problem(0, "no 'cwd' in any record; imported without a working directory")
        sidechains = {
            root: ThreadContent(
                source=TranscriptSource(
                    agent=AGENT,
                    path=path,
                    session_id=side.session_id or facts.session_id,
                    agent_id=side.agent_id,
                ),
                summary=self._summary(side, mapper, source, fallback_cwd=facts.cwd),
                items=side.built_items(),
            )
            for root, side in mapper.sidechains.items()
        }
        return main, sidechains

    def _mirrored(
        self, source: SourceFile, mapper: TranscriptMapper, conversation: str | None
    ) -> dict[str, ThreadContent]:
        """Sub-agents known from this transcript's ``agent_progress`` lines, by their
        conversation id (``<sessionId>/agent-<agentId>``, as their own files would be)."""
        if is_subagent_file(source.path):
            session = parent_conversation(source.path, mapper.main.session_id)
        else:
            session = conversation
        if session is None:
            return {}
        return {
            f"{session}/agent-{agent}": ThreadContent(
                source=TranscriptSource(
                    agent=AGENT,
                    path=source.path,
                    session_id=facts.session_id or mapper.main.session_id,
                    agent_id=agent,
                ),
                summary=self._summary(facts, mapper, source, fallback_cwd=mapper.main.cwd),
                items=facts.built_items(),
                spawned_by_call_id=mapper.mirrored_calls.get(agent),
                conversation_id=f"{session}/agent-{agent}",
                read_from=mapper.mirrored_lines.get(agent, []),
            )
            for agent, facts in mapper.mirrored.items()
        }

    def _summary(
        self,
        facts: ThreadFacts,
        mapper: TranscriptMapper,
        source: SourceFile,
        fallback_cwd: str | None = None,
    ) -> ThreadSummary:
        cwd = facts.cwd or fallback_cwd
        git = git_info(cwd) if cwd else None
        if git is None and facts.git_branch and facts.git_branch != "HEAD":
            git = GitInfo(branch=facts.git_branch)
        title, title_source = facts.title()
        return ThreadSummary(
            title=title,
            title_source=title_source,  # type: ignore[arg-type]
            preview=mapper.preview(facts),
            first_user_message=mapper.first_user_message(facts),
            cwd=cwd,
            git=git,
            models=facts.models,
            created_at=facts.first_timestamp,
            updated_at=facts.last_timestamp,
        )


def _meta(path: str, blobs: BlobStore) -> tuple[MetaFile | None, str | None, Problem | None]:
    """A sub-agent's meta file, its bytes stored as they are, and the Task/Agent tool call
    that spawned it (its ``toolUseId``); a meta file that is not JSON is still stored
    (it is the original) and reported, and the transcript is imported without the call."""
    meta_path = layout.meta_path(path)
    try:
        data = Path(meta_path).read_bytes()
    except FileNotFoundError:
        return None, None, None
    except OSError as exc:
        return None, None, Problem(meta_path, 0, f"cannot read: {exc.strerror or exc}")
    meta = MetaFile(blob=blobs.put(data), size=len(data))
    try:
        fields = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = f"not JSON ({exc.msg}); its bytes are kept, the spawning tool call is unknown"
        return meta, None, Problem(meta_path, exc.lineno, reason)
    call = fields.get("toolUseId") if isinstance(fields, dict) else None
    return meta, call if isinstance(call, str) else None, None


def _looks_like_transcript(mapper: TranscriptMapper) -> bool:
    """A session id on some line, or some record the mapper understood."""
    threads = [mapper.main, *mapper.sidechains.values()]
    return any(t.session_id for t in threads) or any(
        not isinstance(item, Unknown) for t in threads for item in t.items
    )


def _is_prefix_of(resume: ResumePoint, version: SourceVersion, blobs: BlobStore) -> bool:
    """Whether the bytes read are the first ``version.consumed_bytes`` of the resume
    point's (an older copy of them), by hashing that much of its stored pages."""
    remaining = version.consumed_bytes
    if remaining > resume.consumed_bytes or not resume.pages:
        return False
    hasher = hashlib.sha256()
    for page in resume.pages:
        if remaining <= 0:
            break
        data = blobs.get(page.blob)[:remaining]
        hasher.update(data)
        remaining -= len(data)
    return remaining == 0 and hasher.hexdigest() == version.consumed_sha256
