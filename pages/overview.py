"""Overview: how far each phase is, how fast it moves, what needs attention."""

import streamlit as st

from monitor import charts, data

data.ensure_shell()
fig = data.current_figures()
config = data.load_config()

st.title("Backfill progress")
st.caption(f"Window {fig.window[0]} → {fig.window[1]} · season {fig.season or 'all'} · "
           f"data as of {fig.checked_at:%Y-%m-%d %H:%M:%S} UTC")
for section, message in fig.errors.items():
    st.error(f"The {section} query failed: {data.plain(message)}", icon=":material/error:")


def rate_and_eta(rate) -> tuple[str, str, str]:
    """(rate, ETA, the sentence naming the window and the pace): '303', '5.8 h',
    '303 dates/hour processed by any table (last 60 min) · ETA 5.8 h at the pace of its slowest table, t (62 dates/hour)'."""
    window = data.span(rate.window_minutes)
    if data.missing(rate.dates_per_hour):
        return "unknown", "unknown", f"Rate unknown: the run history could not be read ({window})"
    speed = f"{rate.dates_per_hour:g}"
    if rate.eta_note in ("complete", "not started"):
        eta, note = rate.eta_note, rate.eta_note
    elif data.missing(rate.eta_hours):
        eta, note = "unknown", f"ETA unknown: {rate.eta_note}"
    else:
        eta = data.duration(rate.eta_hours)
        note = f"ETA {eta} at the pace of its slowest table, {rate.pace_table} ({rate.pace_per_hour:g} dates/hour)"
    return speed, eta, f"{speed} dates/hour processed by any table ({window}) · {note}"


rates = {r.phase: r for r in fig.rates.itertuples(index=False)}
phases = {p.name: p for p in config.phases}
for row in fig.phases.itertuples(index=False):
    with st.container(border=True):
        if data.missing(row.gate):
            st.subheader(f"{row.phase} · {row.label}")
            st.error(f"{row.phase}: no figures, the expected dates or the table coverage could not be read "
                     "(see the errors above).", icon=":material/error:")
            continue
        rate = rates[row.phase]
        speed_text, eta_text, sentence = rate_and_eta(rate)
        progress, work, gate, speed, eta = st.columns([1.4, 0.9, 0.9, 1.1, 1.1])  # room for "Phase 4 · Precompute"
        progress.metric(f"{row.phase} · {row.label}", f"{row.complete_dates} / {row.eligible_dates}",
                        f"{row.complete_pct:.1f}% complete", delta_color="off", delta_arrow="off",
                        help="Eligible dates present in every table of the phase")
        work.metric("Work done", f"{row.work_pct:.1f}%", help="Table-dates present / (eligible dates × tables)")
        gate.metric("Quality gate", "pass" if row.gate == "pass" else "fail",
                    icon=":material/check_circle:" if row.gate == "pass" else ":material/hourglass_empty:",
                    help="Passes when every eligible date is complete")
        speed.metric(f"Dates/hour ({data.span(rate.window_minutes)})", speed_text)  # the caption says whose
        if eta_text == "not started":  # too wide for the column as a figure: a dash, the note in a pill
            eta.metric("ETA", "—", "not started", delta_color="off", delta_arrow="off")
        else:
            eta.metric("ETA", eta_text)
        st.altair_chart(charts.phase_progress(fig.phases[fig.phases["phase"] == row.phase]))
        st.caption(data.plain(sentence))
        if row.bootstrap_dates:
            days = phases[row.phase].bootstrap_days
            st.caption(f"{row.bootstrap_dates} bootstrap dates (the first {days} days of each season) are skipped "
                       f"on purpose: {row.eligible_dates} of {row.expected_dates} game dates are eligible.")

st.subheader("Needs attention")
for warning in fig.warnings:
    st.warning(data.plain(warning.message), icon=":material/warning:")
window = data.span(config.thresholds.failure_window_minutes)
if fig.failures is None:
    st.error("Recent failures unknown: the run history could not be read (see the error above).")
else:
    if not fig.warnings and fig.failures.empty:
        st.success(f"No warnings and no failed runs ({window}).", icon=":material/check_circle:")
    # the counts as text (it wraps on a phone), the link short: a page link's label never wraps
    st.caption(f"{len(fig.failures)} failed runs ({window}) · {len(fig.stuck)} stuck · {len(fig.unresolved)} unresolved")
    st.page_link("pages/failures.py", label="Open Failures", icon=":material/error:")

st.subheader(f"Dates processed per hour (last {config.thresholds.history_hours} h)")
st.caption("Eligible dates on which any table of the phase had a successful run in the hour ending at each point "
           "(UTC); the last point is the hour ending now, the rate shown above.")
if fig.failures is None:
    st.error("No rate history: the run history could not be read.")
else:
    st.altair_chart(charts.rate_over_time(fig.rate_history))
