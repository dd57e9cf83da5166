"""Benchmark: rank uncertainty replicates and the what-if grid on the demo world.

Run by hand (the figures go in the README)::

    .venv/bin/python benchmarks/bench_uncertainty.py --scale 0.02 --replicates 100

Measures, on one demo world, in one process:

* ``pipeline``: the whole run (records, locations, clusters, places, profiles), the cost of a
  replicate if each replicate ran the pipeline again (the baseline);
* ``cluster stage``: :func:`innoclusters.cluster_locations` alone on the run's locations, the
  cost of a replicate that reused the locations but not the kernel-only path;
* ``replicates``: ``--replicates`` data-bootstrap replicates and as many method draws
  (:func:`innoclusters.uncertainty.estimate` with ``kinds=("data", "method")``), then as many
  replicates drawing both;
* ``what-if grid``: the what-if and one-at-a-time sensitivity runs alone.

Per-replicate time is compared with the baselines in the same run, so a busy machine skews
the ratios less than the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from innoclusters.config import Settings
from innoclusters.demo import generate_world
from innoclusters.locations import edition_windows
from innoclusters.pipeline import cluster_locations, run
from innoclusters.records import read_records
from innoclusters.uncertainty import estimate


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the measurements, print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-uncertainty-"))
    data = out / "data"
    if not (data / "patents.parquet").is_file():
        generate_world(data, scale=args.scale, seed=args.seed)
    files = {m: [data / f"{m}.parquet"] for m in ("patents", "publications", "vc")}
    settings = Settings()

    t = time.perf_counter()
    result = run(files, settings, synthetic=True)
    t_pipeline = time.perf_counter() - t
    records = read_records(files)
    windows = edition_windows(records, settings)
    metrics = result.metrics
    totals = result.totals
    source = result.locations[["metric", "lat", "lon", "weight", "records", "country", "city"]]
    t = time.perf_counter()
    cluster_locations(source, settings=settings, totals=totals, metrics=metrics)
    t_cluster = time.perf_counter() - t

    n = args.replicates
    t = time.perf_counter()
    two = estimate(
        records, result, windows=windows, replicates=n, whatif=False, kinds=("data", "method")
    )
    t_two = time.perf_counter() - t
    t = time.perf_counter()
    estimate(records, result, windows=windows, replicates=n, whatif=False, kinds=("both",))
    t_both = time.perf_counter() - t
    t = time.perf_counter()
    grid = estimate(records, result, windows=windows, replicates=0, whatif=True, kinds=())
    t_grid = time.perf_counter() - t

    per_rep = t_two / (2 * n)
    report = {
        "scale": args.scale,
        "seed": args.seed,
        "locations": len(result.locations),
        "clusters": len(result.clusters),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "pipeline_s": round(t_pipeline, 2),
        "cluster_stage_s": round(t_cluster, 2),
        "replicates": 2 * n,
        "replicates_s": round(t_two, 1),
        "per_replicate_s": round(per_rep, 3),
        "both_replicates": n,
        "both_s": round(t_both, 1),
        "whatif_runs": grid.settings["whatif_runs"],
        "sensitivity_runs": grid.settings["sensitivity_runs"],
        "whatif_s": round(t_grid, 1),
        "ratio_pipeline_per_replicate": round(t_pipeline / per_rep, 1),
        "ratio_cluster_stage_per_replicate": round(t_cluster / per_rep, 1),
        "top10_uncertain": int(two.clusters.head(10)["top_uncertain"].sum()),
    }
    print(
        f"scale {args.scale:g}: {report['locations']:,} locations, {report['clusters']} "
        f"clusters, {report['cpus']} CPUs, load {report['load_average'][0]:.1f}"
    )
    print(f"  pipeline (baseline)          {t_pipeline:8.1f} s")
    print(f"  cluster stage (baseline)     {t_cluster:8.1f} s")
    print(
        f"  {2 * n} replicates (data+method) {t_two:8.1f} s  {per_rep:.3f} s each; "
        f"pipeline / replicate {t_pipeline / per_rep:.1f}x, "
        f"cluster stage / replicate {t_cluster / per_rep:.1f}x"
    )
    print(f"  {n} replicates (both)         {t_both:8.1f} s")
    print(
        f"  what-if grid ({grid.settings['whatif_runs']} runs) and sensitivity "
        f"({grid.settings['sensitivity_runs']} runs, shared ones run once) {t_grid:8.1f} s"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
