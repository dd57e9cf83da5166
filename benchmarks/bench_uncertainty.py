"""Benchmark: rank uncertainty replicates and the what-if grid on the demo world.

Run by hand (the figures go in the README)::

    .venv/bin/python -m benchmarks.bench_uncertainty --scale 0.02 --replicates 100

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
the ratios less than the absolute figures. Each phase reports wall and process CPU seconds
(all threads) and the load average around it: on a machine shared with other jobs the CPU
seconds, divided by the cores, bound what the phase takes on the idle machine.

``--no-both`` and ``--no-grid`` skip those phases (for large scales); ``--data`` reuses a
world already generated (``--scale`` must then be the world's)::

    flock /tmp/innoclusters-heavy.lock .venv/bin/python -m benchmarks.bench_uncertainty \
        --scale 1 --data /tmp/innoclusters-world-1-0 --replicates 10 --no-both --no-grid
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._uncertainty import demo_files, records_and_windows, run_settings
from innoclusters.pipeline import cluster_locations, run
from innoclusters.uncertainty import estimate


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the measurements, print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a folder already holding the demo world's patents/publications/vc.parquet "
        "(e.g. /tmp/innoclusters-world-1-0 from benchmarks/bench_world.py); default OUT/data",
    )
    parser.add_argument("--no-both", dest="both", action="store_false")
    parser.add_argument("--no-grid", dest="grid", action="store_false")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-uncertainty-"))
    files = demo_files(args.data or out / "data", scale=args.scale, seed=args.seed)
    settings = run_settings()

    phases: dict[str, dict[str, float]] = {}

    def timed(name: str, call: Callable[[], Any]) -> Any:
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        out = call()
        phases[name] = {
            "wall_s": round(time.perf_counter() - wall, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "load_before": round(load, 1),
            "load_after": round(os.getloadavg()[0], 1),
        }
        return out

    result = timed("pipeline", lambda: run(files, settings, synthetic=True))
    records, windows = records_and_windows(files, settings)
    metrics = result.metrics
    totals = result.totals
    source = result.locations[["metric", "lat", "lon", "weight", "records", "country", "city"]]
    timed(
        "cluster_stage",
        lambda: cluster_locations(source, settings=settings, totals=totals, metrics=metrics),
    )
    n = args.replicates
    two = timed(
        "replicates",
        lambda: estimate(
            records, result, windows=windows, replicates=n, whatif=False, kinds=("data", "method")
        ),
    )
    if args.both:
        timed(
            "both",
            lambda: estimate(
                records, result, windows=windows, replicates=n, whatif=False, kinds=("both",)
            ),
        )
    grid = None
    if args.grid:
        grid = timed(
            "whatif_grid",
            lambda: estimate(records, result, windows=windows, replicates=0, whatif=True, kinds=()),
        )

    per_rep = phases["replicates"]["wall_s"] / (2 * n)
    per_rep_cpu = phases["replicates"]["cpu_s"] / (2 * n)
    report: dict[str, Any] = {
        "scale": args.scale,
        "seed": args.seed,
        "locations": len(result.locations),
        "clusters": len(result.clusters),
        "cpus": os.cpu_count(),
        "replicates": 2 * n,
        "per_replicate_s": round(per_rep, 3),
        "per_replicate_cpu_s": round(per_rep_cpu, 3),
        "ratio_pipeline_per_replicate": round(phases["pipeline"]["wall_s"] / per_rep, 1),
        "ratio_cluster_stage_per_replicate": round(phases["cluster_stage"]["wall_s"] / per_rep, 1),
        "ratio_pipeline_per_replicate_cpu": round(phases["pipeline"]["cpu_s"] / per_rep_cpu, 1),
        "top10_uncertain": int(two.clusters.head(10)["top_uncertain"].sum()),
        "phases": phases,
    }
    if grid is not None:
        report["whatif_runs"] = grid.settings["whatif_runs"]
        report["sensitivity_runs"] = grid.settings["sensitivity_runs"]
    cores = os.cpu_count() or 1
    print(
        f"scale {args.scale:g}: {report['locations']:,} locations, {report['clusters']} "
        f"clusters, {cores} CPUs"
    )
    labels = {
        "pipeline": "pipeline (baseline)",
        "cluster_stage": "cluster stage (baseline)",
        "replicates": f"{2 * n} replicates (data+method)",
        "both": f"{n} replicates (both)",
        "whatif_grid": "what-if grid and sensitivity",
    }
    for name, p in phases.items():
        print(
            f"  {labels[name]:<32} {p['wall_s']:8.1f} s wall {p['cpu_s']:8.1f} s CPU "
            f"(CPU / cores {p['cpu_s'] / cores:6.1f} s), load {p['load_before']:.1f}"
            f"-{p['load_after']:.1f}"
        )
    print(
        f"  per replicate {per_rep:.3f} s wall, {per_rep_cpu:.3f} s CPU; pipeline / replicate "
        f"{report['ratio_pipeline_per_replicate']:.1f}x wall, "
        f"{report['ratio_pipeline_per_replicate_cpu']:.1f}x CPU"
    )
    if grid is not None:
        print(
            f"  what-if grid: {report['whatif_runs']} runs, sensitivity "
            f"{report['sensitivity_runs']} runs (shared ones run once)"
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
