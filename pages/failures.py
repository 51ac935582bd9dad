"""Failures: what failed recently, what is stuck, what is still unresolved (with the command to rerun it)."""

import streamlit as st

from monitor import data

data.ensure_shell()
fig = data.current_figures()
thresholds = data.load_config().thresholds

st.title("Failures")
st.caption(f"Season {fig.season or 'all'} · data as of {fig.checked_at:%Y-%m-%d %H:%M:%S} UTC")
if fig.failures is None:
    st.error(f"The run history could not be read: {data.plain(fig.errors.get('runs', 'unknown reason'))}",
             icon=":material/error:")
    st.stop()

WHEN = {"format": "YYYY-MM-DD HH:mm:ss", "timezone": "UTC"}
COLUMNS = {
    "processor_name": "Processor", "table": "Table", "data_date": "Data date", "error_type": "Error type",
    "started_at": st.column_config.DatetimeColumn("Started (UTC)", **WHEN),
    "last_failed_at": st.column_config.DatetimeColumn("Last failed (UTC)", **WHEN),
    "message": st.column_config.TextColumn("Message", width="large"),
    "outcome": "Outcome", "run_id": "Run id",
    "hours_running": st.column_config.NumberColumn("Hours running", format="%.1f"),
    "command": st.column_config.TextColumn("Backfill command", width="large"),
}

# The figures hold the failures of the configured window; shorter windows are filters on them.
configured = thresholds.failure_window_minutes
st.segmented_control("Window", data.failure_windows(), default=configured, format_func=data.span,
                     key=data.FAILURE_WINDOW_KEY, on_change=data.keep_a_failure_window,
                     help=f"Up to the configured failure window ({data.span(configured)}, thresholds.failure_window_minutes)")
minutes = data.failure_window()
failures = data.on_screen(data.recent_failures(fig, minutes))
st.subheader(f"Recent failures ({data.span(minutes)}): {len(failures)}")
if failures.empty:
    st.success(f"No failed runs ({data.span(minutes)}).", icon=":material/check_circle:")
else:
    shown = failures.assign(message=data.shorten(failures["error_message"]), outcome=data.outcome_labels(failures["outcome"]))
    st.dataframe(
        shown, hide_index=True,
        column_order=["processor_name", "data_date", "started_at", "error_type", "message", "outcome"],
        column_config=COLUMNS,
    )
    # chosen by run id, so a refresh that brings a newer failure keeps the same run's error on screen
    runs = failures.assign(error_message=failures["error_message"].fillna("")).set_index("run_id")
    if st.session_state.get("failure_detail") not in runs.index:
        st.session_state.pop("failure_detail", None)  # that run left the window: show the newest
    picked = st.selectbox(
        "Full error of", runs.index.tolist(), key="failure_detail",
        format_func=lambda run: f"{runs.at[run, 'started_at']:%H:%M:%S} · {runs.at[run, 'processor_name']} · "
                                f"{runs.at[run, 'data_date']} · run {run}",
    )
    st.code(runs.at[picked, "error_message"] or "(no message)", language=None, wrap_lines=True)
    st.code(data.shell_lines([runs.at[picked, "command"]]), language="bash")

st.subheader(f"Stuck runs (running for over {data.span(thresholds.stuck_after_minutes).removeprefix('last ')}): "
             f"{len(fig.stuck)}")
if fig.stuck.empty:
    st.caption("No stuck runs.")
else:
    st.dataframe(data.on_screen(fig.stuck), hide_index=True, column_config=COLUMNS,
                 column_order=["processor_name", "data_date", "started_at", "hours_running", "run_id"])

unresolved = data.on_screen(fig.unresolved)
st.subheader(f"Unresolved: {len(unresolved)}")
st.caption("Dates whose latest finished run failed, however long ago: the processor has not succeeded on them "
           "since. Newest failure first.")
if unresolved.empty:
    st.success("Every failed date has succeeded since.", icon=":material/check_circle:")
else:
    st.dataframe(unresolved.assign(message=data.shorten(unresolved["error_message"])), hide_index=True, column_config=COLUMNS,
                 column_order=["processor_name", "data_date", "last_failed_at", "error_type", "message"])
    st.code(data.shell_lines(unresolved["command"]), language="bash", height=min(400, 40 + 44 * len(unresolved)))
