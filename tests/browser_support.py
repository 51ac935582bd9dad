"""Helpers for tests/test_browser.py: a `streamlit run app.py` server per warehouse, Debian's chromium
driven by Playwright, and small readers of what the page shows (metrics, grid cells, charts, layout).

Playwright never downloads a browser here: it drives /usr/bin/chromium (apt-get install chromium;
scripts/test.sh does that). Without it the browser tests skip locally and fail in CI (CI=true).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ARTIFACTS_ENV = "BACKFILL_BROWSER_ARTIFACTS"  # where screenshots and server logs go (default test-artifacts/browser)


def require_browser() -> None:
    """Skip (locally) or fail (CI) when Playwright or Debian's chromium is missing."""
    problems = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is not installed (pip install -r requirements-dev.txt)")
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"{CHROMIUM} is missing (apt-get install -y chromium; scripts/test.sh does it)")
    if problems:
        reason = "browser tests need a browser: " + "; ".join(problems)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def artifacts_dir() -> Path:
    path = Path(os.environ.get(ARTIFACTS_ENV) or ROOT / "test-artifacts" / "browser")
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` on a free loopback port, in its own process group, with `env` on top of a clean one."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, options: tuple[str, ...] = ()):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server_{name}.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("BACKFILL_", "STREAMLIT_"))}
        self.env = {**base, **env}
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", *options]
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_healthy(timeout=60)
        except Exception:
            self.stop()
            raise

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit ({self.name}) exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"streamlit ({self.name}) not healthy after {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


# --- reading the page -------------------------------------------------------------------------


def wait_ready(page, timeout: float = 60_000) -> None:
    """The script run is over and the page has its title (Streamlit draws the page's elements as the run goes)."""
    page.wait_for_selector(READY, timeout=timeout)
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=timeout)
    page.wait_for_selector(READY, timeout=timeout)


def wait_charts(page, count: int, timeout: float = 30_000) -> None:
    """`count` Vega-Lite charts in the main area, each with its drawing (svg or canvas) inside."""
    page.wait_for_function(
        """n => {
            const charts = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stVegaLiteChart"]')];
            return charts.length === n && charts.every(c => c.querySelector('svg.marks, canvas'));
        }""",
        arg=count, timeout=timeout,
    )


def chart_sizes(page) -> list[dict]:
    """Per chart in the main area: the drawing's size and whether it sticks out of its element's box."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stVegaLiteChart"]')].map(c => {
            const drawing = c.querySelector('svg.marks, canvas');
            const box = drawing ? drawing.getBoundingClientRect() : {width: 0, height: 0, right: 0};
            const slot = c.closest('[data-testid="stElementContainer"]').getBoundingClientRect();
            return {width: box.width, height: box.height, overflow: Math.max(0, box.right - slot.right)};
        })"""
    )


def metrics(page) -> list[tuple[str, str, str]]:
    """(label, value, delta) of every st.metric in the main area, in page order."""
    return [tuple(m) for m in page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetric"]')].map(m => [
            m.querySelector('[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"]').innerText.trim(),
            m.querySelector('[data-testid="stMetricValue"]').innerText.trim(),
            (m.querySelector('[data-testid="stMetricDelta"]') || {innerText: ''}).innerText.trim(),
        ])"""
    )]


def grid(page, index: int = 0) -> list[list[str]]:
    """The cells of the index-th st.dataframe as its accessibility table holds them (header row first).

    st.dataframe draws on a canvas; its grid keeps a table of the visible rows and columns for screen
    readers, with the raw values (100.0 % shows as "100")."""
    frame = page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').nth(index)
    frame.locator('table[role="grid"] td').first.wait_for(state="attached")
    return frame.evaluate(
        "e => [...e.querySelectorAll('table[role=\"grid\"] tr')].map(r => [...r.querySelectorAll('th,td')]"
        ".map(c => c.innerText.trim()))"
    )


def truncated_text(page) -> list[str]:
    """Texts cut short (an ellipsis or hidden overflow) in the main area and the sidebar. Not counted: the
    grids and code blocks, which scroll, and the inputs of selectboxes, which show long options in part."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMain"] *, [data-testid="stSidebar"] *')]
            .filter(e => !e.closest('[data-testid="stDataFrame"], [data-testid="stCode"], [data-testid="stSelectbox"], '
                                    + '[data-testid="stVegaLiteChart"], [data-testid="stSegmentedControl"]'))
            .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > 0 && r.left < innerWidth; })
            .filter(e => {
                const s = getComputedStyle(e);
                return e.scrollWidth > e.clientWidth + 1 && (s.textOverflow === 'ellipsis' || s.overflowX === 'hidden');
            })
            .map(e => e.innerText)"""
    )


def page_overflow(page) -> int:
    """How many pixels the main area is wider than the window (0 when nothing sticks out sideways)."""
    return page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]'); return m.scrollWidth - m.clientWidth; }"
    )


def select(page, label: str, option: str) -> None:
    """Choose `option` in the selectbox labelled `label` (a react-aria combobox)."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def full_screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main area, so grow the window to its height first."""
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    page.wait_for_timeout(500)  # charts re-fit their width
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
