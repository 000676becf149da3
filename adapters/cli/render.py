"""How the CLI shows things to a person (rich) and to a program (plain JSON data)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from threadline.adapters.cli.text import short_path, size, when

if TYPE_CHECKING:
    from threadline.application.reports import SourceReport
    from threadline.application.sources import SourceFile

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@dataclass
class ImportProgress:
    """A progress bar per agent on a terminal; nothing otherwise."""

    progress: Progress | None
    tasks: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls) -> ImportProgress:
        if not err.is_terminal:
            return cls(None)
        progress = Progress(
            TextColumn("importing {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("sources"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        progress.start()
        return cls(progress)

    def found(self, sources: list[SourceFile]) -> None:
        if self.progress is not None:
            counts = Counter(source.agent for source in sources)
            for agent, total in counts.items():
                self.tasks[agent] = self.progress.add_task(agent, total=total)

    def done(self, source: SourceReport) -> None:
        task = self.tasks.get(source.agent)
        if self.progress is not None and task is not None:
            self.progress.advance(task)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@dataclass
class EventProgress:
    """A bar over notification ids while read models replay, on a terminal; else nothing."""

    progress: Progress | None
    task: Any = None

    @classmethod
    def start(cls, label: str) -> EventProgress:
        if not err.is_terminal:
            return cls(None)
        progress = Progress(
            TextColumn(label),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        progress.start()
        return cls(progress, progress.add_task(label, total=None))

    def update(self, position: int, end: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=position, total=end)

    def __enter__(self) -> EventProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def ledger_table(rows: list[dict[str, Any]]) -> None:
    """Each location on a line of its own, whole (any width; grep finds it), then what
    the ledger recorded of it, and a note when it is gone or diverged."""
    if not rows:
        err.print("the ledger is empty: nothing imported yet")
        return
    for row in rows:
        facts = "  ".join(
            [
                f"{row['outcome'] or '':<14}",
                f"thread {(row['thread_id'] or '-')[:8]:<8}",
                f"{size(row['size'] or 0):>10}",
                f"{row['items'] or 0:>6} items",
                f"sha256 {(row['sha256'] or '')[:12]}",
                when(row["recorded_at"]),
            ]
        )
        problems = f"  [yellow]{row['problems']} problem(s)[/]" if row["problems"] else ""
        out.print(f"[bold]{escape(row['source_path'])}[/]", highlight=False)
        out.print(f"  {escape(facts)}{problems}", highlight=False)
        note = location_note(row)
        if note:
            out.print(f"  [dim]{escape(note)}[/]", highlight=False)


def location_note(row: dict[str, Any]) -> str:
    """What the ledger says of a location beyond its outcome: gone from disk (its thread
    is kept), or how its version diverged from the one the thread held (ADR 0011)."""
    notes = []
    if row.get("gone"):
        notes.append("gone from disk; its thread is kept")
    if row.get("diverged_from"):
        mine, theirs = when(row.get("this_ends_at")) or "?", when(row.get("other_ends_at")) or "?"
        notes.append(f"diverged from {row['diverged_from']}: ends {mine}, that one {theirs}")
    return "; ".join(notes)


ROLE_STYLE = {
    "user": "bold cyan",
    "assistant": "bold green",
    "reasoning": "dim",
    "tool_call": "yellow",
    "tool_result": "magenta",
    "system": "blue",
    "image": "cyan",
    "unknown": "dim",
}


def history(thread: dict[str, Any], items: list[dict[str, Any]], full: bool = False) -> None:
    out.print(f"[bold]{escape(thread['title'])}[/bold]  [dim]{thread['thread_id']}[/dim]")
    facts = [
        escape(thread["source_path"]),
        f"cwd {escape(thread['cwd'] or '-')}",
        f"{thread['item_count']} items",
        *thread_facts(thread),
    ]
    out.print(f"[dim]{'  '.join(facts)}[/dim]\n")
    for item in items:
        kind = item["type"]
        text = item_text(item)
        if kind == "assistant" and not text:
            continue  # a response that only called tools or thought; its usage is in --json
        style = ROLE_STYLE.get(kind, "")
        stamp = f"[dim]#{item['position']}  {when(item.get('timestamp'))}[/dim]"
        if kind in FOLDED and not full:
            head, body = folded(item, text, FOLD_WIDTH)
            line = f"[{style}]{head}[/]  {stamp}  "
            room = max(out.width - len(_plain(line)), 20)
            if len(body) > room:
                body = body[: room - 1] + "…"
            out.print(line + escape(body), highlight=False)
            continue
        label = kind if kind != "system" else f"system:{item.get('subtype')}"
        out.print(f"[{style}]{label}[/]  {stamp}")
        if text:
            out.print(escape(text), highlight=False)
        out.print()


FOLDED = ("tool_call", "tool_result")
FOLD_WIDTH = 200


def thread_facts(thread: dict[str, Any]) -> list[str]:
    """What ``show`` says of a thread beyond its source: its lineage and the user's marks."""
    facts = []
    if thread.get("continued_from"):
        facts.append(f"continues {thread['continued_from']}")
    if thread.get("forked_from"):
        facts.append(f"forks {thread['forked_from']}")
    if thread.get("title_source") == "user":
        facts.append("named by you")
    if thread.get("archived"):
        facts.append("archived")
    return facts


def folded(item: dict[str, Any], text: str, width: int = FOLD_WIDTH) -> tuple[str, str]:
    """A tool call or result on one line: what it is and its size (markup), and how it
    starts (plain text, at most ``width`` characters)."""
    length = size(len(text.encode()))
    if item["type"] == "tool_call":
        head = f"→ {escape(item['name'])}"
        body = text.split(" ", 1)[1] if " " in text else ""
    else:
        head = "← error" if item.get("is_error") else "← result"
        body = text
    lines = body.count("\n") + 1 if body else 0
    first = " ".join(body.split())
    if len(first) > width:
        first = first[: width - 1] + "…"
    return f"{head} [dim]({length}, {lines} line{'s' if lines != 1 else ''})[/dim]", first


def markdown(thread: dict[str, Any], items: list[dict[str, Any]], full: bool = False) -> str:
    """The thread as a Markdown document: a heading per turn, tool traffic fenced."""
    parts = [f"# {thread['title']}\n"]
    facts = [
        f"- thread: `{thread['thread_id']}`",
        f"- source: `{thread['source_path']}` ({thread['source_agent']})",
        f"- cwd: `{thread['cwd'] or '-'}`",
    ]
    if thread.get("git_branch"):
        facts.append(f"- branch: `{thread['git_branch']}`")
    facts.append(f"- created {thread['created_at'] or '-'}, updated {thread['updated_at'] or '-'}")
    facts.extend(f"- {fact}" for fact in thread_facts(thread))
    parts.append("\n".join(facts) + "\n")
    for item in items:
        kind = item["type"]
        text = item_text(item)
        if kind == "assistant" and not text:
            continue
        stamp = when(item.get("timestamp"))
        if kind in ("user", "assistant"):
            parts.append(f"## {kind.capitalize()} · {stamp}\n\n{text}\n")
        elif kind == "reasoning":
            quoted = "\n".join("> " + line for line in text.splitlines())
            parts.append(f"> *thinking*\n>\n{quoted}\n")
        elif kind in FOLDED:
            head, body = folded(item, text)
            if full:
                fence = "~~~~" if "~~~" in text else "~~~"
                parts.append(f"**{_plain(head)}**\n\n{fence}\n{text}\n{fence}\n")
            else:
                parts.append(f"*{_plain(head)}* `{body.replace('`', chr(39))}`\n")
        elif text:
            label = kind if kind != "system" else f"system:{item.get('subtype')}"
            parts.append(f"*{label}*: {text}\n")
    return "\n".join(parts)


def _plain(markup: str) -> str:
    from rich.text import Text

    return Text.from_markup(markup).plain


def search_results(rows: list[dict[str, Any]], start: str, end: str) -> None:
    if not rows:
        err.print("no matches")
        return
    for row in rows:
        snippet = escape(" ".join(row["snippet"].split()))
        snippet = snippet.replace(start, "[reverse bold]").replace(end, "[/reverse bold]")
        out.print(
            f"[bold]{row['thread_id'][:8]}[/bold] #{row['position']} "
            f"[{ROLE_STYLE.get(row['role'], '')}]{row['role']}[/]  {escape(row['title'])}"
            f"  [dim]{escape(short_path(row['cwd'] or '', 40))}[/dim]",
            highlight=False,
        )
        out.print(f"  {snippet}", highlight=False)


def item_text(item: dict[str, Any]) -> str:
    """A readable rendering of one item's content."""
    kind = item["type"]
    if kind in ("user", "assistant"):
        return "\n\n".join(p if isinstance(p, str) else str(p) for p in item["parts"])
    if kind == "reasoning":
        return "[redacted]" if item.get("redacted") else str(item["text"])
    if kind == "tool_call":
        import orjson

        return f"{item['name']}({item['call_id']}) {orjson.dumps(item['input']).decode()}"
    if kind == "tool_result":
        output = item["output"]
        prefix = "[error] " if item.get("is_error") else ""
        if isinstance(output, str):
            return prefix + output
        return prefix + "\n".join(
            b["text"] if b.get("kind") == "text" else f"[{b.get('kind')}]" for b in output
        )
    if kind == "image":
        image = item["image"]
        return f"[image {image['media_type']}, {image['size']} bytes, blob {image['blob'][:12]}]"
    if kind == "system":
        return str(item.get("text") or "")
    if kind == "unknown":
        return f"[{item['record_type']}]"
    return ""
