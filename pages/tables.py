"""Tables: which tables lag, which dates are missing or only partly loaded."""

import streamlit as st

from monitor import charts, data

data.ensure_shell()
fig = data.current_figures()

st.title("Tables")
st.caption(f"Season {fig.season or 'all'} · data as of {fig.checked_at:%Y-%m-%d %H:%M:%S} UTC")
for section, message in fig.errors.items():
    st.error(f"The {section} query failed: {data.plain(message)}", icon=":material/error:")

tables = fig.tables
broken = tables["status"] == "error"  # a table in error has no figures: blank, never 0
view = tables.assign(
    status=tables["status"].map(charts.STATUS_LABELS),
    **{col: tables[col].mask(broken) for col in ("dates", "pct", "remaining", "partial_dates", "extra_dates")},
)
COLUMNS = {
    "stage": st.column_config.NumberColumn("Stage", help="Tables of a stage run side by side, stages in order"),
    "table": "Table",
    "status": "Status",
    "error": st.column_config.TextColumn("Reason", width="medium"),
    "pct": st.column_config.ProgressColumn("Complete", min_value=0, max_value=100, format="%.1f%%", width="small",
                                           help="Eligible dates present / eligible dates"),
    "dates": st.column_config.NumberColumn("Dates", help="Eligible dates with rows"),
    "remaining": st.column_config.NumberColumn("Missing"),
    "dates_per_hour": st.column_config.NumberColumn("Dates/hour", format="%.0f"),
    "partial_dates": st.column_config.NumberColumn("Partial", help="Present with fewer rows than games × rows per game"),
    "extra_dates": st.column_config.NumberColumn("Extra", help="Dates with rows that are not eligible (not counted)"),
    "last_success_at": st.column_config.DatetimeColumn(
        "Last success (UTC)", format="YYYY-MM-DD HH:mm", timezone="UTC",
        help="The processor's latest successful run on any date of the window, whichever season is chosen"),
}
phases = list(fig.phases.itertuples(index=False))
for i, phase in enumerate(phases):  # one section per phase: the columns that matter first, so a narrow screen scrolls
    mine = view[view["phase"] == phase.phase]
    st.subheader(f"{phase.phase} · {phase.label}")
    if not data.missing(phase.eligible_dates):
        st.caption(f"{phase.eligible_dates} eligible dates per table"
                   + (" · stages run in order, the tables of a stage side by side" if mine["stage"].nunique() > 1 else ""))
    order = [c for c in COLUMNS if (c != "stage" or mine["stage"].nunique() > 1) and (c != "error" or (mine["error"] != "").any())]
    st.dataframe(mine, hide_index=True, placeholder="—", column_order=order, column_config=COLUMNS)
    st.altair_chart(charts.table_progress(tables[tables["phase"] == phase.phase], legend=i == len(phases) - 1))

st.subheader("Missing dates")
ranges = fig.missing_ranges
if "coverage" in fig.errors or "schedule" in fig.errors:
    st.error("Missing dates unknown: the expected dates or the table coverage could not be read.")
elif ranges.empty:
    st.success("Every table holds every eligible date.", icon=":material/check_circle:")
else:
    missing = ranges.groupby("table", sort=False)["dates"].agg(["sum", "count"])
    # plain table names: a keyed selectbox keeps the labels it was first drawn with, so counts go in the caption
    table = st.selectbox("Table", list(missing.index), key="missing_table")
    dates, count = int(missing.at[table, "sum"]), int(missing.at[table, "count"])
    st.caption(f"{table}: {data.plural(dates, 'missing date')} in {data.plural(count, 'range')}"
               + (f" (season {fig.season})" if fig.season else ""))
    mine = ranges[ranges["table"] == table]
    st.dataframe(mine, hide_index=True, column_order=["season", "start", "end", "dates"],
                 column_config={"season": "Season", "start": "First date", "end": "Last date", "dates": "Dates"})
    st.caption("Backfill commands for these ranges (copy with the button at the top right):")
    st.code(data.shell_lines(mine["command"]), language="bash")

st.subheader("Partial dates")
if fig.partial_dates.empty:
    st.caption("No partly loaded dates (checked for tables that set rows per game).")
else:
    st.dataframe(fig.partial_dates, hide_index=True,
                 column_config={"phase": "Phase", "table": "Table", "day": "Date", "rows": "Rows",
                                "expected_rows": "Expected rows", "games": "Games"})
