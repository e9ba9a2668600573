"""Templates cannot stall the server: every size-multiplying operation is bounded before it runs, a
render has a time budget, and rendering happens off the event loop that serves HTTP."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import httpx
import pytest

from autofy.db.engine import Database
from autofy.engine.templating import (
    INLINE_OUTPUT_CHARACTERS,
    INLINE_SOURCE_CHARACTERS,
    MAX_RENDERED_SIZE,
    MAX_VALUE_SIZE,
    MAX_WRITTEN_SIZE,
    RENDER_TIME_BUDGET_SECONDS,
    TemplateError,
    render,
    render_off_loop,
)
from tests.engine.conftest import FINISHED, StartWorker, execution_row, wait_finished
from tests.engine.steps import set_fields
from tests.engine.support import create_user, start
from tests.factories import create_workflow

TOO_LARGE = f"larger than {MAX_VALUE_SIZE:,}"
# The hostile templates of issue 13 and their relatives: each ends as a quick step error.
HOSTILE = {
    "{{ 'a'*10**9 }}": TOO_LARGE,
    "x {{ 'a'*10**8 }}": TOO_LARGE,
    "{{ 'a'|center(10**8) }}": "the centered text would be larger",
    "{{ '%0100000000d'|format(1) }}": "a format width would be larger",
    "{{ '%0100000000d' % 1 }}": "a format width would be larger",
    "{{ '%*d' % (10**9, 1) }}": "'*' width",
    "{{ '{:>1000000000}'.format(1) }}": "a format width would be larger",
    "{{ '{:{}}'.format(1, 10**9) }}": "width given as an argument",
    "{{ lipsum(100000) }}": "paragraph count would be larger than 100",
    "{{ 7**(10**7) }}": "the power would be larger",
    "{{ [0]*10**8 }}": "the repeated value would be larger",
    "{{ range(10**9) }}": "the range would be larger",
    "{{ 'x'.ljust(10**9) }}": "ljust() would be larger",
    "{{ ('a'*1000)|replace('a', 'a'*100000) }}": "the replaced text would be larger",
    "{{ ('a'*1000)|indent(10**7) }}": "the indented text would be larger",
    "{{ range(10)|batch(10**9, 0)|list }}": "'batch' count would be larger",
    "{{ [[1]*1000]*1000|sum(start=[]) }}": "'sum' adds numbers",
    "{{ ('a'*1000)*1500 ~ ('a'*1000)*1500 }}": "the joined text would be larger",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}": "recurses too deeply",
    "{% macro f(n) %}{{ f(n) ~ f(n) }}{% endmacro %}{{ f(1) }}": "recurses too deeply",
    "{{" + "(" * 5000 + "1" + ")" * 5000 + "}}": "nests or recurses too deeply",
    # Doubling a text or a list at each turn of a loop: refused at the first step past the limit.
    "{% set ns = namespace(x='ab') %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}": (
        "the joined text would be larger"
    ),
    "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = ns.x + ns.x %}{% endfor %}": (
        "the sum would be larger"
    ),
    "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}"
    "{{ ns.x }}": "the value would be larger",
    # Output, counted while it is produced.
    "{% for i in range(100000) %}{{ 'a'*100 }}{% endfor %}": f"larger than {MAX_RENDERED_SIZE:,} characters",
    "{% set x %}{% for i in range(100000) %}{{ 'a'*1000 }}{% endfor %}{% endset %}{{ x|length }}": (
        f"wrote more than {MAX_WRITTEN_SIZE:,} characters"
    ),
    # Nothing the sandbox sees in the loop body: stopped by the time budget.
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}": (
        f"took longer than {RENDER_TIME_BUDGET_SECONDS:g} s"
    ),
}
ROWS = {"trigger": {"rows": list(range(100_000))}}


@pytest.mark.parametrize("template", list(HOSTILE))
async def test_a_hostile_template_is_a_clear_error_naming_its_field(template: str) -> None:
    with pytest.raises(TemplateError) as refused:
        await render_off_loop({"body": {"text": template}}, {})

    assert str(refused.value).startswith("configuration.body.text: the template")
    assert HOSTILE[template] in str(refused.value)


async def test_a_loop_over_data_with_nothing_in_its_body_is_stopped_by_the_budget() -> None:
    template = "{% for a in trigger.rows %}{% for b in trigger.rows %}{% endfor %}{% endfor %}"

    with pytest.raises(TemplateError, match=r"configuration\.slow: .*took longer than"):
        await render_off_loop({"slow": template}, ROWS)
    # The interrupted thread is free again: the next render is served.
    assert await render_off_loop({"n": "{{ 40 + 2 }}"}, {}) == {"n": 42}


class Probe:
    """A value that notes the thread it is printed on."""

    def __init__(self) -> None:
        self.printed_on: list[str] = []

    def __str__(self) -> str:
        self.printed_on.append(threading.current_thread().name)
        return "probe"


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(2) %}{{ probe }}{% endfor %}",
        "{{ probe|string }}",
        "{{ probe ~ '' }}",
        "{% if true %}{{ probe }}{% endif %}",
        "long: {{ probe }}" + " " * INLINE_SOURCE_CHARACTERS,
    ],
)
async def test_templates_that_loop_or_compute_render_off_the_event_loop(template: str) -> None:
    probe = Probe()

    await render_off_loop(
        {"text": template, "plain": "{{ trigger.n }}"}, {"probe": probe, "trigger": {"n": 1}}
    )

    assert probe.printed_on
    assert all(name.startswith("autofy-render") for name in probe.printed_on), probe.printed_on


async def test_many_lookups_longer_than_the_bound_in_all_render_off_the_event_loop() -> None:
    probe = Probe()
    filler = "{}" + " " * INLINE_SOURCE_CHARACTERS  # no template in it, but counted: it has a `{`

    rendered = await render_off_loop({"text": "{{ probe }}!", "filler": filler}, {"probe": probe})

    assert rendered == {"text": "probe!", "filler": filler}
    assert [name[: len("autofy-render")] for name in probe.printed_on] == ["autofy-render"]


async def test_short_lookups_render_on_the_event_loop_without_a_thread_hop() -> None:
    probe = Probe()
    context = {"probe": probe, "trigger": {"body": {"name": "Ada", "tags": ["a", "b"]}}}

    rendered = await render_off_loop(
        {"text": "Hi {{ trigger.body.name }} ({{ probe }})", "tags": "{{ trigger['body'].tags }}"}, context
    )

    assert rendered == {"text": "Hi Ada (probe)", "tags": ["a", "b"]}
    assert probe.printed_on == [threading.current_thread().name]


async def test_a_lookup_of_a_large_value_is_rendered_whole_on_the_pool() -> None:
    large = "x" * (INLINE_OUTPUT_CHARACTERS + 1)
    probe = Probe()

    rendered = await render_off_loop(
        {"first": "{{ probe }}!", "text": "big: {{ trigger.large }}", "value": "{{ trigger.large }}"},
        {"probe": probe, "trigger": {"large": large}},
    )

    assert rendered == {"first": "probe!", "text": f"big: {large}", "value": large}
    # Started on the loop, then rendered again, whole, on the pool.
    assert probe.printed_on[-1].startswith("autofy-render")


async def test_lookup_errors_on_the_event_loop_name_their_field() -> None:
    with pytest.raises(TemplateError, match=r"configuration\.to: the template refers to an undefined value"):
        await render_off_loop({"to": "{{ trigger.missing.email }}"}, {"trigger": {}})
    with pytest.raises(TemplateError, match=r"configuration\.to: the template tried something not allowed"):
        await render_off_loop({"to": "{{ trigger.__class__ }}"}, {"trigger": {}})


def test_the_output_budget_covers_the_whole_configuration() -> None:
    third = f"{{{{ 'a' * {MAX_RENDERED_SIZE // 3 + 1} }}}}"

    with pytest.raises(
        TemplateError, match=rf"configuration\.c: .*larger than {MAX_RENDERED_SIZE:,} characters"
    ):
        render({"a": third, "b": third, "c": third}, {})


def test_ordinary_templates_still_render() -> None:
    rendered = render(
        {
            "stamp": "{{ '%d'|format(1700000000000) }}",
            "padded": "{{ '%05.1f'|format(3.14159) }}",
            "joined": "{{ trigger.rows[:3]|join(', ') }}",
            "loop": "{% for i in range(3) %}{{ i }}{% endfor %}",
            "numbers": "{{ range(3)|list }}",
            "big": "{{ 2 ** 64 }}",
            "centered": "{{ 'ab'|center(6) }}|",
            "money": "{{ '{:,.2f}'.format(1234.5) }}",
        },
        ROWS,
    )

    assert rendered == {
        "stamp": "1700000000000",
        "padded": "003.1",
        "joined": "0, 1, 2",
        "loop": "012",
        "numbers": [0, 1, 2],
        "big": 2**64,
        "centered": "  ab  |",
        "money": "1,234.50",
    }


def test_templates_cannot_change_the_data_they_read() -> None:
    with pytest.raises(TemplateError, match="not allowed"):
        render({"value": "{{ trigger.rows.append(1) }}"}, ROWS)


async def test_health_answers_within_100_ms_while_a_hostile_template_renders_in_a_worker(
    database: Database, client: httpx.AsyncClient, start_worker: StartWorker
) -> None:
    slow = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    user = await create_user(database)
    workflow = await create_workflow(database, user, steps=[set_fields({"slow": slow})])
    answered: list[tuple[float, float]] = []  # (when, how long), on the wall clock

    for _ in range(3):  # the API's connection pool is warm, as on a server that has been up
        assert (await client.get("/health")).status_code == 200

    async with start_worker():
        execution_id = await start(database, workflow)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            asked = time.time()
            started = time.perf_counter()
            response = await client.get("/health")
            answered.append((asked, time.perf_counter() - started))
            assert response.status_code == 200
            finished = (await execution_row(database, execution_id)).execution_status in FINISHED
            if finished:
                break
        execution = await wait_finished(database, execution_id)

    [step] = execution.step_results
    assert step["status"] == "failed"
    assert step["error"].startswith(
        "configuration.fields.slow: the template went past a limit (it took longer"
    )
    rendering = (
        datetime.fromisoformat(step["started_at"]).timestamp(),
        datetime.fromisoformat(step["completed_at"]).timestamp(),
    )
    during = [took for when, took in answered if rendering[0] <= when <= rendering[1]]
    assert len(during) >= 5, "too few /health calls while the template rendered"
    # A render on the serving loop would stall /health for the whole render (its 1 s budget); the
    # bound is loose because the suite shares two busy cores, and the median shows the usual answer.
    assert sorted(during)[len(during) // 2] < 0.1, f"median /health while rendering: {during}"
    assert max(during) < 0.5, f"slowest /health while rendering: {max(during) * 1000:.0f} ms"
