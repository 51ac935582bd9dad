"""The cached data module the pages call: the only place below the pages that imports streamlit.

One warehouse connection per process (st.cache_resource) and one snapshot per refresh
interval shared by every session (st.cache_data), so N viewers cost one refresh per
interval, not N. Figures are computed from the cached snapshot per season, in pandas.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from monitor import config as config_mod
from monitor import progress, sanitize, snapshot
from monitor.config import Config
from monitor.freshness import LastGood, Stale
from monitor.progress import Figures
from monitor.warehouse import Warehouse, WarehouseError, open_warehouse, warehouse_url
from monitor.warehouse.base import one_line

ICON = Path(__file__).parent / "assets" / "icon.svg"
REFRESH_CHOICES = {"Off": None, "30 s": 30, "60 s": 60, "5 min": 300}
DEFAULT_REFRESH = "60 s"
REFRESH_NOW_MIN_GAP_S = 10
REFRESH_ENV = "BACKFILL_REFRESH_S"  # test-only: an extra, short auto-refresh choice (and a ttl as short)
SEASON_KEY = "season"  # the sidebar's season selector (app.py) and the URL's ?season=
_SHELL_KEY = "_monitor_shell"  # set by app.py before the page runs, consumed by the page
_FIGURES_KEY = "_monitor_figures"  # the Figures app.py loaded for the current run
_STALE_KEY = "_monitor_stale"  # the Stale marker of those figures, if any
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'^@%/])")


def refresh_choices() -> dict[str, int | None]:
    choices = dict(REFRESH_CHOICES)
    extra = os.environ.get(REFRESH_ENV)
    if extra and extra.isdigit() and int(extra) > 0:
        choices[f"{extra} s (test)"] = int(extra)
    return choices


REFRESH_KEY = "refresh_every"  # the sidebar's auto-refresh selector (app.py) and the URL's ?refresh=


def refresh_slug(label: str) -> str:
    """An auto-refresh choice as the URL spells it: 'Off' -> 'off', '5 min' -> '5min'."""
    return label.split(" (")[0].replace(" ", "").lower()


def refresh_choice(slug: str | None) -> str:
    """The auto-refresh choice for a `?refresh=` value ('5min', ' 30S '), else the default."""
    wanted = (slug or "").replace(" ", "").lower()
    return next((label for label in refresh_choices() if refresh_slug(label) == wanted), DEFAULT_REFRESH)


# No longer than the shortest interval on offer, so each tick can show a newer snapshot; read once, at import.
SNAPSHOT_TTL_S = min(s for s in refresh_choices().values() if s)


class SecretsError(ValueError):
    """A secrets file that exists but cannot be parsed: said, never taken for "no secrets" (which would quietly
    show the demo, or skip the sign-in, instead of what the file configures)."""


def _secret(key: str):
    try:
        return st.secrets.get(key)
    except FileNotFoundError as exc:
        if getattr(exc, "error_id", None) == "failed-parsing-secrets-file":
            raise SecretsError(" ".join(str(exc).split())) from None
        return None  # no secrets.toml at all: simply "not configured"


def check_secrets() -> None:
    """SecretsError when a secrets file cannot be parsed."""
    _secret("warehouse")


def sign_in_required() -> bool:
    """Sign-in is on when `[auth]` is configured in secrets (Streamlit's OIDC settings)."""
    return bool(_secret("auth"))


def allowed_domains() -> list[str]:
    access = _secret("access") or {}
    return list(access.get("allowed_domains", [])) if hasattr(access, "get") else []


def _secret_warehouse() -> str | None:
    return _secret("warehouse")


def _credentials():
    """Service-account credentials from st.secrets["gcp_service_account"] (the Streamlit convention), else None (ADC)."""
    info = _secret("gcp_service_account")
    if not info:
        return None
    from monitor.warehouse.bigquery import service_account_credentials

    return service_account_credentials(dict(info))


APP_FLAGS = ("--config", "--warehouse")


def app_args(argv: list[str] | None = None) -> dict[str, str]:
    """The terminal's --config and --warehouse, given to the app after `--`: `streamlit run app.py -- --config
    PATH --warehouse URL` (Streamlit hands the script `app.py` and what follows `--`). ValueError for anything
    else, so a mistyped flag is said, not ignored."""
    if argv is None:
        argv = sys.argv[1:] if Path(sys.argv[0]).name == "app.py" else []
    found, rest = {}, list(argv)
    while rest:
        flag, _, value = rest.pop(0).partition("=")
        if flag not in APP_FLAGS:
            raise ValueError(f"unknown argument {flag[:40]!r} after `streamlit run app.py --`: the app takes "
                             "--config PATH and --warehouse URL")
        if not value:
            if not rest:
                raise ValueError(f"{flag} needs a value")
            value = rest.pop(0)
        found[flag.removeprefix("--")] = value
    return found


def warehouse_setting() -> str:
    """`-- --warehouse URL`, else $BACKFILL_WAREHOUSE, else the `warehouse` secret, else the demo."""
    return app_args().get("warehouse") or os.environ.get("BACKFILL_WAREHOUSE") or _secret_warehouse() or warehouse_url()


def load_config() -> Config:
    """The pipeline config: `-- --config PATH`, else $BACKFILL_CONFIG, else the NBA pipeline."""
    return _config(app_args().get("config"))


@st.cache_resource(show_spinner=False)
def _config(path: str | None) -> Config:
    return config_mod.load(path)


@st.cache_resource(show_spinner=False)
def _warehouse(url: str) -> Warehouse:
    bar = None

    def progress_cb(fraction: float, message: str) -> None:
        nonlocal bar
        text = f"Building the demo warehouse: {message}"
        bar = (
            bar.progress(min(max(fraction, 0.0), 1.0), text=text)
            if bar
            else st.progress(min(max(fraction, 0.0), 1.0), text=text)
        )

    wh = open_warehouse(url, progress=progress_cb, project=load_config().project, credentials=_credentials)
    if bar is not None:
        bar.empty()
    return wh


def warehouse() -> Warehouse:
    return _warehouse(warehouse_setting())


@st.cache_resource(show_spinner=False)
def _catalog_cache() -> snapshot.CatalogCache:
    """Which tables exist, kept across refreshes for a while (one query fewer per refresh; see snapshot.CatalogCache)."""
    return snapshot.CatalogCache()


@st.cache_data(ttl=SNAPSHOT_TTL_S, show_spinner="Refreshing figures from the warehouse…", max_entries=4)
def _snapshot(url: str, config_source: str, _config: Config) -> snapshot.Snapshot:
    return snapshot.fetch(_config, warehouse(), catalog_cache=_catalog_cache())


_refresh_lock = threading.Lock()
_last_forced = {"at": float("-inf")}
_last_good: dict[tuple[str, str], LastGood] = {}  # per warehouse and config, shared by every session


def load_snapshot() -> tuple[snapshot.Snapshot | None, Stale | None]:
    """The shared snapshot; when its refresh failed, the last good one and a Stale marker saying since when and why."""
    cfg, url = load_config(), warehouse_setting()
    try:
        new, error = _snapshot(url, cfg.source, cfg), None
    except (WarehouseError, OSError) as exc:  # e.g. the demo file could not be rebuilt: not cached, retried next run
        new, error = None, one_line(exc)
    with _refresh_lock:
        holder = _last_good.setdefault((url, cfg.source), LastGood())
        return holder.update(new, error)


def refresh_now() -> bool:
    """Drop the shared snapshot for everyone; at most once per REFRESH_NOW_MIN_GAP_S. True when it refreshed."""
    with _refresh_lock:
        if time.monotonic() - _last_forced["at"] < REFRESH_NOW_MIN_GAP_S:
            return False
        _last_forced["at"] = time.monotonic()
        _snapshot.clear()
        return True


def figures(season: str | None) -> tuple[Figures, Stale | None]:
    snap, stale = load_snapshot()
    if snap is None:
        raise WarehouseError(stale.reason if stale else "the warehouse could not be read")
    return progress.compute(snap, load_config(), season), stale


def check_clock() -> None:
    """ValueError with a one-line reason when $BACKFILL_NOW is set but is not a time."""
    snapshot.resolve_now()


def clock_pinned() -> bool:
    """Whether $BACKFILL_NOW pins the clock (tests, screenshots, a frozen demo in BigQuery)."""
    return bool(os.environ.get(snapshot.NOW_ENV, "").strip())


def demo_notes() -> list[str]:
    """The demo's notes for this clock: a speed other than its file's, a clock before it began."""
    notes = getattr(warehouse(), "notes", None)
    return notes(snapshot.resolve_now()) if notes else []


def demo_status():
    wh = warehouse()
    status = getattr(wh, "status", None)
    return status(snapshot.resolve_now()) if status else None


def restart_demo() -> None:
    wh = warehouse()
    wh.restart(snapshot.resolve_now())
    _snapshot.clear()


def seasons() -> list[str]:
    return ["All", *(s.name for s in load_config().seasons)]


def season_choice(wanted: str | None) -> tuple[str, str | None]:
    """The season selector's value for a `?season=` value ("all" in any case and stray spaces accepted), and
    the value itself when it names no season (the page then shows all seasons with a notice)."""
    try:
        chosen = load_config().season(wanted)
    except ValueError:
        return "All", wanted
    return (chosen.name if chosen else "All"), None


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A page's CSV download, its cells safe in a spreadsheet and a terminal (sanitize.csv_text)."""
    return sanitize.csv_text(frame).encode("utf-8")


FAILURE_WINDOW_KEY = "failure_window"  # the Failures page's window selector


def configured_failure_window() -> int:
    """thresholds.failure_window_minutes: the window the figures hold failures for."""
    return load_config().thresholds.failure_window_minutes


def failure_windows() -> list[int]:
    """The Failures page's windows, in minutes: shorter ones that fit inside the configured failure window."""
    configured = configured_failure_window()
    return sorted({m for m in (30, 120, 360, 1440) if m < configured} | {configured})


def failure_window() -> int:
    """The window chosen on the Failures page (minutes), else the configured one."""
    return st.session_state.get(FAILURE_WINDOW_KEY) or configured_failure_window()


def keep_a_failure_window() -> None:
    """A segmented control lets a click on the chosen segment clear it: choose the configured window again."""
    if not st.session_state.get(FAILURE_WINDOW_KEY):
        st.session_state[FAILURE_WINDOW_KEY] = configured_failure_window()


def recent_failures(fig: Figures, minutes: int) -> pd.DataFrame:
    """The failed runs that started in the last `minutes` (of the configured window's, which the figures hold)."""
    return fig.failures[fig.failures["started_at"] > fig.checked_at - dt.timedelta(minutes=minutes)]


def page_frame(page: str, fig: Figures, failure_minutes: int | None = None) -> pd.DataFrame:
    """The frame behind a page, for its CSV download; a section that failed gives its error, not an empty table.

    Failures: the recent failures of `failure_minutes` (the window chosen on the page, read while the page is
    drawn: the download itself runs outside the session), the stuck runs and the unresolved dates (with their
    backfill commands), one `section` column telling them apart."""
    if page == "overview":
        return fig.phases.assign(tables=fig.phases["tables"].map(" ".join)).merge(fig.rates, on="phase", how="left")
    if page == "failures":
        if fig.failures is None:
            return pd.DataFrame({"error": [fig.errors.get("runs", "the run history could not be read")]})
        minutes = failure_minutes or configured_failure_window()
        parts = {"recent failure": recent_failures(fig, minutes), "stuck": fig.stuck, "unresolved": fig.unresolved}
        columns = ["section", *dict.fromkeys(c for frame in parts.values() for c in frame.columns)]  # always all
        shown = [frame.assign(section=name) for name, frame in parts.items() if not frame.empty]
        if not shown:
            return pd.DataFrame(columns=columns)
        return pd.concat(shown, ignore_index=True).reindex(columns=columns)
    return {"tables": fig.tables, "seasons": fig.seasons}[page]


def csv_name(page: str, fig: Figures) -> str:
    stamp = fig.checked_at.astimezone(dt.UTC).strftime("%Y%m%d_%H%M%S")
    season = f"_{fig.season}" if fig.season else ""
    return f"backfill_{page}{season}_{stamp}.csv"


# --- for app.py and the pages ---------------------------------------------------


def plain(text) -> str:
    """`text` (warehouse text: error messages, processor names) escaped for st.markdown / st.error / st.caption,
    so it shows literally: no markdown, emoji shortcodes, colour directives, LaTeX or HTML interpretation, and no
    character that hides or reorders text (sanitize.visible)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", sanitize.visible(" ".join(str(text).split())))


def on_screen(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame`'s warehouse text for a grid or a code block: shown as written, but a right-to-left override or a
    zero-width character shows as its escape, so a message cannot pass for another (sanitize.visible)."""
    return sanitize.texts(frame, sanitize.visible)


def selected_season() -> str | None:
    """The season chosen in the sidebar (None for all)."""
    season = st.session_state.get(SEASON_KEY)
    return None if season in (None, "", "All") else season


def load_figures(season: str | None) -> Figures:
    """Figures for this run, kept so the sidebar and the page show the same snapshot (app.py calls it once per run)."""
    fig, stale = figures(season)
    st.session_state[_FIGURES_KEY], st.session_state[_STALE_KEY] = fig, stale
    return fig


def current_figures() -> Figures:
    """The Figures app.py loaded for this run (the pages call this)."""
    fig = st.session_state.get(_FIGURES_KEY)
    if fig is None or fig.season != selected_season():
        fig = load_figures(selected_season())
    return fig


def current_stale() -> Stale | None:
    """Why the figures of this run are not fresh, if they are not."""
    return st.session_state.get(_STALE_KEY)


def cost_line(fig: Figures) -> str:
    """The refresh's cost, for the footer: queries, time, bytes processed where the engine reports them."""
    scanned = "bytes n/a" if fig.bytes_processed is None else f"{fig.bytes_processed / 1e6:,.1f} MB processed"
    return f"Last refresh: {fig.queries} queries · {fig.elapsed_s:.2f} s · {scanned}"


def shell_ran() -> None:
    """app.py calls this right before running the page: the shared shell (sidebar, navigation) ran in this run."""
    st.session_state[_SHELL_KEY] = True


def ensure_shell() -> None:
    """Each page calls this first. Streamlit 1.67 keeps its old `pages/` folder mode until some run has called
    st.navigation: when the first request after a server start opens /tables (say), it runs pages/tables.py on
    its own, without app.py, and keeps doing so for every session until someone opens /. (AppTest starts every
    run in that mode.) The page notices that app.py did not run in this run, turns that mode off and reruns, so
    app.py runs and st.navigation opens the same page.
    """
    if st.session_state.pop(_SHELL_KEY, False):  # consumed: the next run must set it again
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False  # what st.navigation itself sets
    except (ImportError, AttributeError):  # pragma: no cover - a future Streamlit without the flag
        return
    st.rerun()


def clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shorten(messages: pd.Series, limit: int = 200) -> list[str]:
    """Error messages cut to `limit` characters for a table cell (the full text stays in the CSV and on demand)."""
    return [clip(m, limit) for m in messages.fillna("")]


def outcome_labels(outcomes: pd.Series) -> pd.Series:
    return outcomes.map({"failed": "failed", "failed_cleanup": "failed (stale cleanup)"})


def shell_lines(commands) -> str:
    """Backfill commands for a code block, each split before its dates with a backslash continuation: still one
    command per paste, and narrow enough for a phone or a half-width window without wrapping inside a date."""
    return "\n".join(c.replace(" --start-date ", " \\\n    --start-date ", 1) for c in commands)


def plural(n: int, noun: str) -> str:
    """'1 range', '8 ranges'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def span(minutes: int) -> str:
    """A time window for labels: 'last 60 min', 'last 2 h'."""
    return f"last {minutes} min" if minutes <= 60 or minutes % 60 else f"last {minutes // 60} h"


def duration(hours: float) -> str:
    """An ETA: '40 min', '7.3 h', '2.3 days'."""
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def missing(value) -> bool:
    """None, NaN, NA or NaT: a figure that is unknown (pandas 3 turns a missing string into NaN)."""
    if isinstance(value, (list, tuple)):
        return False
    return value is None or bool(pd.isna(value))
