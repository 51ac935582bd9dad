"""The DuckDB engine under threads: the snapshot runs its queries side by side."""

from __future__ import annotations

import threading
import time

import sqlglot

from monitor.warehouse import base
from monitor.warehouse import duckdb as engine


def test_sqlglot_is_entered_by_one_thread_at_a_time(monkeypatch):
    """sqlglot is not thread-safe: unguarded, about one fresh process in sixty transpiled the runs query into text
    DuckDB could not parse when catalog and runs were transpiled side by side. Every call into it is serialised."""
    inside: dict[int, int] = {}  # thread -> calls into sqlglot under way (one may call another)
    most = [0]  # the most threads seen inside sqlglot at once
    guard = threading.Lock()
    real_parse, real_parse_one = sqlglot.parse, sqlglot.parse_one

    def counting(real):
        def call(*args, **kwargs):
            me = threading.get_ident()
            with guard:
                inside[me] = inside.get(me, 0) + 1
                most[0] = max(most[0], len(inside))
            time.sleep(0.02)  # long enough for the other threads to try to come in
            try:
                return real(*args, **kwargs)
            finally:
                with guard:
                    inside[me] -= 1
                    if not inside[me]:
                        del inside[me]
        return call

    monkeypatch.setattr(base.sqlglot, "parse", counting(real_parse))
    monkeypatch.setattr(engine.sqlglot, "parse_one", counting(real_parse_one))
    texts = [f"SELECT {i} AS n FROM t{i} WHERE x = @x" for i in range(6)]
    threads = [threading.Thread(target=engine.to_duckdb, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1
    assert engine.to_duckdb(texts[0]) == "SELECT 0 AS n FROM t0 WHERE x = $x"
