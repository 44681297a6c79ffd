"""Chart geometry for server-side SVG: pure functions, no ORM, no markup.

Templates draw the shapes these return (autoescaped, so a label from a label
set never becomes markup), with presentation attributes only: the CSP allows
no inline style. Every chart prints its numbers, so nothing depends on colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Krippendorff (2004): alpha >= .800 to rely on data, >= .667 for tentative
# conclusions.
THRESHOLDS = (0.667, 0.8)


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class AlphaRow:
    label: str
    y: float
    x: float | None  # the point; None when alpha is undefined
    low: float | None
    high: float | None
    text: str


@dataclass(frozen=True)
class AlphaChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    rows: list[AlphaRow]
    ticks: list[Tick]
    thresholds: list[Tick]
    zero: float

    @property
    def label_x(self) -> int:
        return self.plot_left - 8

    @property
    def value_x(self) -> int:
        return self.plot_right + 8


def alpha_chart(
    figures: list[tuple[str, dict[str, Any]]], *, width: int = 720, row: int = 26
) -> AlphaChart:
    """Alpha per figure as a point with its confidence interval as whiskers,
    on one axis from min(-0.2, lowest bound) to 1."""
    lows: list[float] = [float(f["ci"][0]) for _, f in figures if f.get("ci")]
    lows += [float(f["alpha"]) for _, f in figures if f.get("alpha") is not None]
    # Down to the next 0.2 below the lowest bound, so the ticks fall on 0.
    lo = max(-1.0, math.floor(min([-0.2, *lows]) * 5) / 5)
    points = [
        (
            label,
            f.get("alpha"),
            f["ci"][0] if f.get("ci") else None,
            f["ci"][1] if f.get("ci") else None,
            f"{f['alpha']:.3f}" if f.get("alpha") is not None else "undefined",
        )
        for label, f in figures
    ]
    return interval_chart(points, lo=lo, thresholds=THRESHOLDS, width=width, row=row)


def rate_chart(
    rates: list[tuple[str, dict[str, Any]]], *, width: int = 720, row: int = 26
) -> AlphaChart:
    """Rates from 0 to 1, each with its (Wilson) interval and its counts."""
    points = [
        (
            label,
            r.get("rate"),
            r.get("low"),
            r.get("high"),
            f"{r['rate']:.1%} ({r['count']}/{r['total']})"
            if r.get("rate") is not None
            else "no items",
        )
        for label, r in rates
    ]
    return interval_chart(points, lo=0.0, thresholds=(), width=width, row=row)


def interval_chart(
    points: list[tuple[str, float | None, float | None, float | None, str]],
    *,
    lo: float,
    thresholds: tuple[float, ...],
    width: int = 720,
    row: int = 26,
) -> AlphaChart:
    """(label, value, low, high, text) rows on one axis from `lo` to 1."""
    left, right = 260, width - 130  # room for the values on the right

    def x(value: float) -> float:
        return round(left + (value - lo) / (1 - lo) * (right - left), 1)

    rows = [
        AlphaRow(
            label=label,
            y=30 + i * row,
            x=x(value) if value is not None else None,
            low=x(low) if low is not None and high is not None else None,
            high=x(high) if low is not None and high is not None else None,
            text=text,
        )
        for i, (label, value, low, high, text) in enumerate(points)
    ]
    steps = round((1 - lo) / 0.2)
    ticks = [Tick(x(lo + 0.2 * k), f"{lo + 0.2 * k:.1f}") for k in range(steps + 1)]
    return AlphaChart(
        width=width,
        height=40 + len(points) * row,
        plot_left=left,
        plot_right=right,
        rows=rows,
        ticks=ticks,
        thresholds=[Tick(x(t), f"{t:.3f}") for t in thresholds],
        zero=x(0.0),
    )


@dataclass(frozen=True)
class Cell:
    x: int
    y: int
    shade: str  # a grey level: darker is larger
    ink: str  # the number's colour, legible on the shade
    text: str
    note: str = ""  # a second, smaller line under the number (e.g. "n=6")


@dataclass(frozen=True)
class HeatMap:
    width: int
    height: int
    size: int
    left: int
    top: int
    columns: list[Tick]
    rows: list[Tick]
    cells: list[Cell]

    @property
    def half(self) -> int:
        return self.size // 2


def heat_map(
    labels: list[str],
    matrix: list[list[float | None]],
    *,
    low: float = 0.0,
    high: float | None = None,
    digits: int = 1,
    size: int = 48,
    marks: list[list[str]] | None = None,
    notes: list[list[str]] | None = None,
) -> HeatMap:
    """A square matrix as shaded cells with their values printed; None cells
    print a dash. Shades run from `low` (white) to `high` (the largest value
    when None). marks[i][j] is printed right after a cell's number (a "†"
    the legend explains: a warning in the text, not in a colour); notes[i][j]
    is a second line under it. Both are matrices like `matrix`, "" for none.
    """
    values = [v for r in matrix for v in r if v is not None]
    top_value = high if high is not None else max(values, default=1.0) or 1.0
    left, top = 150, 110
    cells = []
    for i, r in enumerate(matrix):
        for j, v in enumerate(r):
            share = 0.0 if v is None else (v - low) / ((top_value - low) or 1.0)
            share = min(1.0, max(0.0, share))
            grey = round(255 - share * 200)
            cells.append(
                Cell(
                    x=left + j * size,
                    y=top + i * size,
                    shade=f"rgb({grey},{grey},{min(255, grey + 20)})",
                    ink="#fff" if share > 0.55 else "#111",
                    # A mark qualifies a number: a dash has none.
                    text="—"
                    if v is None
                    else f"{v:.{digits}f}" + (marks[i][j] if marks else ""),
                    note=notes[i][j] if notes else "",
                )
            )
    n = len(labels)
    return HeatMap(
        width=left + n * size + 70,  # the last column label leans out
        height=top + n * size + 10,
        size=size,
        left=left,
        top=top,
        columns=[Tick(left + j * size + size / 2, lab) for j, lab in enumerate(labels)],
        rows=[Tick(top + i * size + size / 2, lab) for i, lab in enumerate(labels)],
        cells=cells,
    )


@dataclass(frozen=True)
class Point:
    x: float
    y: float | None
    label: str
    text: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    points: list[Point]
    path: str
    ticks: list[Tick]  # y axis, as (y, label)


def weekly_chart(weeks: list[dict[str, Any]], *, width: int = 720) -> LineChart:
    """The key field's alpha by week: points joined where defined, values printed."""
    return line_chart(
        [(w["week"], w["alpha"]) for w in weeks],
        low=-1.0,
        ticks=(-1.0, -0.5, 0.0, 0.5, 1.0),
        width=width,
    )


def learning_chart(
    models: list[tuple[int, float | None]], *, width: int = 720
) -> LineChart:
    """The queue model's cross-validated macro-F1 against the labels it was
    trained on, one point per retrain (labels, F1)."""
    return line_chart(
        [(f"{n:,}", f1) for n, f1 in models],
        low=0.0,
        ticks=(0.0, 0.25, 0.5, 0.75, 1.0),
        width=width,
    )


def line_chart(
    values: list[tuple[str, float | None]],
    *,
    low: float,
    ticks: tuple[float, ...],
    width: int = 720,
) -> LineChart:
    """Points evenly spaced in order, on a y axis from `low` to 1, joined
    where defined, each value printed; (label, None) is a gap."""
    height, left, right, top, bottom = 220, 60, width - 30, 20, 170
    span = max(1, len(values) - 1)

    def y(value: float) -> float:
        clamped = max(low, min(1.0, value))
        return round(bottom - (clamped - low) / (1 - low) * (bottom - top), 1)

    points = [
        Point(
            x=round(left + k * (right - left) / span, 1) if len(values) > 1 else left,
            y=y(v) if v is not None else None,
            label=label,
            text=f"{v:.2f}" if v is not None else "—",
        )
        for k, (label, v) in enumerate(values)
    ]
    drawn = [p for p in points if p.y is not None]
    path = " ".join(f"{'M' if k == 0 else 'L'}{p.x},{p.y}" for k, p in enumerate(drawn))
    return LineChart(
        width=width,
        height=height,
        points=points,
        path=path,
        ticks=[Tick(y(v), f"{v:g}") for v in ticks],
    )
