"""Rank uncertainty on hand-built worlds with known answers."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from innoclusters.config import DEFAULT_UNCERTAINTY, UNCERTAINTY_ENV, Settings, load_settings
from innoclusters.errors import SettingsError
from innoclusters.locations import edition_windows
from innoclusters.pipeline import rerun_with_uncertainty, run
from innoclusters.publish import write_outputs
from innoclusters.records import read_records
from innoclusters.result import CLUSTER_COLUMNS
from innoclusters.uncertainty import SOURCES, Uncertainty, estimate, uncertainty
from tests.test_cli import cli

KM_PER_DEG = 6371.0088 * math.pi / 180.0


def _blob(
    rng: np.random.Generator, lat: float, lon: float, docs: int, start: int, spread_km: float
) -> list[tuple[str, int, float, float, str]]:
    """``docs`` single-address patents within ``spread_km`` of a point."""
    rows = []
    for i in range(docs):
        dy, dx = rng.uniform(-spread_km, spread_km, 2) / KM_PER_DEG
        rows.append((f"d{start + i}", 2022, round(lat + dy, 4), round(lon + dx, 4), "DE"))
    return rows


def _write(tmp_path: Path, rows: list[tuple[str, int, float, float, str]]) -> dict[str, list[Path]]:
    path = tmp_path / "patents.csv"
    pd.DataFrame(rows, columns=["doc_id", "year", "lat", "lon", "country"]).to_csv(
        path, index=False
    )
    return {"patents": [path]}


def _world(tmp_path: Path, blobs: list[tuple[float, float, int, float]]) -> dict[str, list[Path]]:
    rng = np.random.default_rng(7)
    rows: list[tuple[str, int, float, float, str]] = []
    for lat, lon, docs, spread in blobs:
        rows += _blob(rng, lat, lon, docs, len(rows), spread)
    return _write(tmp_path, rows)


def _east(km: float) -> float:
    """Longitude offset of ``km`` eastwards at latitude 50."""
    return km / (KM_PER_DEG * math.cos(math.radians(50.0)))


def _row(table: pd.DataFrame, lat: float, lon: float) -> pd.Series:
    """The cluster whose centre is nearest (lat, lon)."""
    d = (table["lat"] - lat) ** 2 + (table["lon"] - lon) ** 2
    return table.loc[d.idxmin()]


SMALL = {"patents": 10.0}


def test_cluster_that_exists_only_at_small_eps(tmp_path: Path) -> None:
    # A (40 documents) and B (120) 14 km apart: at eps 10 two clusters, from 14 km one
    # cluster whose predecessor is B, so A merges and no longer exists on its own.
    sources = _world(tmp_path, [(50.0, 8.0, 40, 0.5), (50.0, 8.0 + _east(14.0), 120, 0.5)])
    settings = Settings(
        eps_km=10.0, min_weight=SMALL, uncertainty=30, uncertainty_rounding_factors=(1,)
    )
    result = run(sources, settings)
    assert len(result.clusters) == 2
    u = result.extras["uncertainty"].clusters.merge(result.clusters[["cluster_id", "lat", "lon"]])
    a = _row(u, 50.0, 8.0)
    b = _row(u, 50.0, 8.0 + _east(14.0))
    assert a["rank"] == 2 and b["rank"] == 1
    assert a["data_p_exists"] == 1.0
    assert a["data_rank_p5"] == a["data_rank_p95"] == 2
    # eps is drawn in 10-16 km: merged in about a third of the draws.
    assert 0.1 < a["method_p_exists"] < 0.9
    assert a["method_merge_rate"] == pytest.approx(1 - a["method_p_exists"])
    assert math.isnan(a["method_rank_p95"])  # the interval says: not a cluster at all
    assert b["method_p_exists"] == 1.0
    # The sensitivity table blames eps_km, not the density.
    sens = result.extras["uncertainty"].sensitivity
    row = sens[(sens["cluster_id"] == a["cluster_id"])].set_index("choice")
    assert bool(row.loc["eps_km", "vanishes"])
    assert not bool(row.loc["density.patents", "vanishes"])


def test_cluster_that_splits_under_small_eps(tmp_path: Path) -> None:
    # Two blobs 12 km apart: one cluster at eps 13, two at eps <= 11.
    sources = _world(tmp_path, [(50.0, 8.0, 60, 0.3), (50.0, 8.0 + _east(12.0), 60, 0.3)])
    settings = Settings(
        eps_km=13.0,
        min_weight=SMALL,
        uncertainty=10,
        uncertainty_eps_km=(9.0, 11.0),
        uncertainty_rounding_factors=(1,),
    )
    result = run(sources, settings)
    assert len(result.clusters) == 1
    u = result.extras["uncertainty"].clusters.iloc[0]
    assert u["method_split_rate"] == 1.0
    assert u["method_p_exists"] == 1.0  # a split cluster still exists, as its best piece
    assert u["method_rank_p5"] == u["method_rank_p95"] == 1  # its best piece ranks first
    assert u["data_split_rate"] == 0.0
    reps = result.extras["uncertainty"].replicates
    assert set(reps.loc[reps["source"] == "method", "fate"]) == {"split"}


def test_identical_results_for_a_seed_whatever_the_threads(tmp_path: Path) -> None:
    sources = _world(
        tmp_path,
        [(50.0, 8.0, 40, 2.0), (50.0, 8.0 + _east(14.0), 50, 2.0), (48.0, 2.0, 45, 3.0)],
    )
    settings = Settings(eps_km=12.0, min_weight={"patents": 8.0}, uncertainty=6)
    one = run(sources, settings.replace(workers=1)).extras["uncertainty"]
    two = run(sources, settings.replace(workers=2)).extras["uncertainty"]
    assert one.settings["threads"] == 1 and two.settings["threads"] == 2
    pd.testing.assert_frame_equal(one.clusters, two.clusters)
    pd.testing.assert_frame_equal(one.replicates, two.replicates)
    pd.testing.assert_frame_equal(one.sensitivity, two.sensitivity)
    pd.testing.assert_frame_equal(one.whatif, two.whatif)
    other = run(sources, settings.replace(uncertainty_seed=1)).extras["uncertainty"]
    assert not one.replicates["rank"].equals(other.replicates["rank"])


def test_nominal_choices_reproduce_the_run(tmp_path: Path) -> None:
    # With every range collapsed to the run's value, each method replicate is the run.
    sources = _world(
        tmp_path,
        [(50.0, 8.0, 40, 3.0), (50.0, 8.0 + _east(14.0), 90, 3.0), (48.0, 2.0, 60, 4.0)],
    )
    settings = Settings(
        eps_km=12.0,
        min_weight={"patents": 8.0},
        window_years=1,
        uncertainty=3,
        uncertainty_eps_km=(12.0, 12.0),
        uncertainty_density=(1.0, 1.0),
        uncertainty_rounding_factors=(1,),
        uncertainty_window_years=(1,),
    )
    result = run(sources, settings)
    u = result.extras["uncertainty"].clusters
    assert (u["method_rank_p5"] == u["rank"]).all()
    assert (u["method_rank_p95"] == u["rank"]).all()
    assert (u["method_p_exists"] == 1.0).all()


def test_far_ahead_is_certain_and_equals_overlap(tmp_path: Path) -> None:
    # One giant cluster; two clusters of the same expected size far from each other.
    sources = _world(
        tmp_path,
        [(50.0, 8.0, 600, 2.0), (45.0, 10.0, 80, 2.0), (40.0, -3.0, 80, 2.0)],
    )
    settings = Settings(eps_km=10.0, min_weight={"patents": 10.0}, uncertainty=40)
    result = run(sources, settings)
    u = result.extras["uncertainty"].clusters.merge(result.clusters[["cluster_id", "lat", "lon"]])
    giant = _row(u, 50.0, 8.0)
    assert giant["data_rank_p5"] == giant["data_rank_p95"] == 1
    assert giant["data_rank_lo"] == giant["data_rank_hi"] == 1
    assert giant["rank_lo"] == giant["rank_hi"] == 1
    assert giant["data_p_top10"] == 1.0
    c = _row(u, 45.0, 10.0)
    d = _row(u, 40.0, -3.0)
    assert c["data_rank_p5"] == d["data_rank_p5"] == 2
    assert c["data_rank_p95"] == d["data_rank_p95"] == 3
    # The 90 % data interval is for a fresh draw's rank: wider than the replicates' spread
    # around the run's rank (the run's own data are one draw too), and still overlapping.
    for row in (c, d):
        assert row["data_rank_lo"] <= row["data_rank_p5"] and row["data_rank_hi"] >= 3
        assert row["data_rank_hi"] - row["data_rank_lo"] > 1
    assert c["data_rank_lo"] <= d["data_rank_hi"] and d["data_rank_lo"] <= c["data_rank_hi"]
    _check_prediction_intervals(result.extras["uncertainty"])


def _check_prediction_intervals(found: Uncertainty) -> None:
    """data_rank_lo/hi and rank_lo/hi against every pair of replicates, counted by hand.

    A fresh draw's rank is the run's rank plus one replicate's deviation minus another
    data replicate's (where the cluster exists): the 5th and 95th percentile of those
    values over all pairs (not a replicate with itself), at least 1.
    """
    reps = found.replicates
    table = found.clusters
    for row in table.itertuples(index=False):
        mine = reps[reps["cluster_id"] == row.cluster_id]
        data = mine[mine["source"] == "data"]["rank"].to_numpy()
        both = mine[mine["source"] == "both"]["rank"].to_numpy()
        for fresh, lo, hi, same in (
            (data, row.data_rank_lo, row.data_rank_hi, True),
            (both, row.rank_lo, row.rank_hi, False),
        ):
            values = [
                10**9 if a == 0 else row.rank + a - b
                for i, a in enumerate(fresh)
                for j, b in enumerate(data)
                if b > 0 and not (same and i == j)
            ]
            p5, p95 = (np.percentile(values, q, method="inverted_cdf") for q in (5, 95))
            assert lo == max(1, p5)
            assert (hi == p95) if p95 < 10**9 else pd.isna(hi)


def test_outputs_columns_and_files(tmp_path: Path) -> None:
    sources = _world(tmp_path, [(50.0, 8.0, 60, 2.0), (48.0, 2.0, 40, 2.0)])
    result = run(sources, Settings(eps_km=10.0, min_weight=SMALL, uncertainty=3))
    out = tmp_path / "out"
    write_outputs(result, out)
    clusters = pd.read_csv(out / "clusters.csv")
    cols = list(clusters.columns)
    assert cols[: len(CLUSTER_COLUMNS)] == list(CLUSTER_COLUMNS)
    assert cols[-3:] == ["rank_lo", "rank_hi", "p_top"]
    table = pd.read_csv(out / "uncertainty.csv")
    for source in SOURCES:
        for stat in ("median_rank", "rank_p5", "rank_p95", "p_top10", "p_top", "p_exists"):
            assert f"{source}_{stat}" in table.columns
        assert f"{source}_split_rate" in table.columns
        assert f"{source}_merge_rate" in table.columns
    assert list(table["rank"]) == list(clusters["rank"])
    sens = pd.read_csv(out / "sensitivity.csv")
    assert set(sens["choice"]) == {
        "eps_km",
        "density.patents",
        "method",
        "rounding",
        "window_years",
    }
    whatif = pd.read_csv(out / "whatif.csv")
    assert set(whatif["eps_km"]) == {10.0, 13.0, 16.0}  # the bounds, the run's, midpoints
    assert set(whatif["density"].round(4)) == {0.67, 0.8185, 1.0, 1.2247, 1.5}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["uncertainty"]["replicates_per_source"] == 3


def test_settings_ranges_are_checked() -> None:
    with pytest.raises(SettingsError, match="uncertainty_eps_km"):
        Settings(uncertainty_eps_km=(16.0, 10.0))
    with pytest.raises(SettingsError, match="uncertainty_rounding_factors"):
        Settings(uncertainty_rounding_factors=(0,))
    with pytest.raises(SettingsError, match="'uncertainty'"):
        Settings(uncertainty=-1)


def test_toml_and_library(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text("uncertainty = 2\nuncertainty_eps_km = [11, 12]\n", encoding="utf-8")
    settings = load_settings(toml, eps_km=10.0, min_weight=SMALL)
    assert settings.uncertainty == 2 and settings.uncertainty_eps_km == (11, 12)
    sources = _world(tmp_path, [(50.0, 8.0, 60, 2.0), (48.0, 2.0, 40, 2.0)])
    result = run(sources, settings.replace(uncertainty=0))
    assert "uncertainty" not in result.extras
    found = uncertainty(sources, result, replicates=2, whatif=False)
    assert len(found.clusters) == len(result.clusters)
    assert found.sensitivity.empty and found.whatif.empty
    assert len(found.replicates) == 2 * len(SOURCES) * len(result.clusters)
    # Records read without their doc ids (as a run without uncertainty reads them) cannot
    # be resampled: a clear error, not NULL documents.
    lean = read_records(sources, keep=())
    with pytest.raises(SettingsError, match=r"rank uncertainty .* doc_id, which were not kept"):
        estimate(lean, result, windows=edition_windows(lean, result.settings), replicates=2)


def test_default_is_on_and_zero_turns_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UNCERTAINTY_ENV, raising=False)
    assert Settings().uncertainty == DEFAULT_UNCERTAINTY == 100
    assert load_settings(None, uncertainty=None).uncertainty == DEFAULT_UNCERTAINTY
    assert Settings(uncertainty=0).uncertainty == 0
    toml = tmp_path / "s.toml"
    toml.write_text("uncertainty = 0\n", encoding="utf-8")
    assert load_settings(toml).uncertainty == 0
    # The Spark engine cannot rerun the records: none unless asked for.
    assert Settings(engine="spark").uncertainty == 0
    monkeypatch.setenv(UNCERTAINTY_ENV, "7")
    assert Settings().uncertainty == 7 and Settings(uncertainty=3).uncertainty == 3
    monkeypatch.setenv(UNCERTAINTY_ENV, "seven")
    with pytest.raises(SettingsError, match=f"environment variable {UNCERTAINTY_ENV} must"):
        Settings()


def test_cli_option_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default (here 2 replicates, through the environment the child process inherits)
    # applies when the command line does not say; --uncertainty 0 turns it off.
    monkeypatch.setenv(UNCERTAINTY_ENV, "2")
    sources = _world(tmp_path, [(50.0, 8.0, 60, 2.0), (48.0, 2.0, 40, 2.0)])
    out = tmp_path / "out"
    done = cli("run", "--patents", str(sources["patents"][0]), "--eps-km", "10", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Rank uncertainty runs" in done.stderr  # the progress bar (replicates and grid)
    assert (out / "uncertainty.csv").is_file()
    assert json.loads((out / "manifest.json").read_text())["settings"]["uncertainty"] == 2
    # The manifest names inputs without absolute paths, so `uncertainty` reruns from the
    # folder the run was made in (here the one holding the input).
    plain = tmp_path / "plain"
    here = sources["patents"][0].parent
    done = cli(
        "run", "--patents", sources["patents"][0].name, "--uncertainty", "0", "--out", str(plain),
        "-q", cwd=here,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not (plain / "uncertainty.csv").exists()
    done = cli("uncertainty", str(plain), "--replicates", "2", "-q", cwd=here)
    assert done.returncode == 0, done.stderr
    assert list(pd.read_csv(plain / "clusters.csv").columns)[-3:] == ["rank_lo", "rank_hi", "p_top"]
    # Asked again for what the run already has: nothing is redone.
    before = (plain / "uncertainty.csv").stat().st_mtime_ns
    done = cli("uncertainty", str(plain), "--replicates", "2", cwd=here)
    assert done.returncode == 0, done.stderr
    assert "already has rank uncertainty from 2 replicates per source" in done.stderr
    assert (plain / "uncertainty.csv").stat().st_mtime_ns == before
    done = cli("uncertainty", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.startswith("Error: ") and "manifest.json" in done.stderr


def test_rerun_finds_a_demo_folders_inputs_in_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo keeps its inputs in OUT/data; `innoclusters uncertainty OUT` (the command the
    # demo suggests) runs from anywhere, and the rewritten manifest keeps the demo's entry.
    sources = _world(tmp_path, [(50.0, 8.0, 60, 2.0), (48.0, 2.0, 40, 2.0)])
    settings = Settings(eps_km=10.0, min_weight=SMALL, uncertainty=0, uncertainty_grid=3)
    result = run(sources, settings)
    result.manifest["demo"] = {"data": "data", "seed": 7}
    out = tmp_path / "demo-output"
    write_outputs(result, out)
    (out / "data").mkdir()
    shutil.copy(sources["patents"][0], out / "data")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = rerun_with_uncertainty(out, replicates=1)
    assert again.manifest["demo"] == {"data": "data", "seed": 7}
    assert again.extras["uncertainty"].settings["replicates_per_source"] == 1
    assert again.clusters["cluster_id"].tolist() == result.clusters["cluster_id"].tolist()
