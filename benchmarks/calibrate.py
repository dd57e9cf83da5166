"""Calibrate the default ``eps_km`` and per-metric ``min_share`` on the demo world.

For each demo world (several scales and seeds) the records are read and rounded once. For
every ``eps_km`` of the grid each metric is clustered once per ``min_share`` tried for it;
then every combination of per-metric shares is merged into areas and ranked. The places
stage (names, population, footprints) is skipped: it changes neither the clusters nor their
ranking. A good default gives

* well over 100 clusters, and about the same number at every scale and seed;
* the same top 20 at every scale and seed. Clusters of two worlds are matched by their
  centres (within ``eps_km``), since ``cluster_id`` follows the exact peak location.

Run by hand (about five minutes on two cores; the grid of docs/calibration.md)::

    .venv/bin/python benchmarks/calibrate.py --scales 0.01 0.02 0.05 0.2 --seeds 0 1 \\
        --eps 10 11 12 13 --shares 0.0008 0.0012 0.0015 --pub-shares 0.0005 \\
        --vc-shares 0.002 0.003

``--shares`` is the share of patents and of publications (and of VC deals unless
``--vc-shares`` is given); ``--pub-shares`` tries other shares for publications. It prints
one line per setting as it goes, then Markdown tables (the ones in docs/calibration.md);
``--csv`` also writes every figure.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from innoclusters.areas import area_centres, assign_areas
from innoclusters.config import METRICS, Settings
from innoclusters.demo import generate_world
from innoclusters.density import weighted_dbscan
from innoclusters.locations import build_locations, edition_windows
from innoclusters.ranking import rank_clusters
from innoclusters.records import read_records

World = tuple[float, int]


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


def _prepare(scale: float, seed: int, folder: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    files = generate_world(folder / f"s{scale}-{seed}", scale=scale, seed=seed)
    records = read_records(files)
    windows = edition_windows(records, Settings())
    locations, counts = build_locations(records, rounding=0.01, windows=windows)
    totals = {m: float(counts[m]["weight_in_window"]) for m in METRICS}
    locations = locations.reset_index(drop=True)
    return locations[["metric", "lat", "lon", "weight", "country", "city"]], totals


def _rank(
    locations: pd.DataFrame,
    labels: np.ndarray,
    core: np.ndarray,
    *,
    settings: Settings,
    totals: dict[str, float],
) -> pd.DataFrame:
    """Merge metric clusters into areas and rank them (the pipeline without places)."""
    clustered = locations.assign(metric_cluster=labels, core=core)
    located = assign_areas(clustered, settings=settings, totals=totals)
    centres = area_centres(located)
    return rank_clusters(
        located,
        totals=totals,
        metrics=METRICS,
        settings=settings,
        centres=centres,
        gazetteer=False,
    )


def main(argv: list[str] | None = None) -> None:
    """Run the grid and print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.01, 0.02, 0.05, 0.2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--eps", type=float, nargs="+", default=[10.0, 13.0, 16.0])
    parser.add_argument(
        "--shares",
        type=float,
        nargs="+",
        default=[0.0005, 0.0008, 0.001, 0.0015],
        help="min_share of patents (and of publications and VC unless given below)",
    )
    parser.add_argument("--pub-shares", type=float, nargs="+", default=None)
    parser.add_argument("--vc-shares", type=float, nargs="+", default=None)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument(
        "--pair-top", type=int, default=10, help="top N compared between every pair of worlds"
    )
    parser.add_argument(
        "--demo-scale", type=float, default=0.02, help="scale whose count (seed 0) is shown"
    )
    parser.add_argument("--csv", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args(argv)

    worlds: list[World] = [(s, k) for s in args.scales for k in args.seeds]
    ref_world: World = (max(args.scales), min(args.seeds))
    demo_world: World = (args.demo_scale, min(args.seeds))
    pub_shares = args.pub_shares
    vc_shares = args.vc_shares
    if pub_shares is None and vc_shares is None:
        triples = [(s, s, s) for s in args.shares]
    else:
        triples = list(
            itertools.product(
                args.shares,
                pub_shares if pub_shares is not None else [None],
                vc_shares if vc_shares is not None else [None],
            )
        )
        triples = [(p, p if q is None else q, p if v is None else v) for p, q, v in triples]
    shares_of = {m: sorted({t[i] for t in triples}) for i, m in enumerate(METRICS)}

    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        prepared = {}
        for scale, seed in worlds:
            t = time.perf_counter()
            prepared[scale, seed] = _prepare(scale, seed, Path(tmp))
            print(f"world scale {scale:g} seed {seed}: {time.perf_counter() - t:.1f} s", flush=True)
        index = {
            w: {m: np.flatnonzero(loc["metric"].to_numpy() == m) for m in METRICS}
            for w, (loc, _) in prepared.items()
        }
        for eps in args.eps:
            # Each metric clustered once per share: (world, metric, share) -> (labels, core).
            dbscan: dict[tuple[World, str, float], tuple[np.ndarray, np.ndarray]] = {}
            for w, (loc, totals) in prepared.items():
                for m in METRICS:
                    sub = loc.iloc[index[w][m]]
                    for share in shares_of[m]:
                        dbscan[w, m, share] = weighted_dbscan(
                            sub["lat"].to_numpy(dtype=float),
                            sub["lon"].to_numpy(dtype=float),
                            sub["weight"].to_numpy(dtype=float),
                            eps_km=eps,
                            min_weight=share * totals[m],
                        )
            for triple in triples:
                settings = Settings(eps_km=eps, min_share=dict(zip(METRICS, triple, strict=True)))
                ranked: dict[World, pd.DataFrame] = {}
                for w, (loc, totals) in prepared.items():
                    labels = np.full(len(loc), -1, dtype=np.int64)
                    core = np.zeros(len(loc), dtype=bool)
                    for m, share in zip(METRICS, triple, strict=True):
                        lab, cor = dbscan[w, m, share]
                        labels[index[w][m]] = lab
                        core[index[w][m]] = cor
                    ranked[w] = _rank(loc, labels, core, settings=settings, totals=totals)
                counts = {w: len(ranked[w]) for w in worlds}
                ref = ranked[ref_world]
                others = [w for w in worlds if w != ref_world]
                overlaps = [top_overlap(ranked[w], ref, top=args.top, km=eps) for w in others]
                overlaps100 = [top_overlap(ranked[w], ref, top=100, km=eps) for w in others]
                pairs = [
                    top_overlap(ranked[a], ranked[b], top=args.pair_top, km=eps)
                    for a in worlds
                    for b in worlds
                    if a != b
                ]
                row: dict[str, object] = {
                    "eps_km": eps,
                    "patents": triple[0],
                    "publications": triple[1],
                    "vc": triple[2],
                    "clusters_min": min(counts.values()),
                    "clusters_max": max(counts.values()),
                    "spread_pct": 100.0
                    * (max(counts.values()) - min(counts.values()))
                    / max(counts.values()),
                    "demo_clusters": counts.get(demo_world, -1),
                    "top_overlap_min": min(overlaps) if overlaps else math.nan,
                    "top_overlap_mean": float(np.mean(overlaps)) if overlaps else math.nan,
                    "top100_overlap_min": min(overlaps100) if overlaps100 else math.nan,
                    "pair_overlap_min": min(pairs) if pairs else math.nan,
                }
                row.update({f"n_{s:g}_{k}": n for (s, k), n in counts.items()})
                rows.append(row)
                print(
                    f"[{time.perf_counter() - started:.0f} s] "
                    + " ".join(
                        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in row.items()
                    ),
                    flush=True,
                )

    table = pd.DataFrame(rows)
    if args.csv is not None:
        table.to_csv(args.csv, index=False)
    scales = ", ".join(f"{s:g}" for s in args.scales)
    seeds = ", ".join(str(s) for s in args.seeds)
    print(f"\nWorlds: scales {scales} x seeds {seeds}; top-{args.top} overlap is against")
    print(f"scale {ref_world[0]:g} seed {ref_world[1]} (clusters matched by centre within eps).\n")
    print(
        f"| eps_km | min_share patents / publications / vc | clusters (min-max) | spread "
        f"| clusters at scale {args.demo_scale:g} | top-{args.top} overlap min / mean "
        f"| top-100 overlap min | top-{args.pair_top} pairwise min |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['eps_km']:g} | {r['patents']:g} / {r['publications']:g} / {r['vc']:g} "
            f"| {r['clusters_min']}-{r['clusters_max']} | {r['spread_pct']:.0f} % "
            f"| {r['demo_clusters']} | {r['top_overlap_min']} / {r['top_overlap_mean']:.1f} "
            f"| {r['top100_overlap_min']} | {r['pair_overlap_min']} |"
        )
    print("\nClusters per world (scale, seed):\n")
    print(
        "| eps_km | patents / publications / vc | "
        + " | ".join(f"{s:g}, {k}" for s, k in worlds)
        + " |"
    )
    print("| ---: | ---: | " + " | ".join("---:" for _ in worlds) + " |")
    for r in rows:
        cells = " | ".join(str(r[f"n_{s:g}_{k}"]) for s, k in worlds)
        setting = f"{r['eps_km']:g} | {r['patents']:g} / {r['publications']:g} / {r['vc']:g}"
        print(f"| {setting} | {cells} |")


if __name__ == "__main__":
    main()
