"""Text formatting: case, trimming, replacing, truncating, splitting, slugs, HTML to text."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from autofy.connectors.sdk import Action, ConnectorContext, StrictModel

TextOperation = Literal[
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "replace",
    "truncate",
    "split",
    "slugify",
    "strip_html",
    "length",
    "word_count",
]


class FormatTextInput(StrictModel):
    operation: TextOperation = Field(
        description="upper, lower, title (Each Word Capitalized), capitalize (first letter), trim "
        "(spaces at both ends), replace (every `find` by `replace_with`), truncate (to `max_length` "
        "characters, ending with `suffix`), split (into a list at `separator`), slugify "
        "(lowercase-words-with-dashes), strip_html (HTML to plain text), length (characters), "
        "word_count."
    )
    text: str = Field(description="The text to format.")
    find: str | None = Field(default=None, description="replace: the text to look for.")
    replace_with: str = Field(default="", description="replace: what to put instead.")
    max_length: int | None = Field(
        default=None, ge=1, description="truncate: the longest result, suffix included."
    )
    suffix: str = Field(default="…", description="truncate: added when the text was cut.")
    separator: str = Field(default=",", min_length=1, description="split: where to cut the text.")

    @model_validator(mode="after")
    def _operation_arguments(self) -> FormatTextInput:
        if self.operation == "replace" and not self.find:
            raise ValueError("replace needs `find`")
        if self.operation == "truncate" and self.max_length is None:
            raise ValueError("truncate needs `max_length`")
        return self


class FormatTextOutput(BaseModel):
    result: str | int | list[str] = Field(
        description="The formatted text; a list for split; a number for length and word_count."
    )


class _TextCollector(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
    _HIDDEN = frozenset({"script", "style", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def strip_html(markup: str) -> str:
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    lines = (" ".join(line.split()) for line in html.unescape("".join(collector.parts)).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def truncate(text: str, max_length: int, suffix: str) -> str:
    if len(text) <= max_length:
        return text
    return text[: max(0, max_length - len(suffix))].rstrip() + suffix


def format_text(params: FormatTextInput) -> str | int | list[str]:
    text = params.text
    simple: dict[str, Callable[[str], str | int | list[str]]] = {
        "upper": str.upper,
        "lower": str.lower,
        "title": str.title,
        "capitalize": lambda t: t[:1].upper() + t[1:],
        "trim": str.strip,
        "slugify": slugify,
        "strip_html": strip_html,
        "length": len,
        "word_count": lambda t: len(t.split()),
        "split": lambda t: [part.strip() for part in t.split(params.separator)],
    }
    if params.operation == "replace":
        return text.replace(params.find or "", params.replace_with)
    if params.operation == "truncate":
        return truncate(text, params.max_length or len(text), params.suffix)
    return simple[params.operation](text)


class FormatText(Action[FormatTextInput, FormatTextOutput]):
    name = "format_text"
    display_name = "Format text"
    description = (
        "Transform text: change case, trim, find and replace, truncate, split into a list, make a "
        "URL slug, turn HTML into plain text, or count characters or words."
    )
    input_model = FormatTextInput
    output_model = FormatTextOutput

    async def run(self, ctx: ConnectorContext, params: FormatTextInput) -> FormatTextOutput:
        return FormatTextOutput(result=format_text(params))
