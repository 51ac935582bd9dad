"""What the analyst sees in a real browser: Debian's chromium driven by Playwright against `streamlit run app.py`.

AppTest cannot see charts, timers, downloads or URLs; these tests can. Each warehouse gets one server
for the whole module (tests/browser_support.py starts and stops it):

- complete: the usage guide's complete state (monitor.fixtures), clock pinned: the figures must equal
  those of `python -m monitor --format json` for the same warehouse and clock;
- demo: the embedded demo 18 h into its backfill, clock pinned (phases in progress, failures, stuck
  runs): every page, its charts, its CSV and the screenshots;
- html: a small warehouse whose only failure has HTML in its message;
- live: the demo moving at 300× with a 3 s test-only auto-refresh (BACKFILL_REFRESH_S=3).

Screenshots of every page (1280×800 and 390 px wide) go to test-artifacts/browser/ (or
$BACKFILL_BROWSER_ARTIFACTS); with UPDATE_SCREENSHOTS=1 the desktop ones are also written to
docs/screenshots/ for the README.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest

from monitor import config as config_mod
from monitor.data import duration
from tests.browser_support import (
    CHROMIUM,
    DESKTOP,
    LAUNCH_ARGS,
    PHONE,
    ROOT,
    Server,
    artifacts_dir,
    chart_sizes,
    full_screenshot,
    grid,
    metrics,
    page_overflow,
    require_browser,
    select,
    truncated_text,
    wait_charts,
    wait_ready,
)
from tests.warehouse_builder import build, run

NOW = "2025-11-30T14:30:00Z"
NOW_DT = dt.datetime(2025, 11, 30, 14, 30, tzinfo=dt.UTC)
STAMP = "20251130_143000"
DEMO_HOURS = 18  # the pinned demo: Phase 3 done, Phase 4 under way, failures and stuck runs
# page -> (path, title, charts drawn on the pinned warehouses)
PAGES = {
    "overview": ("/", "Backfill progress", 3),  # one bar per phase + dates processed per hour
    "tables": ("/tables", "Tables", 2),  # one chart per phase
    "seasons": ("/seasons", "Seasons", 2),  # one chart per phase
    "failures": ("/failures", "Failures", 0),
}
HTML = '<img src=x onerror="alert(1)"><script>alert(2)</script> <b>bold</b> **md** :red[x] $x$'

# --- browser and servers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)  # a fresh profile each launch
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture(scope="module")
def artifacts():
    return artifacts_dir()


def _serve(name: str, env: dict[str, str], artifacts):
    server = Server(name, env, artifacts)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def complete_wh(tmp_path_factory):
    from monitor import fixtures

    path = tmp_path_factory.mktemp("browser") / "complete.duckdb"
    return fixtures.guide_state(path, config_mod.load(), "complete", NOW_DT)


@pytest.fixture(scope="module")
def complete_server(browser, complete_wh, artifacts):
    yield from _serve("complete", {"BACKFILL_WAREHOUSE": f"duckdb:{complete_wh}", "BACKFILL_NOW": NOW}, artifacts)


@pytest.fixture(scope="module")
def demo_server(browser, tmp_path_factory, artifacts):
    from monitor import demo

    path = tmp_path_factory.mktemp("browser") / "demo.duckdb"
    # built as if started 12 h ago: with its 6 h head start the backfill is DEMO_HOURS in at NOW
    demo.ensure(path, now=NOW_DT - dt.timedelta(hours=DEMO_HOURS - demo.HEAD_START_HOURS))
    yield from _serve("demo", {"BACKFILL_WAREHOUSE": "demo", "BACKFILL_DEMO_PATH": str(path), "BACKFILL_NOW": NOW},
                      artifacts)


@pytest.fixture(scope="module")
def html_server(browser, tmp_path_factory, artifacts):
    path = build(
        tmp_path_factory.mktemp("browser") / "html.duckdb",
        schedule=("nba_raw", "nbac_schedule"), schedule_rows=[("2023-11-01", "g1", 3), ("2023-11-02", "g2", 3)],
        tables={"nba_analytics.player_game_summary": ("game_date", {"2023-11-01": 2})},
        runs=("nba_reference", "processor_run_history"),
        run_rows=run("PlayerGameSummaryProcessor", "r1", "2023-11-02", "2025-11-30T14:00:00", "failed",
                     "2025-11-30T14:01:00", errors=[{"error_type": "<i>Type</i>", "error_message": HTML}]),
    )
    yield from _serve("html", {"BACKFILL_WAREHOUSE": f"duckdb:{path}", "BACKFILL_NOW": NOW}, artifacts)


@pytest.fixture(scope="module")
def live_server(browser, tmp_path_factory, artifacts):
    path = tmp_path_factory.mktemp("browser") / "live.duckdb"  # built by the app on its first run
    yield from _serve("live", {"BACKFILL_WAREHOUSE": "demo", "BACKFILL_DEMO_PATH": str(path),
                               "BACKFILL_DEMO_SPEED": "300", "BACKFILL_REFRESH_S": "3"}, artifacts)


@pytest.fixture(scope="module")
def contexts(browser):
    """One browser context per window size, shared by the module (its HTTP cache makes page loads quicker);
    each page opened in it is still a new Streamlit session."""
    made = {}

    def get(size: dict):
        key = (size["width"], size["height"])
        if key not in made:
            made[key] = browser.new_context(viewport=size, accept_downloads=True)
        return made[key]

    yield get
    for context in made.values():
        context.close()


@pytest.fixture
def open_page(contexts):
    """open_page(server, path, size) -> a loaded page: a new Streamlit session.

    Every page records the dialogs it saw (page.dialogs) and dismisses them."""
    pages = []

    def make(server, path: str = "/", size: dict = DESKTOP):
        page = contexts(size).new_page()
        pages.append(page)
        page.set_default_timeout(30_000)
        page.dialogs = []

        def on_dialog(dialog):
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(server.url + path)
        wait_ready(page)
        return page

    yield make
    for page in pages:
        page.close()


def cli_json(warehouse: str, season: str | None = None, **env) -> dict:
    """`python -m monitor --format json` for the same warehouse, with the same pinned clock."""
    args = [sys.executable, "-m", "monitor", "--warehouse", warehouse, "--format", "json"]
    if season:
        args += ["--season", season]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKFILL_")}
    out = subprocess.run(args, cwd=ROOT, env={**clean, "BACKFILL_NOW": NOW, **env}, capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout)


# --- what the page shows --------------------------------------------------------------------------


def title(page) -> str:
    return page.locator('[data-testid="stMainBlockContainer"] h1').first.inner_text().strip()


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator('[data-testid="stException"]').all_inner_texts()
    assert page.get_by_role("dialog").count() == 0, page.get_by_role("dialog").all_inner_texts()  # e.g. "Page not found"


def check_charts(page, count: int) -> None:
    wait_charts(page, count)
    for size in chart_sizes(page):
        assert size["width"] > 0 and size["height"] > 0, size
        assert size["overflow"] <= 1, size  # nothing drawn beyond its place on the page


def sidebar_season(page) -> str:
    return page.get_by_role("combobox", name="Season", exact=True).input_value()


def expected_overview(doc: dict) -> list[tuple[str, str, str]]:
    """The Overview's metrics as the JSON's figures should read there, phase by phase."""
    labels = {p.name: p.label for p in config_mod.load().phases}
    rates = {r["phase"]: r for r in doc["rates"]}
    shown = []
    for p in doc["phases"]:
        rate = rates[p["name"]]
        pct = 100.0 * p["complete_dates"] / p["eligible_dates"] if p["eligible_dates"] else 0.0
        if rate["eta_note"] == "not started":
            eta = ("—", "not started")
        elif rate["eta_note"] == "complete":
            eta = ("complete", "")
        else:
            eta = ("unknown" if rate["eta_hours"] is None else duration(rate["eta_hours"]), "")
        shown += [
            (f"{p['name']} · {labels[p['name']]}", f"{p['complete_dates']} / {p['eligible_dates']}", f"{pct:.1f}% complete"),
            ("Work done", f"{p['work_pct']:.1f}%", ""),
            ("Quality gate", p["gate"], ""),
            ("Dates/hour (last 60 min)", f"{rate['dates_per_hour']:g}", ""),
            ("ETA", *eta),
        ]
    return shown


def download(page) -> tuple[str, pd.DataFrame, str]:
    """Click the sidebar's Download CSV: (file name, rows, text)."""
    with page.expect_download() as info:
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Download CSV").click()
    text = open(info.value.path(), encoding="utf-8").read()
    return info.value.suggested_filename, pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str), text


def num(text: str) -> float:
    return float(text) if text not in ("", "None", "nan") else float("nan")


def shows(page, read, expected, timeout: float = 10.0) -> None:
    """read(page) == expected, allowing the page a moment to finish drawing."""
    deadline = time.monotonic() + timeout
    while (got := read(page)) != expected and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert got == expected


def go(page, server, name: str) -> None:
    """Open `name` from the sidebar's menu (in the same session) and wait for it."""
    path, heading, _ = PAGES[name]
    page.locator('[data-testid="stSidebarNavLink"]', has_text=name.capitalize()).click()
    page.wait_for_url(re.compile(re.escape(server.url + path) + r"(\?.*)?$"))
    page.wait_for_function(
        "t => document.querySelector('[data-testid=\"stMainBlockContainer\"] h1')?.innerText.trim() === t", arg=heading)
    wait_ready(page)


# --- every page, from the menu, with its CSV ------------------------------------------------------


def test_every_page_from_the_menu_with_its_charts_and_its_csv(demo_server, open_page):
    """One session walks the menu; each page: no exception, its charts drawn, and its CSV (a timestamped
    file name) holds the rows the page shows."""
    page = open_page(demo_server, "/tables")  # start away from the default page, so Overview is a menu click too
    labels = {"complete": "complete", "in_progress": "in progress", "not_started": "not started", "error": "error"}
    for name in ("overview", "tables", "seasons", "failures"):
        go(page, demo_server, name)
        no_exception(page)
        check_charts(page, PAGES[name][2])
        file_name, rows, _ = download(page)
        assert file_name == f"backfill_{name}_{STAMP}.csv"
        records = rows.to_dict("records")
        if name == "overview":
            shown_as = {
                "phases": [{"name": r["phase"], "complete_dates": int(r["complete_dates"]),
                            "eligible_dates": int(r["eligible_dates"]), "work_pct": num(r["work_pct"]),
                            "gate": r["gate"]} for r in records],
                "rates": [{"phase": r["phase"], "dates_per_hour": num(r["dates_per_hour"]), "eta_note": r["eta_note"],
                           "eta_hours": None if r["eta_hours"] == "" else num(r["eta_hours"])} for r in records],
            }
            shows(page, metrics, expected_overview(shown_as))
        elif name == "tables":  # one grid per phase; Stage only where a phase has several
            shown = []
            for index, phase in enumerate(("Phase 3", "Phase 4")):
                cells = grid(page, index)
                staged = phase == "Phase 4"
                head = (["Stage"] if staged else []) + ["Table", "Status", "Complete", "Dates", "Missing"]
                assert cells[0][:len(head)] == head, cells[0]
                for r in cells[1:]:
                    r = r[1:] if staged else r
                    shown.append([phase, r[0], r[1], num(r[2]), int(r[3]), int(r[4])])
            assert shown == [[r["phase"], r["table"], labels[r["status"]], round(num(r["pct"]), 1), int(r["dates"]),
                              int(r["remaining"])] for r in records]
            assert {"in progress", "not started", "complete"} <= {r[2] for r in shown}  # the pinned demo is mid-way
        elif name == "seasons":
            shown = [[r[0], int(r[1]), int(r[2]), int(r[3]), int(r[6]), int(r[7])] for r in grid(page)[1:]]
            assert shown == [[r["season"], int(r["expected"]), int(r["Phase 3 complete"]), int(r["Phase 4 complete"]),
                              int(r["Phase 3 eligible"]), int(r["Phase 4 eligible"])] for r in records]
        else:
            # the CSV holds the page: its recent failures, stuck runs and unresolved dates, each under its heading
            for section, title in (("recent failure", r"^Recent failures"), ("stuck", r"^Stuck runs"),
                                   ("unresolved", r"^Unresolved")):
                heading = page.get_by_role("heading", name=re.compile(title)).inner_text()
                assert heading.endswith(f": {(rows['section'] == section).sum()}"), heading
            records = rows[rows["section"] == "recent failure"].to_dict("records")
            assert records
            cells = grid(page)
            assert cells[0][:4] == ["Processor", "Data date", "Started (UTC)", "Error type"]
            assert [[*r[:2], pd.Timestamp(r[2]), r[3]] for r in cells[1:]] == [
                [r["processor_name"], r["data_date"], pd.Timestamp(r["started_at"]).floor("s"), r["error_type"]]
                for r in records]
            # a shorter window on the page: the CSV follows it (the pinned demo: 3 failures in 2 h, 1 in 30 min)
            assert len(records) == 3
            page.locator('[data-testid="stButtonGroup"] button', has_text="last 30 min").click()
            page.get_by_role("heading", name="Recent failures (last 30 min): 1").wait_for()
            wait_ready(page)
            _, rows, _ = download(page)
            assert rows["run_id"][rows["section"] == "recent failure"].tolist() == [records[0]["run_id"]]


# --- each page by its URL: layout and screenshots ---------------------------------------------------


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_each_page_by_its_url_with_screenshots(demo_server, open_page, artifacts, size):
    """Each page opened by its own URL (a new session each), at 1280×800 and 390 px wide: no exception,
    charts drawn inside their place, no label or figure cut short, nothing sticking out sideways.
    Screenshots go to the artifacts; with UPDATE_SCREENSHOTS=1 the desktop ones to docs/screenshots/."""
    viewport = DESKTOP if size == "desktop" else PHONE
    for name, (path, heading, charts) in PAGES.items():
        page = open_page(demo_server, path, viewport)
        assert title(page) == heading, name
        no_exception(page)
        check_charts(page, charts)
        page.evaluate("document.fonts.ready")
        page.wait_for_timeout(300)  # charts fitted to their width
        assert truncated_text(page) == [], name
        assert page_overflow(page) <= 1, name
        shot = artifacts / f"{name}_{size}.png"
        page.screenshot(path=str(shot))
        full_screenshot(page, artifacts / f"{name}_{size}_full.png")  # for a look at the whole page
        check_charts(page, charts)
        assert shot.stat().st_size > 10_000
        if size == "desktop" and os.environ.get("UPDATE_SCREENSHOTS"):
            docs = ROOT / "docs" / "screenshots"
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, docs / f"{name}.png")


def test_the_readme_shows_the_desktop_screenshots():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in PAGES:
        assert f"docs/screenshots/{name}.png" in readme
        shot = ROOT / "docs" / "screenshots" / f"{name}.png"
        assert shot.is_file() and shot.stat().st_size < 400_000, shot
        head = shot.read_bytes()[:24]
        assert (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")) == (1280, 800), shot


# --- the figures equal the terminal report's --------------------------------------------------------


def test_overview_seasons_and_tables_csv_equal_the_terminal_report(complete_server, complete_wh, open_page):
    doc = cli_json(f"duckdb:{complete_wh}")
    assert [(p["complete_dates"], p["eligible_dates"]) for p in doc["phases"]] == [(675, 675), (647, 647)]  # the guide's
    page = open_page(complete_server)
    shows(page, metrics, expected_overview(doc))
    checked = dt.datetime.fromisoformat(doc["checked_at"].replace("Z", "+00:00"))
    assert f"data as of {checked:%Y-%m-%d %H:%M:%S} UTC" in page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').first.inner_text()

    go(page, complete_server, "seasons")
    cells = grid(page)
    assert cells[0] == ["Season", "Expected", "Phase 3", "Phase 4", "Phase 3 %", "Phase 4 %", "Phase 3 eligible",
                        "Phase 4 eligible"]
    shown = [[row[0], int(row[1]), int(row[2]), int(row[3]), num(row[4]), num(row[5]), int(row[6]), int(row[7])]
             for row in cells[1:]]
    want = []
    for s in doc["seasons"]:
        p3, p4 = s["phases"]["Phase 3"], s["phases"]["Phase 4"]
        want.append([s["season"], s["expected"], p3["complete"], p4["complete"],
                     round(100.0 * p3["complete"] / p3["eligible"], 1), round(100.0 * p4["complete"] / p4["eligible"], 1),
                     p3["eligible"], p4["eligible"]])
    assert shown == want
    assert [r[0] for r in shown] == ["2021-22", "2022-23", "2023-24", "2024-25"]

    go(page, complete_server, "tables")
    file_name, rows, _ = download(page)
    assert file_name == f"backfill_tables_{STAMP}.csv"
    assert rows["table"].tolist() == [t["table"] for t in doc["tables"]]
    for row, want in zip(rows.to_dict("records"), doc["tables"], strict=True):
        assert (row["phase"], row["status"], row["error"] or None) == (want["phase"], want["status"], want["error"])
        for key in ("dates", "eligible", "partial_dates", "extra_dates"):
            assert int(row[key]) == want[key], (row["table"], key)
        for key in ("pct", "dates_per_hour"):
            assert num(row[key]) == pytest.approx(want[key]), (row["table"], key)
        assert pd.Timestamp(row["last_success_at"]) == pd.Timestamp(want["last_success_at"])


# --- the season: selector, URL, pages --------------------------------------------------------------


def test_season_selector_writes_the_url_and_follows_the_pages(complete_server, complete_wh, open_page):
    season = cli_json(f"duckdb:{complete_wh}", "2023-24")
    page = open_page(complete_server)
    assert "season=" not in page.url and sidebar_season(page) == "All"
    shows(page, lambda p: metrics(p)[:1], [("Phase 3 · Analytics", "675 / 675", "100.0% complete")])

    select(page, "Season", "2023-24")
    page.wait_for_url(re.compile(r"[?&]season=2023-24(&|$)"))
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stMetricValue\"]')?.innerText.trim() === '209 / 209'")
    wait_ready(page)
    shows(page, metrics, expected_overview(season))  # 209 / 209 and 202 / 202: that season's figures

    for name in ("seasons", "tables", "failures", "overview"):  # kept across pages, and in the URL
        go(page, complete_server, name)
        assert re.search(r"[?&]season=2023-24(&|$)", page.url), (name, page.url)
        assert sidebar_season(page) == "2023-24", name
        if name == "seasons":
            shows(page, lambda p: [row[0] for row in grid(p)[1:]], ["2023-24"])
    shows(page, metrics, expected_overview(season))

    direct = open_page(complete_server, "/seasons?season=2023-24")  # a new session starts with that season
    assert sidebar_season(direct) == "2023-24"
    assert "season=2023-24" in direct.url
    shows(direct, lambda p: [row[0] for row in grid(p)[1:]], ["2023-24"])
    file_name, rows, _ = download(direct)
    assert file_name == f"backfill_seasons_2023-24_{STAMP}.csv"
    assert rows["season"].tolist() == ["2023-24"]


# --- warehouse text with HTML stays text -----------------------------------------------------------


def test_a_failure_message_with_html_shows_literally(html_server, open_page):
    page = open_page(html_server, "/failures")
    no_exception(page)
    shows(page, lambda p: p.locator('[data-testid="stCode"]').first.inner_text().strip(), HTML)  # the full error, as text
    _, rows, _ = download(page)
    assert rows["error_message"].tolist() == [HTML, HTML]  # the recent failure, and its date left unresolved
    cells = grid(page)
    assert cells[1][3] == "<i>Type</i>" and cells[1][4] == HTML  # the grid shows it raw too
    # the grid's toolbar has no export of its own (it would skip the CSV's formula guard): the sidebar's is the one
    page.locator('[data-testid="stDataFrame"]').first.hover()
    toolbar = page.locator('[data-testid="stElementToolbar"]').first
    toolbar.get_by_role("button", name="Search").wait_for()
    assert toolbar.get_by_role("button", name=re.compile("download", re.I)).count() == 0
    main = page.locator('[data-testid="stMain"]')
    assert main.locator('img[src="x"], b, i, script:not([src])').count() == 0  # nothing of it became markup
    page.wait_for_timeout(500)
    assert page.dialogs == []  # and no alert() ran


def test_a_malformed_secrets_file_is_said_not_taken_for_no_secrets(browser, artifacts, tmp_path):
    """Unparsable secrets would otherwise read as "no secrets": the demo shown instead of the configured warehouse,
    and no sign-in asked for. One line names the file and where it breaks; no figures are shown."""
    bad = tmp_path / "secrets.toml"
    bad.write_text('warehouse = "bigquery://my-project\n[auth]\n', encoding="utf-8")
    server = Server("bad_secrets", {"BACKFILL_NOW": NOW}, artifacts, options=("--secrets.files", str(bad)))
    try:
        page = browser.new_page(viewport=DESKTOP)
        page.goto(server.url)
        alert = page.locator('[data-testid="stMain"] [data-testid="stAlert"] [data-testid="stMarkdownContainer"]')
        alert.wait_for(timeout=60_000)
        assert alert.inner_text().strip() == (f"Error parsing secrets file at {bad}: Illegal character '\\n' "
                                              "(at line 1, column 35). Fix the file (see "
                                              ".streamlit/secrets.toml.example), then reload.")
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert page.locator('[data-testid="stSidebarNavLink"]').count() == 0  # not even the page names
        no_exception(page)
        page.close()
    finally:
        server.stop()


def test_signed_out_visitors_see_the_sign_in_and_nothing_else(browser, artifacts, tmp_path):
    """With [auth] configured: a sign-in button; no figures, no page names, whichever page is asked for."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\ncookie_secret = "s3cret-cookie"\n'
        'client_id = "id"\nclient_secret = "s3cret-client"\n'
        'server_metadata_url = "https://accounts.example.com/.well-known/openid-configuration"\n'
        '[access]\nallowed_domains = ["example.com"]\n', encoding="utf-8")
    server = Server("sign_in", {"BACKFILL_NOW": NOW, "BACKFILL_DEMO_PATH": str(tmp_path / "demo.duckdb")}, artifacts,
                    options=("--secrets.files", str(secrets)))
    try:
        page = browser.new_page(viewport=DESKTOP)
        for path in ("/", "/failures?season=2023-24"):
            page.goto(server.url + path)
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            assert page.locator('[data-testid="stSidebarNavLink"]').count() == 0
            assert page.locator('[data-testid="stMetric"], [data-testid="stDataFrame"]').count() == 0
            no_exception(page)
        assert not (tmp_path / "demo.duckdb").exists()  # no warehouse work either
        page.close()
    finally:
        server.stop()


# --- auto-refresh -------------------------------------------------------------------------------------


def figures_and_clock(page) -> tuple[list[tuple[str, str, str]], str]:
    clock = page.locator('[data-testid="stSidebar"]').get_by_text(re.compile(r"^Data as of ")).inner_text()
    return metrics(page), clock


def test_auto_refresh_moves_the_figures_in_place_and_off_stops_them(live_server, open_page):
    page = open_page(live_server)
    wait_charts(page, 3)
    assert truncated_text(page) == []  # the demo's early state: Phase 4 not started yet
    page.evaluate("""() => {
        window.__sameDocument = true;  // gone if the page reloads
        window.__blank = 0;
        setInterval(() => {  // the page never goes blank: the figures stay on screen throughout
            if (document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetricValue"]').length < 10
                || !document.querySelector('[data-testid="stMainBlockContainer"] h1')) window.__blank++;
        }, 50);
    }""")
    select(page, "Auto-refresh", "3 s (test)")
    page.wait_for_url(re.compile(r"[?&]refresh=3s(&|$)"))  # a wall screen's URL keeps its interval
    wait_ready(page)
    before = figures_and_clock(page)
    page.wait_for_function(
        "old => { const v = [...document.querySelectorAll('[data-testid=\"stMain\"] [data-testid=\"stMetricValue\"]')]"
        ".map(e => e.innerText.trim()).join('|'); return v.length > 0 && v !== old; }",
        arg="|".join(m[1] for m in before[0]), timeout=30_000, polling=200,
    )
    wait_ready(page)
    after = figures_and_clock(page)
    assert after[0] != before[0] and after[1] != before[1]  # newer figures, newer "data as of"
    assert page.evaluate("window.__sameDocument") is True  # in place: no reload

    select(page, "Season", "2023-24")  # the season survives the ticks
    page.wait_for_url(re.compile(r"[?&]season=2023-24(&|$)"))
    wait_ready(page)
    clock = figures_and_clock(page)[1]
    page.wait_for_function(
        "old => [...document.querySelectorAll('[data-testid=\"stSidebar\"] p')]"
        ".some(p => p.innerText.startsWith('Data as of ') && p.innerText !== old)",
        arg=clock, timeout=30_000, polling=200,
    )
    wait_ready(page)
    assert re.search(r"[?&]season=2023-24(&|$)", page.url) and sidebar_season(page) == "2023-24"
    assert re.search(r"[?&]refresh=3s(&|$)", page.url)

    select(page, "Auto-refresh", "Off")
    wait_ready(page)
    page.wait_for_timeout(1000)  # a tick already on its way may still land
    wait_ready(page)
    frozen = figures_and_clock(page)
    page.wait_for_timeout(2 * 3000 + 500)  # two intervals and a bit
    assert figures_and_clock(page) == frozen
    assert page.evaluate("window.__sameDocument") is True
    assert page.evaluate("window.__blank") == 0
