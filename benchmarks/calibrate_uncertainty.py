"""Calibration of the data intervals: do 90 % intervals cover 90 % of fresh draws?

Run by hand (the figures go in the README)::

    .venv/bin/python benchmarks/calibrate_uncertainty.py --scale 0.02 --draws 10 --replicates 100

The demo generator is a known process: its structure (cities, their propensities) is fixed
and its seed only drives the sampling of documents. So a world drawn with seed ``s`` and
worlds drawn with other seeds are independent draws of the same process.

1. Draw the world with ``--seed``, run it and compute its data-bootstrap intervals
   (``kinds=("data",)``, method fixed at the defaults).
2. Draw ``--draws`` fresh worlds with other seeds and run each; take each cluster's rank in
   the fresh world, matched by name (see :func:`_fresh_ranks` for why not by shared
   activity; 0 when no cluster has the name).
3. Coverage: the share of (cluster, fresh world) pairs, over the first run's top ``N``,
   whose fresh rank lies in the 5th-95th percentile interval (a cluster absent from a fresh
   world is covered when its interval ends in "not a cluster").

A bootstrap interval is centred on the observed world, a fresh draw scatters around the
expected one: when the observed rank is itself one draw, the difference of two draws has
twice the variance of one, so for a normal rank a 90 % interval covers a fresh draw about
75 % of the time, and covers the *expected* rank (approximated by the median over fresh
draws) about 90 % of the time. Both coverages are printed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from innoclusters.config import Settings
from innoclusters.demo import generate_world
from innoclusters.locations import edition_windows
from innoclusters.pipeline import run
from innoclusters.records import read_records
from innoclusters.result import RunResult
from innoclusters.uncertainty import estimate


def _files(folder: Path) -> dict[str, list[Path]]:
    return {m: [folder / f"{m}.parquet"] for m in ("patents", "publications", "vc")}


def _fresh_ranks(nominal: RunResult, fresh: RunResult) -> pd.Series:
    """Rank in ``fresh`` of each nominal cluster, matched by name (0 when no cluster has it).

    Independent draws of the demo world scatter documents afresh around the city centres,
    so two draws share only a small part of their rounded locations (about 10 % of London's
    activity at scale 0.005), below the shared-activity rule's quarter: the rule that
    matches replicates (same locations, other weights) cannot match independent draws.
    Names come from the gazetteer's main places and are stable for all but a few clusters;
    a cluster whose name changes counts as not covered, so the coverage is a lower bound.
    """
    rank_of = dict(zip(fresh.clusters["name"], fresh.clusters["rank"], strict=True))
    return pd.Series(
        [int(rank_of.get(n, 0)) for n in nominal.clusters["name"]],
        index=nominal.clusters["cluster_id"],
    )


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
    settings = Settings(top=args.top)
    start = time.perf_counter()

    first = out / f"seed{args.seed}"
    generate_world(first, scale=args.scale, seed=args.seed)
    nominal = run(_files(first), settings, synthetic=True)
    records = read_records(_files(first))
    found = estimate(
        records,
        nominal,
        windows=edition_windows(records, settings),
        replicates=args.replicates,
        whatif=False,
        kinds=("data",),
    )
    table = found.clusters.head(args.top)
    lo = table["data_rank_p5"].to_numpy(dtype=float)
    hi = table["data_rank_p95"].to_numpy(dtype=float)

    fresh_ranks = []
    for k in range(1, args.draws + 1):
        folder = out / f"seed{args.seed + k}"
        generate_world(folder, scale=args.scale, seed=args.seed + k)
        fresh = run(_files(folder), settings, synthetic=True)
        fresh_ranks.append(_fresh_ranks(nominal, fresh).head(args.top).to_numpy())
    ranks = np.vstack(fresh_ranks)  # draws x clusters
    covered = np.vstack([_covered(r, lo, hi) for r in ranks])
    expected = np.array([np.median(np.where(col > 0, col, 10**9)) for col in ranks.T], dtype=float)
    expected = np.where(expected >= 10**9, 0, expected)
    covered_expected = _covered(expected, lo, hi)
    width = hi - lo
    bands = {"1-10": slice(0, 10), "11-50": slice(10, 50), f"51-{args.top}": slice(50, args.top)}
    report = {
        "scale": args.scale,
        "seed": args.seed,
        "draws": args.draws,
        "replicates": args.replicates,
        "top": args.top,
        "coverage_fresh_draws": round(float(covered.mean()), 3),
        "coverage_expected_rank": round(float(covered_expected.mean()), 3),
        "coverage_by_band": {
            b: round(float(covered[:, s].mean()), 3) for b, s in bands.items() if s.start < len(lo)
        },
        "median_width": float(np.nanmedian(width)),
        "rank1_interval": [float(lo[0]), float(hi[0])],
        "rank1_fresh_ranks": sorted({int(v) for v in ranks[:, 0]}),
        "seconds": round(time.perf_counter() - start, 1),
    }
    # Near-equal pairs: neighbours in expected rank; their intervals should overlap.
    order = np.argsort(np.where(expected > 0, expected, np.inf))
    overlaps = []
    for a, b in itertools.pairwise(order):
        if expected[a] > 0 and expected[b] > 0 and abs(expected[a] - expected[b]) <= 1:
            overlaps.append(bool(lo[a] <= hi[b] and lo[b] <= hi[a]))
    report["adjacent_expected_pairs"] = len(overlaps)
    report["adjacent_pairs_overlapping"] = round(float(np.mean(overlaps)), 3) if overlaps else None
    print(
        f"scale {args.scale:g}, {args.draws} fresh draws, {args.replicates} data replicates, "
        f"top {args.top}"
    )
    print(f"  90 % data intervals cover a fresh draw's rank   {report['coverage_fresh_draws']:.1%}")
    print(
        f"  ... and the expected rank (median over draws)  {report['coverage_expected_rank']:.1%}"
    )
    for b, v in report["coverage_by_band"].items():
        print(f"  coverage of fresh draws, ranks {b:>7}         {v:.1%}")
    print(
        f"  rank 1: interval {report['rank1_interval']}, fresh ranks "
        f"{report['rank1_fresh_ranks']}; median interval width {report['median_width']:.0f}"
    )
    print(
        f"  clusters adjacent in expected rank: {report['adjacent_expected_pairs']} pairs, "
        f"{report['adjacent_pairs_overlapping']} with overlapping intervals"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
