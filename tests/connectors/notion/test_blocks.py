from __future__ import annotations

from autofy.connectors.notion.blocks import blocks_to_text, markdown_to_blocks

MARKDOWN = """\
# Weekly report
Some intro text
that spans two lines.

## Done
- shipped the connector
* wrote the docs
1. first
2) second
- [ ] open task
- [x] closed task
> a wise quote
---
```py
print("hi")
```
### End"""


def _summary(blocks: list[dict[str, object]]) -> list[tuple[str, str]]:
    summary = []
    for block in blocks:
        kind = str(block["type"])
        content = block[kind]
        assert isinstance(content, dict)
        text = "".join(item["text"]["content"] for item in content.get("rich_text", []))
        summary.append((kind, text))
    return summary


def test_markdown_becomes_notion_blocks() -> None:
    blocks = markdown_to_blocks(MARKDOWN)

    assert _summary(blocks) == [
        ("heading_1", "Weekly report"),
        ("paragraph", "Some intro text\nthat spans two lines."),
        ("heading_2", "Done"),
        ("bulleted_list_item", "shipped the connector"),
        ("bulleted_list_item", "wrote the docs"),
        ("numbered_list_item", "first"),
        ("numbered_list_item", "second"),
        ("to_do", "open task"),
        ("to_do", "closed task"),
        ("quote", "a wise quote"),
        ("divider", ""),
        ("code", 'print("hi")'),
        ("heading_3", "End"),
    ]
    assert [block["to_do"]["checked"] for block in blocks if block["type"] == "to_do"] == [False, True]
    assert blocks[11]["code"]["language"] == "python"


def test_unknown_code_language_is_plain_text() -> None:
    [block] = markdown_to_blocks("```brainfart\n+++\n```")

    assert block["code"]["language"] == "plain text"


def test_long_text_is_split_at_notions_2000_character_limit() -> None:
    [block] = markdown_to_blocks("x" * 4500)

    assert [len(item["text"]["content"]) for item in block["paragraph"]["rich_text"]] == [2000, 2000, 500]


def test_empty_text_has_no_blocks() -> None:
    assert markdown_to_blocks("\n \n") == []


def test_blocks_read_back_as_the_same_text() -> None:
    source = "# Title\n- item\n- [x] done\n> quote\n---\nplain"
    for block in (blocks := markdown_to_blocks(source)):
        for item in block[block["type"]].get("rich_text", []):
            item["plain_text"] = item["text"]["content"]

    assert blocks_to_text(blocks) == source
