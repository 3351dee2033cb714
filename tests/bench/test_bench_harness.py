"""The peers benchmark's own harness: one real round of the floor and of ours on a 200-row sample.

Metaflow and KFP are not installed in the test environment (they live in the bench venv, installed by
`./dev bench peers` only), so the real round leaves them out; their rows are checked on synthetic numbers.
"""

from __future__ import annotations

import pytest
from conftest import REPO

from localsage.bench import harness, peers
from localsage.bench.peers import environment

SUMMARY_KEYS = {"median_s", "min_s", "max_s", "peak_rss_mb", "runs", "vs_floor", "vs_ours_cold"}


def test_one_round_of_the_floor_and_ours_on_a_sample():
    messages: list[str] = []
    report = peers.run(REPO, say=messages.append, rounds=1, sample_rows=200, include_peers=False, warm_up_rounds=0)

    assert set(report) == {
        "machine",
        "rounds",
        "warm_up_rounds",
        "sample_rows",
        "emulator_start_s",
        "configurations",
        "goals",
        "warm_interpreter",
        "command_server",
    }
    assert report["warm_interpreter"]["rss_mb"] > 20, "the warm interpreter ran the rounds of ours cold"
    assert report["command_server"]["rss_mb"] > 20, "the first local-run started the command server"
    # The cached run is forked from the command server (ready long before it): its task counts in its memory.
    assert report["configurations"][peers.OURS_CACHED]["peak_rss_mb"] > 50
    assert (report["rounds"], report["sample_rows"]) == (1, 200)
    configurations = report["configurations"]
    assert list(configurations) == [peers.FLOOR, peers.OURS_COLD, peers.OURS_FRESH, peers.OURS_CACHED]
    for values in configurations.values():
        assert set(values) == SUMMARY_KEYS
        assert values["runs"] == 1 and values["min_s"] == values["median_s"] == values["max_s"]
    _assert_ratios_consistent(report)
    assert set(report["goals"]) == {"ours_cached_speedup"}
    assert messages[-1] == peers.table(report)


def test_the_report_compares_the_peers_with_the_floor_and_ours():
    def runs(*seconds: float) -> list[harness.Measurement]:
        return [harness.Measurement(value, 100.0) for value in seconds]

    results = {
        peers.FLOOR: runs(4.0, 5.0, 6.0),
        peers.OURS_COLD: runs(6.0, 6.0, 7.0),
        peers.OURS_FRESH: runs(8.0, 8.0, 9.0),
        peers.OURS_CACHED: runs(1.0, 1.5, 2.0),
        peers.METAFLOW: runs(9.0, 8.0, 10.0),
        peers.KFP: runs(7.0, 7.5, 8.0),
        peers.KFP_NO_PIP: runs(5.0, 6.5, 6.0),
    }
    report = peers.summarise(results, emulator_s=0.4, warm_up_rounds=1, sample_rows=None)

    assert report["rounds"] == 3
    assert report["configurations"][peers.METAFLOW]["median_s"] == 9.0
    assert report["configurations"][peers.METAFLOW]["vs_floor"] == 1.8
    assert report["goals"] == {"ours_cached_speedup": 4.0, "ours_cold_vs_metaflow": 0.667, "ours_cold_vs_kfp": 0.8}
    _assert_ratios_consistent(report)
    table = peers.table(report)
    assert f"{report['machine']['cores']} cores, Python {report['machine']['python']}" in table.splitlines()[0]
    assert all(name in table for name in results)


def test_the_bench_venv_installs_the_peers_and_the_step_pins():
    wanted = environment.requirements(REPO)
    assert [requirement.split("==")[0] for requirement in environment.bench_peers(REPO)] == ["metaflow", "kfp"]
    assert all("==" in requirement for requirement in wanted)
    assert {"pandas", "scikit-learn"} <= {requirement.split("==")[0] for requirement in wanted}


def _assert_ratios_consistent(report: dict) -> None:
    configurations = report["configurations"]
    floor = configurations[peers.FLOOR]["median_s"]
    ours = configurations[peers.OURS_COLD]["median_s"]
    assert configurations[peers.FLOOR]["vs_floor"] == 1.0
    assert configurations[peers.OURS_COLD]["vs_ours_cold"] == 1.0
    for values in configurations.values():
        assert values["vs_floor"] == pytest.approx(values["median_s"] / floor, abs=1e-3)
        assert values["vs_ours_cold"] == pytest.approx(values["median_s"] / ours, abs=1e-3)
    assert report["goals"]["ours_cached_speedup"] == pytest.approx(
        ours / configurations[peers.OURS_CACHED]["median_s"], abs=0.01
    )
