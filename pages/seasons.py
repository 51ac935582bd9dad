"""Seasons: the usage guide's season-by-season breakdown, with each phase's eligible dates."""

import streamlit as st

from monitor import charts, data

data.ensure_shell()
fig = data.current_figures()
phases = [p.name for p in data.load_config().phases]

st.title("Seasons")
st.caption(f"Season {fig.season or 'all'} · data as of {fig.checked_at:%Y-%m-%d %H:%M:%S} UTC · "
           "percentages are of each phase's eligible dates (bootstrap days left out)")
for section, message in fig.errors.items():
    if section != "runs":  # the season figures do not use the run history
        st.error(f"The {section} query failed: {data.plain(message)}", icon=":material/error:")

seasons = fig.seasons
columns = {"season": "Season", "expected": "Expected"}
columns |= {f"{p} complete": p for p in phases}
columns |= {f"{p} %": f"{p} %" for p in phases}
columns |= {f"{p} eligible": f"{p} eligible" for p in phases}
st.dataframe(
    seasons[list(columns)].rename(columns=columns),
    hide_index=True,
    column_config={f"{p} %": st.column_config.NumberColumn(format="%.1f%%") for p in phases},
)
for column, phase in zip(st.columns(len(phases)), phases, strict=True):  # side by side; stacked on a phone
    column.altair_chart(charts.season_coverage(seasons, phase))
