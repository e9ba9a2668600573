"""Markdown-like text → Notion blocks, and Notion rich text/blocks → plain text.

Understood: `#`, `##`, `###` headings; `-`/`*` bullets; `1.` numbered items; `- [ ]`/`- [x]` to-dos;
`>` quotes; ``` code fences (with a language); `---` dividers; other lines are paragraphs (consecutive
lines join into one). Text longer than Notion's 2000 characters per rich-text item is split.
"""

from __future__ import annotations

import re
from typing import Any

RICH_TEXT_LIMIT = 2000
# A rich-text array holds at most 100 items: longer text continues in the next block.
RICH_TEXT_ITEMS_LIMIT = 100
BLOCK_TEXT_LIMIT = RICH_TEXT_LIMIT * RICH_TEXT_ITEMS_LIMIT
# Notion's accepted code languages include these; anything else is shown as plain text.
CODE_LANGUAGES = frozenset(
    {
        "bash", "c", "c#", "c++", "css", "diff", "docker", "go", "graphql", "html", "java",
        "javascript", "json", "kotlin", "makefile", "markdown", "php", "plain text", "python",
        "ruby", "rust", "shell", "sql", "swift", "typescript", "xml", "yaml",
    }
)  # fmt: skip
_LANGUAGE_ALIASES = {"py": "python", "js": "javascript", "ts": "typescript", "sh": "shell", "yml": "yaml"}

_TODO = re.compile(r"^[-*] \[( |x|X)\] (.*)$")
_BULLET = re.compile(r"^[-*] (.*)$")
_NUMBERED = re.compile(r"^\d+[.)] (.*)$")
_HEADING = re.compile(r"^(#{1,3}) (.*)$")
_DIVIDER = re.compile(r"^(-{3,}|\*{3,}|_{3,})$")


def rich_text(text: str) -> list[dict[str, Any]]:
    """Plain text as Notion rich text, split into items of at most 2000 characters."""
    chunks = [text[start : start + RICH_TEXT_LIMIT] for start in range(0, len(text), RICH_TEXT_LIMIT)]
    return [{"type": "text", "text": {"content": chunk}} for chunk in chunks]


def _block(kind: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"object": "block", "type": kind, kind: {"rich_text": rich_text(text), **extra}}


def _text_blocks(kind: str, text: str, **extra: Any) -> list[dict[str, Any]]:
    """One block, or several when the text is longer than a block's rich text can hold."""
    starts = range(0, max(len(text), 1), BLOCK_TEXT_LIMIT)
    return [_block(kind, text[start : start + BLOCK_TEXT_LIMIT], **extra) for start in starts]


def markdown_to_blocks(markdown: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    paragraph: list[str] = []
    lines = markdown.replace("\r\n", "\n").split("\n")

    def flush_paragraph() -> None:
        if paragraph:
            blocks.extend(_text_blocks("paragraph", "\n".join(paragraph)))
            paragraph.clear()

    index = 0
    while index < len(lines):
        line = lines[index].rstrip()
        index += 1
        stripped = line.strip()
        if stripped.startswith("```"):
            flush_paragraph()
            code: list[str] = []
            while index < len(lines) and not lines[index].strip().startswith("```"):
                code.append(lines[index])
                index += 1
            index += 1  # the closing fence (or the end of the text)
            blocks.extend(_text_blocks("code", "\n".join(code), language=_language(stripped[3:])))
            continue
        block = _line_block(stripped)
        if block is None:
            if stripped:
                paragraph.append(stripped)
            else:
                flush_paragraph()
            continue
        flush_paragraph()
        blocks.append(block)
    flush_paragraph()
    return blocks


def _line_block(line: str) -> dict[str, Any] | None:
    if _DIVIDER.match(line):
        return {"object": "block", "type": "divider", "divider": {}}
    if match := _HEADING.match(line):
        return _block(f"heading_{len(match.group(1))}", match.group(2))
    if match := _TODO.match(line):
        return _block("to_do", match.group(2), checked=match.group(1).lower() == "x")
    if match := _BULLET.match(line):
        return _block("bulleted_list_item", match.group(1))
    if match := _NUMBERED.match(line):
        return _block("numbered_list_item", match.group(1))
    if line.startswith(">"):
        return _block("quote", line[1:].strip())
    return None


def _language(tag: str) -> str:
    language = tag.strip().lower()
    language = _LANGUAGE_ALIASES.get(language, language)
    return language if language in CODE_LANGUAGES else "plain text"


def plain_text(items: Any) -> str:
    """The text of a rich-text array."""
    if not isinstance(items, list):
        return ""
    return "".join(str(item.get("plain_text", item.get("text", {}).get("content", ""))) for item in items)


_BLOCK_PREFIXES = {
    "heading_1": "# ",
    "heading_2": "## ",
    "heading_3": "### ",
    "bulleted_list_item": "- ",
    "numbered_list_item": "1. ",
    "quote": "> ",
}


def blocks_to_text(blocks: list[dict[str, Any]]) -> str:
    """A page's blocks back as markdown-like text (the inverse of `markdown_to_blocks`)."""
    lines: list[str] = []
    for block in blocks:
        kind = str(block.get("type", ""))
        content = block.get(kind) or {}
        if kind == "divider":
            lines.append("---")
        elif kind == "to_do":
            lines.append(
                f"- [{'x' if content.get('checked') else ' '}] {plain_text(content.get('rich_text'))}"
            )
        elif kind == "code":
            lines.append(f"```{content.get('language', '')}\n{plain_text(content.get('rich_text'))}\n```")
        elif "rich_text" in content:
            lines.append(_BLOCK_PREFIXES.get(kind, "") + plain_text(content["rich_text"]))
    return "\n".join(lines)
