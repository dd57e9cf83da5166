"""Calibrate the default ``eps_km`` and ``min_share`` on the demo world.

For each demo world (several scales and seeds) the records are read and rounded once; then
every ``(eps_km, min_share)`` of a grid clusters, merges and ranks them. A good default gives

* well over 100 clusters, and about the same number at every scale and seed;
* the same top 20 at every scale and seed. Clusters of two worlds are matched by their
  centres (within ``eps_km``), since ``cluster_id`` follows the exact peak location.

Run by hand (a few minutes on two cores)::

    .venv/bin/python benchmarks/calibrate.py --scales 0.01 0.02 0.04 --seeds 0 1

It prints a Markdown table (the one in docs/calibration.md).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from innoclusters.config import METRICS, Settings
from innoclusters.demo import generate_world
from innoclusters.locations import build_locations, edition_windows
from innoclusters.pipeline import cluster_locations
from innoclusters.records import read_records


def _centres_km(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Great-circle distances (km) between the centres of clusters ``a`` and ``b``."""
    la1, lo1 = np.radians(a["lat"].to_numpy(float)), np.radians(a["lon"].to_numpy(float))
    la2, lo2 = np.radians(b["lat"].to_numpy(float)), np.radians(b["lon"].to_numpy(float))
    dlat = la1[:, None] - la2[None, :]
    dlon = lo1[:, None] - lo2[None, :]
    h = np.sin(dlat / 2) ** 2 + np.cos(la1)[:, None] * np.cos(la2)[None, :] * np.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def top_overlap(a: pd.DataFrame, b: pd.DataFrame, *, top: int, km: float) -> int:
    """How many of ``a``'s top clusters have a top cluster of ``b`` within ``km``."""
    d = _centres_km(a.head(top), b.head(top))
    return int((d.min(axis=1) <= km).sum()) if d.size else 0


def _prepare(scale: float, seed: int, folder: Path) -> tuple:
    files = generate_world(folder / f"s{scale}-{seed}", scale=scale, seed=seed)
    records = read_records(files)
    windows = edition_windows(records, Settings())
    locations, counts = build_locations(records, rounding=0.01, windows=windows)
    totals = {m: float(counts[m]["weight_in_window"]) for m in METRICS}
    return locations, totals


def main(argv: list[str] | None = None) -> None:
    """Run the grid and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.01, 0.02, 0.04])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--eps", type=float, nargs="+", default=[10.0, 13.0, 16.0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0003, 0.0005, 0.0008])
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    worlds = [(s, k) for s in args.scales for k in args.seeds]
    ref_world = (max(args.scales), min(args.seeds))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        prepared = {}
        for scale, seed in worlds:
            t = time.perf_counter()
            prepared[scale, seed] = _prepare(scale, seed, Path(tmp))
            print(f"world scale {scale:g} seed {seed}: {time.perf_counter() - t:.1f} s", flush=True)
        for eps in args.eps:
            for share in args.shares:
                settings = Settings(eps_km=eps, min_share=dict.fromkeys(METRICS, share))
                ranked = {}
                for key, (locations, totals) in prepared.items():
                    _, clusters, _ = cluster_locations(
                        locations, settings=settings, totals=totals, metrics=METRICS
                    )
                    ranked[key] = pd.DataFrame(clusters.drop(columns="geometry"))
                counts = [len(ranked[w]) for w in worlds]
                ref = ranked[ref_world]
                overlaps = [
                    top_overlap(ranked[w], ref, top=args.top, km=eps)
                    for w in worlds
                    if w != ref_world
                ]
                rows.append(
                    {
                        "eps_km": eps,
                        "min_share": share,
                        "clusters_min": min(counts),
                        "clusters_max": max(counts),
                        "clusters_spread_pct": 100.0 * (max(counts) - min(counts)) / max(counts),
                        "top_overlap_min": min(overlaps) if overlaps else math.nan,
                        "top_overlap_mean": float(np.mean(overlaps)) if overlaps else math.nan,
                    }
                )
                print(rows[-1], flush=True)

    scales = ", ".join(f"{s:g}" for s in args.scales)
    seeds = ", ".join(str(s) for s in args.seeds)
    print(f"\nWorlds: scales {scales} x seeds {seeds}; top-{args.top} overlap is against")
    print(f"scale {ref_world[0]:g} seed {ref_world[1]} (clusters matched by centre within eps).\n")
    print("| eps_km | min_share | clusters (min-max) | spread | top-20 overlap min / mean |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['eps_km']:g} | {r['min_share']:g} | {r['clusters_min']}-{r['clusters_max']} "
            f"| {r['clusters_spread_pct']:.0f} % | {r['top_overlap_min']} / "
            f"{r['top_overlap_mean']:.1f} |"
        )


if __name__ == "__main__":
    main()
