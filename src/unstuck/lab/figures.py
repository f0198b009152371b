"""The report's plots: PNG files drawn with matplotlib's object API on the Agg canvas.

Four shapes serve all claims: latency over time (a probe during a load),
finish time per request (waves of a burst), bars (throughput against an
ideal) and latency by outcome (answers vs. errors). ``pyplot`` is never used:
no global figure state, no GUI backend, nothing needs a display.

Every plot keeps its legend below the axes (never on the data), leaves room
for every point and label (nothing clipped), and breaks a line where samples
are missing instead of drawing across the gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from statistics import median

from matplotlib.axes import Axes
from matplotlib.figure import Figure

_SIZE = (7.5, 4.0)
_DPI = 110
_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:gray")

Points = Sequence[tuple[float, float]]


def _save(figure: Figure, directory: Path, name: str) -> str:
    filename = f"{name}.png"
    figure.savefig(directory / filename, format="png", dpi=_DPI)
    return filename


def _legend(figure: Figure, axes: Axes) -> None:
    """Under the plot, in as many columns as fit: off the data whatever its shape."""
    handles, labels = axes.get_legend_handles_labels()
    if handles:
        figure.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=min(3, len(handles)),
            fontsize=8,
            frameon=False,
        )


def with_gaps(points: Points, factor: float = 3.0) -> tuple[list[float], list[float]]:
    """The points as x and y lists, with a NaN wherever the spacing in x is over
    ``factor`` times the usual one: a line is then broken where samples are missing."""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    steps = [b - a for a, b in pairwise(xs)]
    if len(steps) < 2:
        return xs, ys
    usual = median(steps)
    broken_x, broken_y = [xs[0]], [ys[0]]
    for step, x, y in zip(steps, xs[1:], ys[1:], strict=True):
        if usual > 0 and step > factor * usual:
            broken_x.append(float("nan"))
            broken_y.append(float("nan"))
        broken_x.append(x)
        broken_y.append(y)
    return broken_x, broken_y


def _reference(axes: Axes, lines: Mapping[str, float], horizontal: bool = True) -> None:
    for (label, value), style in zip(lines.items(), ("--", ":", "-."), strict=False):
        if horizontal:
            axes.axhline(value, color="black", linestyle=style, linewidth=1, label=label)
        else:
            axes.axvline(value, color="black", linestyle=style, linewidth=1, label=label)


def timeline(
    directory: Path,
    name: str,
    title: str,
    series: Mapping[str, Points],
    *,
    ylabel: str = "/health latency (ms)",
    references: Mapping[str, float] | None = None,
    log_scale: bool = True,
) -> str:
    """One line per condition: x = seconds since the load started, y = latency."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    axes = figure.subplots()
    for (label, points), color in zip(series.items(), _COLORS, strict=False):
        if points:
            xs, ys = with_gaps(points)
            axes.plot(xs, ys, marker=".", markersize=4, linewidth=1, color=color, label=label)
    _reference(axes, references or {})
    if log_scale:
        axes.set_yscale("log")
    axes.margins(y=0.1)
    axes.set_xlabel("seconds since the load started")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    _legend(figure, axes)
    return _save(figure, directory, name)


def finish_times(
    directory: Path,
    name: str,
    title: str,
    series: Mapping[str, Sequence[float]],
    *,
    references: Mapping[str, Points] | None = None,
    ylabel: str = "finished after (s)",
    xlabel: str = "request (sorted by finish time)",
) -> str:
    """Requests sorted by when they finished: a staircase shows waves of a limited pool."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    axes = figure.subplots()
    for (label, seconds), color in zip(series.items(), _COLORS, strict=False):
        ordered = sorted(seconds)
        axes.plot(
            range(1, len(ordered) + 1), ordered, marker=".", linewidth=0, color=color, label=label
        )
    for (label, points), style in zip((references or {}).items(), ("--", ":", "-."), strict=False):
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, color="black", linestyle=style, linewidth=1, label=label)
    # From zero: the gap between the ideal and the measured times is the point.
    axes.set_ylim(bottom=0)
    axes.margins(y=0.08)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    _legend(figure, axes)
    return _save(figure, directory, name)


def bars(
    directory: Path,
    name: str,
    title: str,
    values: Mapping[str, float],
    *,
    ylabel: str,
    references: Mapping[str, float] | None = None,
) -> str:
    figure = Figure(figsize=_SIZE, layout="constrained")
    axes = figure.subplots()
    labels = list(values)
    drawn = axes.bar(
        labels, [values[label] for label in labels], color=_COLORS[1 : len(labels) + 1]
    )
    axes.bar_label(drawn, fmt="%.1f", fontsize=8)
    _reference(axes, references or {})
    # Room above the tallest bar and the reference lines for their labels.
    axes.margins(y=0.15)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    _legend(figure, axes)
    axes.tick_params(axis="x", labelsize=8)
    return _save(figure, directory, name)


def by_outcome(
    directory: Path,
    name: str,
    title: str,
    series: Mapping[str, Sequence[tuple[float, float, int]]],
    *,
    references: Mapping[str, float] | None = None,
) -> str:
    """Each request as (sent at, latency, status): 2xx as dots, anything else as crosses."""
    figure = Figure(figsize=_SIZE, layout="constrained")
    axes = figure.subplots()
    for (label, points), color in zip(series.items(), _COLORS, strict=False):
        good = [(x, y) for x, y, status in points if 200 <= status < 300]
        bad = [(x, y, status) for x, y, status in points if not 200 <= status < 300]
        if good:
            xs, ys = zip(*good, strict=True)
            axes.scatter(xs, ys, s=12, color=color, marker="o", label=f"{label}: answered")
        if bad:
            codes = sorted({status for _, _, status in bad})
            shown = ", ".join(str(code) if code else "no answer" for code in codes)
            axes.scatter(
                [x for x, _, _ in bad],
                [y for _, y, _ in bad],
                s=24,
                color=color,
                marker="x",
                label=f"{label}: {shown}",
            )
    _reference(axes, references or {})
    axes.margins(y=0.1)
    axes.set_xlabel("request number")
    axes.set_ylabel("latency (s)")
    axes.set_title(title)
    _legend(figure, axes)
    return _save(figure, directory, name)
