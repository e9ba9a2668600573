"""The assistant's answers as HTML, from markdown, safely.

A model's output is untrusted: it may repeat a prompt-injected `<script>` or a `javascript:` link.
markdown-it-py parses it with raw HTML off, so any tag the model writes stays text (escaped by the
renderer), and a link is made only for a destination whose scheme is on the allowlist below (a
refused one stays the literal `[text](url)`). Images are not rendered: an answer never makes the
browser fetch anything. Links to other sites open in a new tab without handing this page over.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup

# Destinations a link may have: web pages, mail, or a path on this site.
_ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def _link_allowed(url: str) -> bool:
    """`url` as markdown-it normalized it (entities decoded, then percent-encoded)."""
    scheme = _SCHEME.match(url.strip())
    return scheme is None or scheme.group(1).lower() in _ALLOWED_SCHEMES


def _external_links(state: StateCore) -> None:
    for block in state.tokens:
        for token in block.children or []:
            if token.type == "link_open" and _SCHEME.match(str(token.attrGet("href") or "")):
                token.attrSet("rel", "noopener noreferrer nofollow")
                token.attrSet("target", "_blank")


def _renderer() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.disable("image")
    parser.validateLink = _link_allowed  # type: ignore[method-assign]
    parser.core.ruler.push("external_links", _external_links)
    return parser


_MARKDOWN = _renderer()


def render_markdown(text: str) -> Markup:
    """`text` (markdown written by a model) as HTML safe to put in a page."""
    return Markup(_MARKDOWN.render(text))  # noqa: S704 - markdown-it escaped all text, raw HTML is off
