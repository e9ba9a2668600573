"""The assistant's markdown renderer: what a model writes becomes text or safe markup, never script."""

from __future__ import annotations

import pytest

from autofy.web.markdown import render_markdown


@pytest.mark.parametrize(
    "answer",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "<a href='javascript:alert(1)'>click</a>",
        "<svg onload=alert(1)>",
    ],
)
def test_html_in_an_answer_stays_text(answer: str) -> None:
    html = str(render_markdown(answer))
    assert html.count("<") == html.count("<p>") + html.count("</p>"), html
    assert "&lt;" in html


@pytest.mark.parametrize(
    "link",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](javascript&#58;alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<javascript:alert(1)>",
        "[x]: javascript:alert(1)\n\n[x]",
    ],
)
def test_links_outside_the_allowlist_stay_text(link: str) -> None:
    html = str(render_markdown(link))
    assert "href" not in html, html


def test_markdown_renders_and_links_to_other_sites_do_not_get_this_page() -> None:
    html = str(render_markdown("**Done**: see [the docs](https://example.com/d) or [a run](/runs/1)."))
    assert "<strong>Done</strong>" in html
    assert '<a href="https://example.com/d" rel="noopener noreferrer nofollow" target="_blank">' in html
    assert '<a href="/runs/1">a run</a>' in html


def test_images_are_not_fetched() -> None:
    assert "<img" not in str(render_markdown("![tracker](https://example.com/pixel.png)"))
