"""Geometry of the progress bar charts, drawn as SVG by templates/progress/_chart.html.

Plain data: the template adds the words. Each line shows the target as a dashed
outline and what was reached as a solid bar inside it, with the numbers written next to
them, so the chart never relies on colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 860  # the words beside the bars need about 300 units
LABEL_WIDTH = 240  # ward or group names, right-aligned before the bars
BAR_X = 250
BAR_WIDTH = 290
VALUE_X = BAR_X + BAR_WIDTH + 10
ROW_HEIGHT = 36
TOP = 40  # room for the legend
TARGET_HEIGHT = 24
REACHED_HEIGHT = 14


@dataclass(frozen=True)
class Bar:
    label: str
    reached: int
    target: int | None
    y: float  # top of the row
    reached_width: float
    target_width: float | None

    @property
    def middle(self) -> float:
        return self.y + TARGET_HEIGHT / 2

    @property
    def reached_y(self) -> float:
        return self.y + (TARGET_HEIGHT - REACHED_HEIGHT) / 2


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    height: int
    width: int = WIDTH
    label_x: int = LABEL_WIDTH
    bar_x: int = BAR_X
    value_x: int = VALUE_X
    target_height: int = TARGET_HEIGHT
    reached_height: int = REACHED_HEIGHT


def bar_chart(items: list[tuple[str, int, int | None]]) -> Chart:
    """(label, reached, target or None) per line, on one scale: the largest number."""
    scale = max([1] + [max(reached, target or 0) for _label, reached, target in items])
    bars = []
    for index, (label, reached, target) in enumerate(items):
        bars.append(
            Bar(
                label=label,
                reached=reached,
                target=target,
                y=TOP + index * ROW_HEIGHT,
                # a little reached still shows as a sliver
                reached_width=max(round(BAR_WIDTH * reached / scale, 1), 2 if reached else 0),
                target_width=None if target is None else round(BAR_WIDTH * target / scale, 1),
            )
        )
    return Chart(bars=bars, height=TOP + len(items) * ROW_HEIGHT + 8)
