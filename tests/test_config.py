"""Config loading: the default pipeline's facts, and every bad file rejected with one line naming the key."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from monitor import config
from monitor.config import ConfigError


def test_default_pipeline_is_the_usage_guides():
    c = config.load()
    assert (c.start, c.end) == (dt.date(2021, 10, 1), dt.date(2024, 11, 29))
    assert [s.name for s in c.seasons] == ["2021-22", "2022-23", "2023-24", "2024-25"]
    assert [s.opener for s in c.seasons] == [dt.date(2021, 10, 19), dt.date(2022, 10, 18), dt.date(2023, 10, 24), dt.date(2024, 10, 22)]
    assert c.seasons[-1].end == dt.date(2024, 11, 29)
    p3, p4 = c.phases
    assert (p3.name, len(p3.stages), len(p3.tables), p3.bootstrap_days) == ("Phase 3", 1, 5, 0)
    assert [[t.name for t in s] for s in p4.stages] == [
        ["team_defense_zone_analysis", "player_shot_zone_analysis"], ["player_composite_factors"], ["player_daily_cache"]]
    assert p4.bootstrap_days == 7
    assert {t.name: t.date_column for t in p4.tables}["player_daily_cache"] == "cache_date"
    assert [t.name for t in c.tables if t.min_rows_per_game == 2] == [
        "team_defense_game_summary", "team_offense_game_summary", "upcoming_team_game_context"]
    th = c.thresholds
    assert (th.rate_window_minutes, th.failure_window_minutes, th.stuck_after_minutes) == (60, 120, 120)


def test_env_selects_another_file(tmp_path, monkeypatch):
    other = tmp_path / "other.toml"
    other.write_text(config.DEFAULT_CONFIG.read_text().replace('name = "NBA backfill"', 'name = "other"'))
    monkeypatch.setenv("BACKFILL_CONFIG", str(other))
    assert config.load().name == "other"


def _mutate(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


BASE = config.DEFAULT_CONFIG.read_text()


@pytest.mark.parametrize("old, new, key, reason", [
    ('dataset = "nba_analytics"', 'dataset = "x; DROP TABLE y"', "tables.player_game_summary.dataset", "not a valid name"),
    ('date_column = "game_date"\nprocessor = "PlayerGameSummaryProcessor"', 'date_column = "`game_date`"\nprocessor = "PlayerGameSummaryProcessor"',
     "tables.player_game_summary.date_column", "not a valid name"),
    ('table = "nbac_schedule"', "table = \"nbac'schedule\"", "schedule.table", "not a valid name"),
    ('table = "nbac_schedule"', 'table = "nbac schedule"', "schedule.table", "not a valid name"),
    ('table = "processor_run_history"', 'table = "a.b"', "runs.table", "not a valid name"),
    ('[tables.player_daily_cache]', '[tables."player.daily_cache"]', "tables.player.daily_cache", "not a valid table name"),
    ('project = "nba-props-platform"', 'project = "Bad_Project!"', "pipeline.project", "not a valid name"),
    ('final_status = 3', 'final_status = 3\ncolour = "red"', "schedule.colour", "unknown key"),
    ('[schedule]\ndataset = "nba_raw"\n', '[schedule]\n', "schedule.dataset", "missing"),
    ("bootstrap_days = 7", 'bootstrap_days = "7"', "phases[1].bootstrap_days", "must be an integer, got a string"),
    ("bootstrap_days = 7", "bootstrap_days = -1", "phases[1].bootstrap_days", "must be >= 0"),
    ("bootstrap_days = 7", "bootstrap_days = 400", "phases[1].bootstrap_days", "must be <= 366, got 400"),
    ("bootstrap_days = 7", "bootstrap_days = true", "phases[1].bootstrap_days", "must be an integer, got a boolean"),
    ("start = 2021-10-01\nend = 2024-11-29", "start = 2021-10-01\nend = 2020-11-29", "pipeline.end", "before pipeline.start"),
    ('start = 2021-10-01\nend = 2024-11-29', 'start = "2021-10-01"\nend = 2024-11-29', "pipeline.start", "must be a date"),
    ("start = 2022-10-01\nend = 2023-06-30", "start = 2022-06-01\nend = 2023-06-30", "seasons[1].start", "overlaps season 2021-22"),
    ("opener = 2023-10-24", "opener = 2023-09-24", "seasons[2].opener", "outside the season"),
    ('name = "2024-25"', 'name = "2024/25"', "seasons[3].name", "not a valid name"),
    ('stages = [\n  ["team_defense_zone_analysis", "player_shot_zone_analysis"],\n  ["player_composite_factors"],\n  ["player_daily_cache"],\n]',
     'stages = []', "phases[1].stages", "at least one table"),
    ('["player_composite_factors"],', '["player_composite_factors", "nope"],', "phases[1].stages[1]", "'nope' is not a table"),
    ('["player_composite_factors"],', "[],", "phases[1].stages[1]", "non-empty array"),
    ('backfill_job = "precompute/player_daily_cache"', 'backfill_job = "precompute/x; rm -rf /"', "tables.player_daily_cache.backfill_job", "not a valid name"),
    ('processor = "PlayerDailyCacheProcessor"', 'processor = "PlayerCompositeFactorsProcessor"', "tables", "more than one table"),
    ("stuck_after_minutes = 120", "stuck_after_minutes = 300", "thresholds.stuck_after_minutes", "must be below 240"),
    ("rate_window_minutes = 60", "rate_window_minutes = 0", "thresholds.rate_window_minutes", "must be >= 1"),
    # huge numbers are typos that would overflow dates and timers; windows must fit the run history that is read
    ("history_hours = 24", "history_hours = 100000000", "thresholds.history_hours", "must be <= 168, got 100000000"),
    ("failure_window_minutes = 120", "failure_window_minutes = 99999999999999", "thresholds.failure_window_minutes",
     "must be <= 1440 (thresholds.history_hours = 24: only those hours of runs are read)"),
    ("history_hours = 24", "history_hours = 1", "thresholds.failure_window_minutes", "must be <= 60 (thresholds.history_hours = 1"),
    ("many_failures = 20", "many_failures = 10000000000", "thresholds.many_failures", "must be <= 1000000000"),
    # a label or name is printed in terminals: escape codes in it could repaint the screen
    ('label = "Analytics"', 'label = "Analytics\\u001b[2J"', "phases[0].label", "must not contain control"),
    ('name = "NBA backfill"', 'name = "NBA\\nbackfill"', "pipeline.name", "must not contain control"),
    ('name = "Phase 3"', 'name = "Phase\\u200b 3"', "phases[0].name", "zero-width spaces"),
    # `--check "phase 3"` must name one phase: names equal but for case or spacing are one name
    ('name = "Phase 4"', 'name = "phase  3"', "phases[1].name", "phase 'phase  3' is defined twice"),
])
def test_bad_config_is_rejected_with_one_line_naming_the_key(tmp_path, old, new, key, reason):
    path = tmp_path / "bad.toml"
    path.write_text(_mutate(BASE, old, new))
    with pytest.raises(ConfigError) as info:
        config.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert info.value.key == key, message
    assert reason in message


@pytest.mark.parametrize("text, key", [
    ("this is not toml", "toml"),
    ("x = " + "[" * 5000 + "]" * 5000, "toml"),  # nested too deeply
    ("# " + "x" * (1024 * 1024), "file"),  # over 1 MiB
    ("[pipeline]\nname = 1", "pipeline.name"),
    ("", "pipeline"),
])
def test_unreadable_files(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.key == key


def test_an_endless_file_is_refused_not_read():
    with pytest.raises(ConfigError, match="file: larger than 1024 KiB"):
        config.load("/dev/zero")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file: not found"):
        config.load(tmp_path / "nope.toml")


def test_empty_phase_list():
    data = tomllib.loads(BASE)
    data["phases"] = []
    with pytest.raises(ConfigError, match="phases: must define at least one phase"):
        config.parse(data)
