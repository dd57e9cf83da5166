"""Calibration of the data intervals: do 90 % intervals cover 90 % of fresh draws?

Run by hand (the figures go in the README)::

    .venv/bin/python -m benchmarks.calibrate_uncertainty --scale 0.02 --draws 20 --replicates 100

The demo generator is a known process: its structure (cities, their propensities) is fixed
and its seed only drives the sampling of documents. So a world drawn with seed ``s`` and
worlds drawn with other seeds are independent draws of the same process.

1. Draw the world with ``--seed``, run it and compute its data-bootstrap intervals
   (``kinds=("data",)``, method fixed at the defaults).
2. Draw ``--draws`` fresh worlds with other seeds and run each; take each cluster's rank in
   the fresh world, matched by area membership (see :func:`_fresh_ranks`; 0 when it merged
   into a larger cluster or vanished).
3. Coverage: the share of (cluster, fresh world) pairs, over the first run's top ``N``,
   whose fresh rank lies in the interval (a cluster absent from a fresh world is covered
   when its interval ends in "not a cluster"), for two intervals: the 90 % data interval
   (``data_rank_lo``-``data_rank_hi``, a prediction interval for a fresh draw's rank) and,
   for comparison, the 5th-95th percentile of the replicates' ranks.

The percentile interval is centred on the observed world while fresh draws scatter around
the expected one: when the observed rank is itself one draw, the difference of two draws has
twice the variance of one, so for a normal rank a percentile interval that gets the spread
right covers a fresh draw about 75 % of the time, and the *expected* rank (approximated by
the median over fresh draws) about 90 % of the time. The prediction interval adds the
observed world's own deviation (docs/uncertainty.md) and is meant to cover a fresh draw
90 % of the time. Both coverages of both intervals are printed, with the ratio of the
rank's spread over fresh draws to that over data replicates.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._uncertainty import demo_files, records_and_windows, run_settings
from innoclusters.areas import nearest_members
from innoclusters.matching import match_parts
from innoclusters.pipeline import run
from innoclusters.result import RunResult
from innoclusters.uncertainty import estimate


def _placed(run: RunResult, locations: pd.DataFrame) -> np.ndarray:
    """The area of ``run`` each of ``locations`` falls in (``None`` outside every area).

    The run's own membership rule for a location that is no member of its clusters: the
    area of the nearest member location within ``eps_km / 2``, i.e. inside the footprint.
    """
    loc = run.locations
    members = loc[(loc["metric_cluster"] >= 0) & loc["cluster_id"].notna()]
    area = np.full(len(locations), None, dtype=object)
    nearest = nearest_members(
        members["lat"].to_numpy(),
        members["lon"].to_numpy(),
        locations["lat"].to_numpy(),
        locations["lon"].to_numpy(),
        max_km=run.settings.eps_km / 2,
    )
    hit = nearest >= 0
    area[hit] = members["cluster_id"].to_numpy()[nearest[hit]]
    return area


def _parts(own: pd.DataFrame, other_area: np.ndarray, key: str, other: str) -> pd.DataFrame:
    """Part of each cluster's activity (``own`` locations in areas) in each area of the other."""
    frame = pd.DataFrame(
        {key: own["cluster_id"].to_numpy(), other: other_area, "a": own["activity"].to_numpy()}
    )
    total = frame.groupby(key)["a"].sum()
    by = frame.dropna(subset=[other]).groupby([key, other])["a"].sum().reset_index()
    by["part"] = by["a"] / by[key].map(total).to_numpy(dtype=float)
    return by[[key, other, "part"]]


def _fresh_ranks(nominal: RunResult, fresh: RunResult) -> pd.Series:
    """Rank in ``fresh`` of each nominal cluster, matched by area membership (0: none).

    Independent draws of the demo world scatter documents afresh around the city centres,
    so two draws share only a small part of their rounded locations (about 10 % of London's
    activity at scale 0.005): clusters are matched through their *areas* instead. Each
    run's locations are placed in the other run's areas by that run's membership rule (the
    nearest member location within ``eps_km / 2``, as :func:`compare`'s growth does), and
    the shared-activity rule (:func:`innoclusters.matching.match_parts`, the rule that
    matches replicates) is applied to the parts of activity so placed. A nominal cluster's
    fresh rank is, as for a replicate, the best rank of the fresh clusters it continues
    as; 0 when it merged into a larger cluster or vanished.
    """
    nom = nominal.locations[nominal.locations["cluster_id"].notna()]
    cur = fresh.locations[fresh.locations["cluster_id"].notna()]
    up = _parts(cur, _placed(nominal, cur), "cluster_id", "previous_cluster_id")
    down = _parts(nom, _placed(fresh, nom), "previous_cluster_id", "cluster_id")
    cur_rank = {
        str(c): int(r)
        for c, r in zip(fresh.clusters["cluster_id"], fresh.clusters["rank"], strict=True)
    }
    nom_rank = {
        str(c): int(r)
        for c, r in zip(nominal.clusters["cluster_id"], nominal.clusters["rank"], strict=True)
    }
    _, previous = match_parts(
        up,
        down,
        current_ids=list(cur_rank),
        previous_ids=list(nom_rank),
        current_rank=cur_rank,
        previous_rank=nom_rank,
    )
    best = {
        str(p): min(cur_rank[c] for c in kids.split(";")) if kids else 0
        for p, kids in zip(previous["previous_cluster_id"], previous["continued_by"], strict=True)
    }
    return pd.Series(
        [best.get(str(c), 0) for c in nominal.clusters["cluster_id"]],
        index=nominal.clusters["cluster_id"],
    )


def _sd(ranks: np.ndarray) -> float:
    """Standard deviation of the ranks where the cluster exists (NaN with fewer than 2)."""
    present = ranks[ranks > 0].astype(float)
    return float(np.std(present, ddof=1)) if len(present) >= 2 else float("nan")


def _covered(rank: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    absent = rank == 0
    open_end = np.isnan(hi)
    inside = (rank >= lo) & ((rank <= hi) | open_end)
    return np.where(absent, open_end, inside & ~absent)


def main(argv: list[str] | None = None) -> None:
    """Draw the worlds, compute intervals and coverage, print them and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="calibrate-uncertainty-"))
    settings = run_settings(top=args.top)
    start = time.perf_counter()

    files = demo_files(out / f"seed{args.seed}", scale=args.scale, seed=args.seed)
    nominal = run(files, settings, synthetic=True)
    records, windows = records_and_windows(files, settings)
    found = estimate(
        records,
        nominal,
        windows=windows,
        replicates=args.replicates,
        whatif=False,
        kinds=("data",),
    )
    table = found.clusters.head(args.top)
    intervals = {
        # The 90 % data interval: a prediction interval for a fresh draw's rank.
        "prediction": (
            table["data_rank_lo"].to_numpy(dtype=float),
            table["data_rank_hi"].to_numpy(dtype=float),
        ),
        # The 5th-95th percentiles of the replicates' ranks, for comparison.
        "percentile": (
            table["data_rank_p5"].to_numpy(dtype=float),
            table["data_rank_p95"].to_numpy(dtype=float),
        ),
    }

    fresh_ranks = []
    for k in range(1, args.draws + 1):
        folder = out / f"seed{args.seed + k}"
        fresh = run(
            demo_files(folder, scale=args.scale, seed=args.seed + k), settings, synthetic=True
        )
        fresh_ranks.append(_fresh_ranks(nominal, fresh).head(args.top).to_numpy())
        shutil.rmtree(folder)
    ranks = np.vstack(fresh_ranks)  # draws x clusters
    expected = np.array([np.median(np.where(col > 0, col, 10**9)) for col in ranks.T], dtype=float)
    expected = np.where(expected >= 10**9, 0, expected)
    # Spread: standard deviation of the rank over data replicates and over fresh draws
    # (where the cluster exists); their ratio says whether the bootstrap sees all the noise.
    reps = found.replicates
    boot = (
        reps[reps["source"] == "data"]
        .pivot(index="replicate", columns="cluster_id", values="rank")[table["cluster_id"]]
        .to_numpy()
    )
    sd_boot = np.array([_sd(col) for col in boot.T])
    sd_fresh = np.array([_sd(col) for col in ranks.T])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sd_fresh / sd_boot
    ratio = ratio[np.isfinite(ratio) & (sd_boot > 0)]
    n = len(table)
    bands = {"1-10": slice(0, 10), "11-50": slice(10, 50), f"51-{args.top}": slice(50, args.top)}
    # Near-equal pairs: neighbours in expected rank; their intervals should overlap.
    order = np.argsort(np.where(expected > 0, expected, np.inf))
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(order)
        if expected[a] > 0 and expected[b] > 0 and abs(expected[a] - expected[b]) <= 1
    ]
    report: dict[str, object] = {
        "scale": args.scale,
        "seed": args.seed,
        "draws": args.draws,
        "replicates": args.replicates,
        "top": args.top,
        "clusters": n,
        "median_sd_ratio_fresh_to_bootstrap": round(float(np.median(ratio)), 2)
        if len(ratio)
        else None,
        "rank1_fresh_ranks": sorted({int(v) for v in ranks[:, 0]}),
        "adjacent_expected_pairs": len(pairs),
    }
    for kind, (lo, hi) in intervals.items():
        covered = np.vstack([_covered(r, lo, hi) for r in ranks])
        overlaps = [bool(lo[a] <= hi[b] and lo[b] <= hi[a]) for a, b in pairs]
        report[kind] = {
            "coverage_fresh_draws": round(float(covered.mean()), 3),
            "coverage_expected_rank": round(float(_covered(expected, lo, hi).mean()), 3),
            "coverage_by_band": {
                b: round(float(covered[:, s].mean()), 3) for b, s in bands.items() if s.start < n
            },
            "median_width": float(np.nanmedian(hi - lo)),
            "rank1_interval": [float(lo[0]), float(hi[0])],
            "adjacent_pairs_overlapping": round(float(np.mean(overlaps)), 3) if overlaps else None,
        }
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(
        f"scale {args.scale:g}, {args.draws} fresh draws, {args.replicates} data replicates, "
        f"top {args.top}"
    )
    for kind in intervals:
        r = report[kind]
        assert isinstance(r, dict)
        print(f"  {kind} interval (data_rank_{'lo/hi' if kind == 'prediction' else 'p5/p95'}):")
        print(f"    covers a fresh draw's rank                 {r['coverage_fresh_draws']:.1%}")
        print(f"    covers the expected rank (median of draws) {r['coverage_expected_rank']:.1%}")
        for b, v in r["coverage_by_band"].items():
            print(f"    covers fresh draws, ranks {b:>7}         {v:.1%}")
        print(
            f"    median width {r['median_width']:.0f}; rank 1 interval {r['rank1_interval']}; "
            f"adjacent pairs overlapping {r['adjacent_pairs_overlapping']}"
        )
    print(
        f"  rank 1 in the fresh draws: {report['rank1_fresh_ranks']}; spread of the rank, "
        f"fresh draws / data replicates (median over clusters) "
        f"{report['median_sd_ratio_fresh_to_bootstrap']}; "
        f"{report['adjacent_expected_pairs']} pairs adjacent in expected rank"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
