"""Pure Altair builders for the app's charts: Figures frames in, one `alt.Chart` out.

No streamlit here: the pages hand the charts to st.altair_chart, the tests read them
through `chart.to_dict()`. Each builder copies the few columns it needs into plain
Python values, so the chart data does not depend on pandas dtypes. Status colours are
the same everywhere and always come with a legend.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

STATUSES = ("complete", "in_progress", "not_started", "error")
STATUS_LABELS = {"complete": "complete", "in_progress": "in progress", "not_started": "not started", "error": "error"}
STATUS_COLORS = {"complete": "#2e7d32", "in_progress": "#1f77b4", "not_started": "#9e9e9e", "error": "#d62728"}

PART_LABELS = ("complete", "remaining")
PART_COLORS = ("#2e7d32", "#d9d9d9")
MEASURE_LABELS = ("eligible", "complete")
MEASURE_COLORS = ("#b0bec5", "#2e7d32")


def _missing(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _int(v) -> int | None:
    return None if _missing(v) else int(v)


def _float(v) -> float | None:
    return None if _missing(v) else float(v)


def status_scale() -> alt.Scale:
    return alt.Scale(domain=[STATUS_LABELS[s] for s in STATUSES], range=[STATUS_COLORS[s] for s in STATUSES])


def phase_progress(phases: pd.DataFrame) -> alt.Chart:
    """One stacked bar per phase: complete dates (green) and remaining eligible dates (grey), 0–100 %.

    Phases whose figures are unknown (None) are left out: the page shows their error instead.
    """
    records = []
    for row in phases.itertuples(index=False):
        eligible, complete = _int(row.eligible_dates), _int(row.complete_dates)
        if eligible is None or complete is None:
            continue
        for part, dates in zip(PART_LABELS, (complete, eligible - complete), strict=True):
            records.append({
                "phase": row.phase,
                "part": part,
                "dates": dates,
                "pct": round(100.0 * dates / eligible, 1) if eligible else 0.0,
                "of": f"{dates} / {eligible} dates",
            })
    data = pd.DataFrame.from_records(records, columns=["phase", "part", "dates", "pct", "of"])
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("pct:Q", title=None, scale=alt.Scale(domain=[0, 100]), stack="zero",
                    axis=alt.Axis(values=[0, 25, 50, 75, 100], labelExpr="datum.value + '%'", labelFlush=True)),
            y=alt.Y("phase:N", title=None, sort=list(dict.fromkeys(data["phase"]))),
            color=alt.Color("part:N", title=None, scale=alt.Scale(domain=list(PART_LABELS), range=list(PART_COLORS)),
                            legend=alt.Legend(orient="right")),
            order=alt.Order("order:Q"),
            tooltip=[alt.Tooltip("phase:N"), alt.Tooltip("part:N"), alt.Tooltip("of:N", title="dates"),
                     alt.Tooltip("pct:Q", title="%", format=".1f")],
        )
        .transform_calculate(order="datum.part == 'complete' ? 0 : 1")
        .properties(height=alt.Step(24))
    )


def table_progress(tables: pd.DataFrame, title: str | None = None, legend: bool = True) -> alt.Chart:
    """Bars per table (% of eligible dates), coloured by status; the pages draw one chart per phase (`title`),
    with the status legend under the last one.

    A table in error has no figure: it gets a full-width red bar labelled "error" with
    the reason in its tooltip, never a zero that looks like "not started". No facets and a
    narrow, one-column legend: the chart stretches to the page's width and fits a phone too.
    """
    records = []
    for row in tables.itertuples(index=False):
        error = row.status == "error"
        dates, eligible, pct = _int(row.dates), _int(row.eligible), _float(row.pct)
        if error:
            progress = f"error: {row.error}"
        elif dates is None or eligible is None:
            progress = "unknown"
        else:
            progress = f"{dates} / {eligible} ({pct:.1f}%)"
        records.append({
            "phase": row.phase,
            "table": row.table,
            "status": STATUS_LABELS.get(row.status, str(row.status)),
            "bar": 100.0 if error else (pct or 0.0),
            "progress": progress,
        })
    data = pd.DataFrame.from_records(records, columns=["phase", "table", "status", "bar", "progress"])
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("bar:Q", title="% of eligible dates", scale=alt.Scale(domain=[0, 100]),
                    axis=alt.Axis(values=[0, 25, 50, 75, 100], labelFlush=True)),
            # the same label width in every phase's chart, so their bars line up
            y=alt.Y("table:N", title=None, sort=list(data["table"]),
                    axis=alt.Axis(labelLimit=180, minExtent=180, maxExtent=180)),
            color=alt.Color("status:N", title="Status", scale=status_scale(),
                            legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=0,
                                              labelExpr=f"datum.label == '{STATUS_LABELS['error']}' ? "
                                                        "'error (see Reason)' : datum.label")
                            if legend else None),
            tooltip=[alt.Tooltip("phase:N"), alt.Tooltip("table:N"), alt.Tooltip("status:N"), alt.Tooltip("progress:N")],
        )
        .properties(height=alt.Step(22))
    )
    return chart.properties(title=alt.Title(title, anchor="start")) if title else chart


def season_coverage(seasons: pd.DataFrame, phase: str) -> alt.Chart:
    """Grouped bars per season for one phase (the chart's title): eligible vs complete dates.

    One chart per phase rather than facets, so each stretches to its column: side by side on a
    desktop, one under the other on a phone."""
    records = []
    for row in seasons.to_dict("records"):
        for measure in MEASURE_LABELS:
            value = _int(row.get(f"{phase} {measure}"))
            if value is None:
                continue
            records.append({"season": row["season"], "phase": phase, "measure": measure, "dates": value,
                            "pct": _float(row.get(f"{phase} %"))})
    data = pd.DataFrame.from_records(records, columns=["season", "phase", "measure", "dates", "pct"])
    return (
        alt.Chart(data, title=alt.Title(phase, anchor="start"))
        .mark_bar()
        .encode(
            x=alt.X("season:N", title="Season", sort=list(dict.fromkeys(data["season"])), axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("measure:N", sort=list(MEASURE_LABELS)),
            y=alt.Y("dates:Q", title="Dates", axis=alt.Axis(format="d", tickMinStep=1)),
            color=alt.Color("measure:N", title=None,
                            scale=alt.Scale(domain=list(MEASURE_LABELS), range=list(MEASURE_COLORS)),
                            legend=alt.Legend(orient="bottom")),
            tooltip=[alt.Tooltip("season:N"), alt.Tooltip("phase:N"), alt.Tooltip("measure:N"),
                     alt.Tooltip("dates:Q"), alt.Tooltip("pct:Q", title="% complete", format=".1f")],
        )
    )


def rate_over_time(history: pd.DataFrame) -> alt.Chart:
    """Distinct eligible dates processed (a success in any table of the phase) in the hour ending at each point,
    per phase (progress._rate_history: hours ending on the hour, the last ending now).

    A UTC time unit keeps the times in UTC whatever the viewer's time zone (a plain `format` is overridden by
    Streamlit's chart theme)."""
    data = pd.DataFrame({
        "hour": [pd.Timestamp(h).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ") for h in history["hour"]],
        "phase": [str(p) for p in history["phase"]],
        "dates": [int(d) for d in history["dates"]],
    }, columns=["hour", "phase", "dates"])
    when = "utcyearmonthdatehoursminutes(hour):T"
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X(when, title="Hour ending (UTC)", axis=alt.Axis(format="%H:%M")),
            y=alt.Y("dates:Q", title="Dates processed in the hour", axis=alt.Axis(format="d", tickMinStep=1)),
            color=alt.Color("phase:N", title="Phase", legend=alt.Legend(orient="bottom")),
            tooltip=[alt.Tooltip(when, title="hour ending (UTC)", format="%Y-%m-%d %H:%M"),
                     alt.Tooltip("phase:N"),
                     alt.Tooltip("dates:Q")],
        )
    )
