"""The digest's chart: the last 12 weeks on one phone-sized PNG.

Four panels: items raised and actioned each week; median hours to acknowledge and to action;
the share of raisers who heard an outcome within their SLA, each week (whether the loop closes);
items open now by journey stage, grey areas apart. Drawn with matplotlib's Agg canvas (no display,
no pyplot state, safe in any thread), in at most four colours from the Okabe-Ito palette, which
reads the same to colour-blind eyes, with type large enough for a phone.
"""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from storage.figures import Series
from storage.models import JourneyStage

BLUE, ORANGE, GREEN, GREY = "#0072B2", "#E69F00", "#009E73", "#999999"  # Okabe-Ito
STAGES: tuple[str | None, ...] = (*(stage.value for stage in JourneyStage), None)
_STAGE_NAMES = {"get_help": "get help", None: "not given"}
FONT = 15


def title_of(series: Series) -> str:
    """The one thing to notice, from the numbers."""
    weeks = [week for week in series.weeks if week.raised or week.actioned]
    if not weeks:
        return "Nothing raised in the last 12 weeks"
    behind = 0
    for week in reversed(series.weeks):
        if week.actioned >= week.raised:
            break
        behind += 1
    if behind >= 2:
        return f"Actioned fell behind raised for {behind} weeks running"
    if behind == 1:
        return "Actioned fell behind raised last week"
    return "Actioned kept pace with raised last week"


def alt_text(series: Series) -> str:
    """What the chart shows, in words, for screen readers (Slack's alt_txt: up to 1,000)."""
    last = series.weeks[-1]
    open_now = sum(owned + grey for _, owned, grey in series.open_by_stage)
    grey_now = sum(grey for _, _, grey in series.open_by_stage)
    return (
        f"{title_of(series)}. Chart of the last 12 weeks. Last week {last.raised} raised and "
        f"{last.actioned} actioned; median {_hours(last.ack_hours)} to acknowledge and "
        f"{_hours(last.action_hours)} to action; {_share(last.heard_within_sla)} of raisers heard "
        f"within the SLA. Open now: {open_now}, of them {grey_now} grey areas."
    )[:1000]


def _hours(value: float | None) -> str:
    return f"{value:.0f} h" if value is not None else "n/a"


def _share(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "n/a"


def draw(series: Series) -> bytes:
    """The chart as PNG bytes."""
    figure = Figure(figsize=(8, 15), dpi=100, layout="constrained")
    figure.suptitle(title_of(series), fontsize=FONT + 3, fontweight="bold")
    flow, speed, heard, stages = figure.subplots(4, 1, height_ratios=[1, 1, 0.8, 1.1])
    _flow(flow, series)
    _speed(speed, series)
    _heard(heard, series)
    _stages(stages, series)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _week_labels(series: Series) -> list[str]:
    return [f"{week.start:%d %b}" if index % 3 == 2 else "" for index, week in enumerate(series.weeks)]


def _style(axes: Axes, title: str) -> None:
    axes.set_title(title, fontsize=FONT + 2, loc="left", pad=40)
    axes.tick_params(labelsize=FONT)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", alpha=0.3)


def _legend(axes: Axes) -> None:
    """Above the plot, out of the data's way."""
    axes.legend(
        fontsize=FONT, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=2, borderaxespad=0
    )


def _flow(axes: Axes, series: Series) -> None:
    x = range(len(series.weeks))
    axes.plot(x, [w.raised for w in series.weeks], color=BLUE, linewidth=3, marker="o", label="raised")
    axes.plot(x, [w.actioned for w in series.weeks], color=ORANGE, linewidth=3, marker="s", label="actioned")
    axes.set_xticks(list(x), _week_labels(series))
    axes.set_ylim(bottom=0)
    _legend(axes)
    _style(axes, "Raised and actioned, per week")


def _speed(axes: Axes, series: Series) -> None:
    x = list(range(len(series.weeks)))
    ack = [w.ack_hours if w.ack_hours is not None else float("nan") for w in series.weeks]
    action = [w.action_hours if w.action_hours is not None else float("nan") for w in series.weeks]
    axes.plot(x, ack, color=GREEN, linewidth=3, marker="o", label="to acknowledge")
    axes.plot(x, action, color=ORANGE, linewidth=3, marker="s", linestyle="--", label="to action")
    axes.set_xticks(x, _week_labels(series))
    axes.set_ylim(bottom=0)
    axes.set_ylabel("hours", fontsize=FONT)
    _legend(axes)
    _style(axes, "Median hours")


def _heard(axes: Axes, series: Series) -> None:
    x = list(range(len(series.weeks)))
    shares = [
        w.heard_within_sla * 100 if w.heard_within_sla is not None else float("nan") for w in series.weeks
    ]
    axes.plot(x, shares, color=GREEN, linewidth=3, marker="o", label="heard within the SLA")
    axes.set_xticks(x, _week_labels(series))
    axes.set_ylim(0, 105)
    axes.set_ylabel("% of raisers", fontsize=FONT)
    _style(axes, "Raisers who heard back in time")


def _stages(axes: Axes, series: Series) -> None:
    counts = {stage: (owned, grey) for stage, owned, grey in series.open_by_stage}
    shown = [stage for stage in STAGES if stage is not None or stage in counts]
    names = [_STAGE_NAMES.get(stage, stage or "") for stage in shown]
    owned = [counts.get(stage, (0, 0))[0] for stage in shown]
    grey = [counts.get(stage, (0, 0))[1] for stage in shown]
    y = list(range(len(shown)))
    axes.barh(y, owned, color=BLUE, label="with an owner")
    axes.barh(y, grey, left=owned, color=GREY, hatch="//", label="grey area (no owner)")
    axes.set_yticks(y, names)
    axes.invert_yaxis()
    _legend(axes)
    _style(axes, "Open now, by journey stage")
    axes.grid(axis="x", alpha=0.3)
    axes.grid(axis="y", visible=False)
