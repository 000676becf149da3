"""The Jinja2 templates, autoescaped everywhere, for the web app and the HTML export."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from threadline.adapters.web import present
from threadline.application.views import MARK_END, MARK_START

HERE = Path(__file__).parent
STATIC = HERE / "static"


def marked(snippet: str) -> Markup:
    """A search snippet, escaped, with its matches (between the read side's marks) in
    ``<mark>``: the marks are control characters, so no escaped text can forge one."""
    text = str(escape(" ".join(snippet.split())))
    return Markup(text.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def server_image_src(image: dict[str, Any]) -> str:
    return f"/blob/{image['blob']}?type={image['media_type']}"


class Renderer:
    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["size"] = present.human_size
        self.env.filters["when"] = present.when
        self.env.filters["marked"] = marked
        self.env.filters["short"] = lambda s: (s or "")[:8]
        self.env.globals["image_src"] = server_image_src
        self.env.globals["exported"] = False
        self.env.globals["inline_css"] = ""
        self.env.globals["inline_js"] = ""

    def page(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def fragment(self, **context: Any) -> str:
        return self.env.get_template("items.html").render(**context)

    def export(self, **context: Any) -> str:
        """The thread page as one self-contained file: CSS and JS inline (allowed by
        their hashes in a CSP meta tag), images as data: URIs, no network."""
        css = (STATIC / "threadline.css").read_text()
        js = (STATIC / "threadline.js").read_text()
        csp = (
            "default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; "
            f"style-src '{_sha256(css)}'; script-src '{_sha256(js)}'"
        )
        return self.env.get_template("thread.html").render(
            exported=True,
            inline_css=Markup(css),
            inline_js=Markup(js),
            csp=csp,
            image_src=_data_uri(context.pop("blobs")),
            **context,
        )


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _data_uri(blobs: Any) -> Any:
    def image_src(image: dict[str, Any]) -> str:
        kind = image["media_type"]
        if kind not in ("image/png", "image/jpeg", "image/gif", "image/webp"):
            return ""
        data = base64.b64encode(blobs(image["blob"])).decode()
        return f"data:{kind};base64,{data}"

    return image_src
