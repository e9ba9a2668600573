"""Usage: the plan and credits, runs per day over the last 30 days (an SVG drawn here, with a table
saying the same), and the busiest workflows."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from autofy.usage import service as usage_service
from autofy.usage.schemas import DailyRuns
from autofy.web.dependencies import PageSession, SignedInPage
from autofy.web.rendering import render

router = APIRouter()

# The chart's drawing box (the SVG scales to the page's width; these are its own units).
WIDTH, HEIGHT = 720, 220
# The run counts sit right of the bars: a phone scrolls the chart to its latest days, there.
LEFT, RIGHT, TOP, BOTTOM = 8, 40, 12, 26
# Statuses stacked from the bottom, each with its CSS class and its word in the tooltips.
SERIES = (("completed", "completed"), ("failed", "failed"), ("other", "running or cancelled"))


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    series: str


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    segments: list[Segment]
    tooltip: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class RunsChart:
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    count_labels_x: int = WIDTH - 4
    baseline: int = HEIGHT - BOTTOM


def _day_label(day: DailyRuns) -> str:
    return day.day.strftime("%b %-d")


def _scale_top(busiest: int) -> int:
    """A round top for the y axis, at or above the busiest day: 1, 2, 5, 10, 20, 50…"""
    if busiest <= 1:
        return 1
    magnitude: int = 10 ** math.floor(math.log10(busiest))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= busiest)


def _tooltip(day: DailyRuns) -> str:
    counts = [f"{getattr(day, name)} {words}" for name, words in SERIES if getattr(day, name)]
    runs = "1 run" if day.total == 1 else f"{day.total} runs"
    return f"{_day_label(day)}: {runs}" + (f" ({', '.join(counts)})" if counts else "")


def _description(days: list[DailyRuns]) -> str:
    total = sum(day.total for day in days)
    span = f"From {_day_label(days[0])} to {_day_label(days[-1])}"
    if total == 0:
        return f"{span}: no runs."
    busiest = max(days, key=lambda day: day.total)
    failed = sum(day.failed for day in days)
    return (
        f"{span}: {total} runs, {failed} of them failed. "
        f"The busiest day was {_day_label(busiest)} with {busiest.total}."
    )


def runs_chart(days: list[DailyRuns]) -> RunsChart:
    """Stacked bars, one per day: completed at the bottom, then failed, then the rest."""
    top = _scale_top(max(day.total for day in days))
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / len(days)
    bars = []
    for index, day in enumerate(days):
        segments, baseline = [], float(HEIGHT - BOTTOM)
        for name, _ in SERIES:
            height = getattr(day, name) / top * plot_height
            if height:
                baseline -= height
                segments.append(Segment(y=round(baseline, 2), height=round(height, 2), series=name))
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * 0.15, 2),
                width=round(slot * 0.7, 2),
                segments=segments,
                tooltip=_tooltip(day),
            )
        )
    y_ticks = [
        Tick(position=HEIGHT - BOTTOM - value / top * plot_height, label=str(value))
        for value in sorted({0, top // 2, top})
    ]
    # A date under the first bar, every seventh (none crowding the last), and today's.
    labelled = [*range(0, len(days) - 3, 7), len(days) - 1]
    x_ticks = [
        Tick(position=round(LEFT + (index + 0.5) * slot, 2), label=_day_label(days[index]))
        for index in labelled
    ]
    return RunsChart(bars=bars, y_ticks=y_ticks, x_ticks=x_ticks, description=_description(days))


@router.get("/usage")
async def usage(request: Request, page: SignedInPage, session: PageSession) -> Response:
    overview = await usage_service.overview(session, page.principal)
    context = {"usage": overview, "chart": runs_chart(overview.days), "credits": overview.credits}
    return render(request, "usage/show.html", context, viewer=page.viewer)
