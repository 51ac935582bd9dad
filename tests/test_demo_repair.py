"""The demo file removed, replaced by garbage, or locked while the monitor runs: rebuilt or reported, never a crash."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from monitor import config, progress, snapshot
from monitor.warehouse.demo import open_demo
from tests.processes import die_with_parent


@pytest.fixture
def demo_wh(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(tmp_path / "demo.duckdb"))
    monkeypatch.delenv("BACKFILL_DEMO_SPEED", raising=False)
    wh = open_demo(now=dt.datetime.now(dt.UTC))
    yield wh
    wh.close()


def _figures(wh):
    cfg = config.load()
    snap = snapshot.fetch(cfg, wh)
    return snap, progress.compute(snap, cfg)


def test_removed_demo_file_is_rebuilt_on_the_next_refresh_where_it_was(demo_wh, monkeypatch):
    monkeypatch.setenv("BACKFILL_NOW", dt.datetime.now(dt.UTC).isoformat())
    snap, before = _figures(demo_wh)
    assert not snap.errors
    demo_wh.path.unlink()
    snap, after = _figures(demo_wh)
    assert not snap.errors and demo_wh.path.is_file()
    assert after.phases["expected_dates"].tolist() == [675, 675]
    # the same timeline start: the backfill carries on where it was instead of jumping back
    assert after.tables["dates"].tolist() == before.tables["dates"].tolist()


def test_demo_file_replaced_by_garbage_is_rebuilt(demo_wh):
    demo_wh.path.unlink()
    demo_wh.path.write_bytes(b"\x00not a duckdb file" * 1000)
    snap, fig = _figures(demo_wh)
    assert not snap.errors
    assert fig.phases["eligible_dates"].tolist() == [675, 647]


def test_demo_file_locked_by_a_writer_is_rebuilt_beside_the_lock(demo_wh):
    """Another process holds the file open for writing, so DuckDB refuses to open it: the demo is rebuilt beside
    the lock (a new file replaces the path; the writer keeps the old one) and the refresh succeeds."""
    demo_wh.close()
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('locked', flush=True); time.sleep(30)", str(demo_wh.path)],
                              stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    try:
        assert holder.stdout.readline().strip() == "locked"
        snap, fig = _figures(demo_wh)
        assert not snap.errors
        assert fig.phases["expected_dates"].tolist() == [675, 675]
    finally:
        holder.kill()
        holder.wait()
    snap, _ = _figures(demo_wh)  # the lock is gone: it works again
    assert not snap.errors


def test_every_reader_uses_the_speed_the_demo_was_built_with(tmp_path, monkeypatch):
    """The app started with BACKFILL_DEMO_SPEED=60 and a terminal without it read the same clock."""
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(tmp_path / "demo.duckdb"))
    monkeypatch.setenv("BACKFILL_DEMO_SPEED", "60")
    now = dt.datetime.now(dt.UTC)
    fast = open_demo(now=now)
    monkeypatch.delenv("BACKFILL_DEMO_SPEED")
    plain = open_demo(now=now)
    try:
        cfg = config.load()
        a = progress.compute(snapshot.fetch(cfg, fast, now=now), cfg)
        b = progress.compute(snapshot.fetch(cfg, plain, now=now), cfg)
        assert a.tables["dates"].tolist() == b.tables["dates"].tolist()
        assert a.tables["dates"].sum() > 0
    finally:
        fast.close()
        plain.close()


@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_a_bad_demo_speed_is_one_line_of_bad_input(tmp_path, monkeypatch, value):
    from monitor.warehouse import WarehouseError

    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(tmp_path / "demo.duckdb"))
    monkeypatch.setenv("BACKFILL_DEMO_SPEED", value)
    with pytest.raises(WarehouseError, match="BACKFILL_DEMO_SPEED must be a positive number"):
        open_demo(now=dt.datetime.now(dt.UTC))
    assert not (tmp_path / "demo.duckdb").exists()


def test_a_users_database_moved_onto_the_demo_path_is_reported_not_overwritten(demo_wh):
    """A repair rebuilds a damaged demo, never someone's DuckDB database that now stands where the demo was."""
    import duckdb

    snap, _ = _figures(demo_wh)
    assert not snap.errors
    mine = demo_wh.path.with_name("mine.duckdb")
    with duckdb.connect(str(mine)) as con:
        con.execute("CREATE TABLE important AS SELECT 42 AS answer")
    mine.replace(demo_wh.path)  # as `mv mine.duckdb demo.duckdb` would, while the monitor runs
    before = demo_wh.path.read_bytes()
    snap, fig = _figures(demo_wh)
    assert snap.catalog.error == snap.runs.error == (
        f"{demo_wh.path} exists and is not a demo warehouse: the demo never overwrites it; "
        "point BACKFILL_DEMO_PATH at a new file")
    assert demo_wh.path.read_bytes() == before  # untouched
    with duckdb.connect(str(demo_wh.path), read_only=True) as con:
        assert con.execute("SELECT answer FROM important").fetchall() == [(42,)]


def test_a_demo_file_held_by_a_writer_at_start_is_reported_with_the_reason(tmp_path, monkeypatch):
    from monitor import demo
    from monitor.warehouse import WarehouseError

    path = tmp_path / "demo.duckdb"
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(path))
    demo.ensure(path, now=dt.datetime.now(dt.UTC))
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('locked', flush=True); time.sleep(30)", str(path)],
                              stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseError, match=f"the demo file {path} is held by another process: .*lock"):
            open_demo(now=dt.datetime.now(dt.UTC))
    finally:
        holder.kill()
        holder.wait()
