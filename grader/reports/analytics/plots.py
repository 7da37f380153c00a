"""The stats page's figures, drawn with matplotlib and returned as PNG bytes.

Figures are made with ``matplotlib.figure.Figure`` and rendered by the Agg canvas directly:
no pyplot, so no GUI backend, no global figure registry and nothing to close on a headless
server. Text is never parsed as mathtext (a ``$`` in a label stays a ``$``) and the PNGs carry
no metadata, so the same data gives the same bytes.
"""

from __future__ import annotations

import io

from grader.reports.analytics.stats import CheckStats, Distribution, Lateness

#: Colours: public and hidden checks, passed, and the outcomes that are not a wrong answer.
PUBLIC, HIDDEN, PASSED = "#0969da", "#8250df", "#1a7f37"
OUTCOME_COLOURS = ("#cf222e", "#bc4c00", "#9a6700", "#6e7781", "#953800", "#a40e26", "#4d2d00", "#24292f")
_STYLE = {"text.parse_math": False, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
          "svg.hashsalt": "grader", "figure.dpi": 100}


def _figure(width: float, height: float):
    import matplotlib

    from matplotlib.figure import Figure

    with matplotlib.rc_context(_STYLE):
        figure = Figure(figsize=(width, height), layout="constrained")
    return figure


def _png(figure) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(_STYLE):
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _bars(axes, histogram, colour: str) -> None:
    lows = [b.low for b in histogram]
    widths = [b.high - b.low for b in histogram]
    axes.bar(lows, [b.count for b in histogram], width=widths, align="edge", color=colour, edgecolor="white")


def score_histogram(scores: Distribution, max_score: float) -> bytes:
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        figure = _figure(7, 3)
        axes = figure.subplots()
        _bars(axes, scores.histogram, PUBLIC)
        axes.axvline(scores.median, color="#24292f", linestyle="--", linewidth=1, label=f"median {scores.median:g}")
        axes.set_xlim(0, max_score)
        axes.set_xlabel(f"score (of {max_score:g} points, after lateness penalties)")
        axes.set_ylabel("students")
        axes.legend(frameon=False)
        return _png(figure)


def pass_rates(checks: list[CheckStats]) -> bytes:
    """A bar per check, in checks.py order; hidden checks in their own colour and hatched."""
    import matplotlib
    from matplotlib.patches import Patch

    with matplotlib.rc_context(_STYLE):
        figure = _figure(7, 0.8 + 0.28 * len(checks))
        axes = figure.subplots()
        rows = list(range(len(checks)))[::-1]
        hidden = [c.visibility == "hidden" for c in checks]
        axes.barh(rows, [100 * c.pass_rate for c in checks], color=[HIDDEN if h else PUBLIC for h in hidden],
                  hatch=None, edgecolor="white")
        for row, check, is_hidden in zip(rows, checks, hidden):
            if is_hidden:
                axes.barh(row, 100 * check.pass_rate, color="none", edgecolor="white", hatch="//", linewidth=0)
            axes.text(min(100 * check.pass_rate + 1, 92), row, f"{100 * check.pass_rate:.0f}%", va="center")
        axes.set_yticks(rows, [c.name for c in checks])
        axes.set_xlim(0, 100)
        axes.set_xlabel("students who passed (%)")
        axes.legend(handles=[Patch(color=PUBLIC, label="public"), Patch(facecolor=HIDDEN, hatch="//", label="hidden")],
                    frameon=False, loc="lower right")
        return _png(figure)


def outcomes(checks: list[CheckStats]) -> bytes | None:
    """Timeouts, errors and crashes per check, stacked by reason; None when there were none."""
    import matplotlib

    shown = [c for c in checks if c.reasons]
    if not shown:
        return None
    reasons = sorted({reason for c in shown for reason in c.reasons})
    with matplotlib.rc_context(_STYLE):
        figure = _figure(7, 1.0 + 0.3 * len(shown))
        axes = figure.subplots()
        rows = list(range(len(shown)))[::-1]
        left = [0] * len(shown)
        for index, reason in enumerate(reasons):
            counts = [c.reasons.get(reason, 0) for c in shown]
            axes.barh(rows, counts, left=left, color=OUTCOME_COLOURS[index % len(OUTCOME_COLOURS)], label=reason)
            left = [a + b for a, b in zip(left, counts)]
        axes.set_yticks(rows, [c.name for c in shown])
        axes.set_xlabel("students")
        axes.legend(frameon=False, loc="lower right")
        return _png(figure)


def lateness(late: Lateness) -> bytes | None:
    """Days late of the late students, and points deducted; None when everyone was on time."""
    import matplotlib

    if late.days_late is None:
        return None
    with matplotlib.rc_context(_STYLE):
        figure = _figure(7, 2.6)
        days, points = figure.subplots(1, 2)
        _bars(days, late.days_late.histogram, "#bc4c00")
        days.set_xlabel("days late")
        days.set_ylabel("students")
        days.set_title(f"{late.late} late, {late.on_time} on time")
        if late.penalties is not None:
            _bars(points, late.penalties.histogram, "#cf222e")
            points.set_title(f"{late.penalised} penalised, {late.total_penalty:g} points in all")
        else:
            points.set_title("no points deducted")
        points.set_xlabel("points deducted")
        return _png(figure)


def grading_times(seconds: Distribution) -> bytes:
    import matplotlib

    with matplotlib.rc_context(_STYLE):
        figure = _figure(7, 2.6)
        axes = figure.subplots()
        _bars(axes, seconds.histogram, "#6e7781")
        axes.set_xlabel("seconds to grade one submission")
        axes.set_ylabel("submissions")
        axes.set_title(f"median {seconds.median:.2f} s, 90th percentile {seconds.p90:.2f} s, slowest {seconds.maximum:.2f} s")
        return _png(figure)
