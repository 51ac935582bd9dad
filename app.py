"""Backfill Progress Monitor: page config, the shared sidebar and navigation over pages/.

Auto-refresh: one small fragment with run_every = the chosen interval sits in the
sidebar; each tick of its timer reruns the whole app (st.rerun), so the page, the
sidebar's "data as of" and the CSV all move to the newest shared snapshot together,
in place, without reloading the browser page. (Wrapping `pg.run()` itself in the
fragment does not work: a page may only be run once per st.navigation call, and a
fragment rerun does not call st.navigation again.)
"""

from pathlib import Path

import streamlit as st

from monitor import access, data
from monitor.config import ConfigError
from monitor.warehouse import WarehouseError

# a local icon: a Material icon as page_icon makes every browser fetch the favicon from Google's font server
st.set_page_config(page_title="Backfill Progress Monitor", page_icon=str(data.ICON), layout="wide")

# Nothing of the app shows, not even its page names, until the secrets can be read and, when sign-in is
# configured, an allowed account has signed in.
try:
    data.check_secrets()
    secrets_error = None
except data.SecretsError as exc:
    secrets_error = exc
signed_in = bool(st.user.get("is_logged_in", False))
locked = secrets_error is not None or (data.sign_in_required() and (
    not signed_in or not access.allowed(st.user.get("email"), data.allowed_domains())))

PAGES = Path(__file__).parent / "pages"
pg = st.navigation([
    st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page(PAGES / "tables.py", title="Tables", icon=":material/table_chart:", url_path="tables"),
    st.Page(PAGES / "seasons.py", title="Seasons", icon=":material/calendar_month:", url_path="seasons"),
    st.Page(PAGES / "failures.py", title="Failures", icon=":material/error:", url_path="failures"),
], position="hidden" if locked else "sidebar")
page_key = pg.url_path or "overview"

if secrets_error is not None:
    st.error(f"{data.plain(secrets_error)}. Fix the file (see .streamlit/secrets.toml.example), then reload.",
             icon=":material/key:")
    st.stop()
if locked and not signed_in:  # optional: only when [auth] is configured in .streamlit/secrets.toml
    st.title("Backfill Progress Monitor")
    st.info("Sign in to see the backfill figures.", icon=":material/lock:")
    st.button("Sign in", icon=":material/login:", on_click=st.login)
    st.stop()
if locked:
    st.error("This account is not allowed to see the backfill figures. Sign in with an allowed account.",
             icon=":material/block:")
    st.button("Sign out", icon=":material/logout:", on_click=st.logout)
    st.stop()

try:
    config = data.load_config()
    data.check_clock()
    warehouse = data.warehouse()
except ConfigError as exc:
    st.error(f"The pipeline config cannot be used: {data.plain(exc)}. Check the file named by --config or "
             "BACKFILL_CONFIG (or monitor/pipelines/nba.toml).", icon=":material/settings:")
    st.stop()
except ValueError as exc:  # a malformed BACKFILL_NOW, an unknown argument after `streamlit run app.py --`
    st.error(f"A setting cannot be used: {data.plain(exc)}.", icon=":material/settings:")
    st.stop()
except WarehouseError as exc:
    check = ("Check BACKFILL_DEMO_PATH and BACKFILL_DEMO_SPEED (the demo warehouse)" if data.warehouse_setting() == "demo"
             else f"Check --warehouse, BACKFILL_WAREHOUSE or the `warehouse` secret (now {data.plain(data.warehouse_setting())})")
    st.error(f"The warehouse cannot be opened: {data.plain(exc)}. {check}.", icon=":material/database:")
    st.stop()

# --- season: from ?season= on a session's first run, then the widget; written back to the URL on every run ---
seasons = data.seasons()
if data.SEASON_KEY not in st.session_state or st.session_state[data.SEASON_KEY] not in seasons:
    wanted, unknown = data.season_choice(st.query_params.get("season"))
    if unknown is not None:
        st.session_state["_unknown_season"] = unknown
    st.session_state[data.SEASON_KEY] = wanted
season = st.sidebar.selectbox("Season", seasons, key=data.SEASON_KEY)
if season == "All":
    st.query_params.pop("season", None)
else:
    st.query_params["season"] = season
    st.session_state.pop("_unknown_season", None)
if "_unknown_season" in st.session_state:
    st.sidebar.warning(f"Unknown season {data.plain(data.clip(st.session_state['_unknown_season'], 40))}: showing all seasons.",
                       icon=":material/warning:")

# --- auto-refresh: likewise from ?refresh= (a wall screen's URL keeps its interval), written back unless default ---
choices = data.refresh_choices()
if data.REFRESH_KEY not in st.session_state:
    st.session_state[data.REFRESH_KEY] = data.refresh_choice(st.query_params.get("refresh"))
refresh = st.sidebar.selectbox("Auto-refresh", list(choices), key=data.REFRESH_KEY)
if refresh == data.DEFAULT_REFRESH:
    st.query_params.pop("refresh", None)
else:
    st.query_params["refresh"] = data.refresh_slug(refresh)


def refresh_now() -> None:  # callbacks run before the script, so the click is never lost to a rerun
    st.session_state["_refresh_declined"] = not data.refresh_now()


st.sidebar.button("Refresh now", icon=":material/refresh:", on_click=refresh_now,
                  help=f"Reload the figures for everyone (at most once every {data.REFRESH_NOW_MIN_GAP_S} s)")
if st.session_state.pop("_refresh_declined", False):
    st.sidebar.info(f"Not refreshed: the figures were refreshed for everyone less than "
                    f"{data.REFRESH_NOW_MIN_GAP_S} s ago. Showing the latest ones.", icon=":material/schedule:")

st.sidebar.caption(f"Warehouse: {data.plain(warehouse.label)}")

if data.warehouse_setting() == "demo":
    status = data.demo_status()
    if status is not None and status.finished:
        if data.clock_pinned():  # a restart would move the demo's start for every reader on the real clock
            st.info("The demo backfill has finished at this clock (pinned by BACKFILL_NOW): every figure is final.",
                    icon=":material/flag:")
        else:
            st.info("The demo backfill has finished: every figure is final now.", icon=":material/flag:")
            st.button("Start the demo again", icon=":material/replay:", on_click=data.restart_demo)
    for note in data.demo_notes():
        st.sidebar.caption(data.plain(note.removeprefix("note: ")))

try:
    fig = data.load_figures(data.selected_season())  # the cache's "Refreshing figures…" spinner shows here
except (ValueError, WarehouseError) as exc:  # e.g. a malformed BACKFILL_NOW, or no snapshot could be read yet
    st.error(f"The figures cannot be computed: {data.plain(exc)}. Check the warehouse, then use Refresh now.",
             icon=":material/error:")
    st.stop()

stale = data.current_stale()
if stale:
    st.warning(f"Figures {data.plain(stale.badge())}. The last good figures stay on screen; "
               "the next refresh tries again.", icon=":material/cloud_off:")
st.sidebar.caption(f"Data as of {fig.checked_at:%H:%M:%S} UTC" + (" (stale)" if stale else ""))
st.sidebar.caption(data.cost_line(fig))
failure_minutes = data.failure_window()  # read now: the download's callable runs outside this session
st.sidebar.download_button(
    "Download CSV", data=lambda: data.csv_bytes(data.page_frame(page_key, fig, failure_minutes)), file_name=data.csv_name(page_key, fig),
    mime="text/csv", on_click="ignore", icon=":material/download:", help="The data behind this page, as CSV",
)

run_every = choices[refresh]
if run_every:
    full_run = st.session_state["_full_runs"] = st.session_state.get("_full_runs", 0) + 1

    @st.fragment(run_every=run_every)
    def auto_refresh() -> None:
        if st.session_state.get("_ticked_run") == full_run:  # a timer tick, not the full run that drew it
            st.rerun()
        st.session_state["_ticked_run"] = full_run
        st.caption(f"Auto-refresh every {refresh}")

    with st.sidebar:
        auto_refresh()

data.shell_ran()
pg.run()
