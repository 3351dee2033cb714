"""A smoke run of `./dev bench kpi` on a few rows (the real sizes are a benchmark, not a test)."""

from __future__ import annotations

import pytest
from conftest import REPO

from localsage import bench
from localsage.bench import kpi
from localsage.errors import UserError


def test_kpi_bench_smoke(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(tmp_path))
    results = kpi.run(REPO, say=lambda message: None, daily_rows=300, days=5, per_run_files=12)
    assert results["daily"]["files"] == 5
    assert len(list((tmp_path / "bench" / "kpi" / "daily-300-rows-5-days").rglob("*.csv"))) == 5
    for name in ("daily", "per_run"):
        assert results[name]["queries"] == 5
        assert results[name]["peak_rss_mb"] > 0
        assert results[name]["warm_s"] > 0
    assert set(results["goals"]) == {"daily_warm_s", "per_run_warm_s", "peak_rss_mb"}


def test_an_unknown_suite_lists_the_known_ones():
    with pytest.raises(UserError, match="unknown benchmark suite 'nope': use one of kpi"):
        bench.run("nope", REPO)
