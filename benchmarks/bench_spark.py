"""Benchmark: Spark engine throughput against the DuckDB engine, on the same demo world.

Run by hand (under the heavy lock for scales >= 0.5)::

    .venv/bin/python -m benchmarks.bench_spark --scale 0.1 --cores 2

What it measures, each engine in its own child process on the same Parquet files (the demo
world at ``--scale``, generated into ``/tmp/innoclusters-world-<scale>-<seed>`` or reused,
as :mod:`benchmarks.bench_world` does):

1. **duckdb**: the embedded engine's part of a run that the Spark engine replaces:
   ``read_records`` (validation, fractional counting, geocoding), ``build_locations`` and
   ``prepare_profiles``, with ``--cores`` threads.
2. **spark**: the same with the Spark engine on ``local[<cores>]``
   (:class:`innoclusters.engines.spark.SparkRecords`), after the Spark session has started
   (its start-up is reported apart). CPU time is that of the whole process tree: the
   driver, the JVM and the Python workers.

Both give the locations table, which must be identical (checked). Printed: rows, wall and
CPU seconds, address rows per second and per CPU-second (the throughput of one core), and
what that throughput means for 1 billion rows in core-hours. The price of a core-hour is
an input (``--usd-per-core-hour``), not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent

CHILD_COMMON = """
import json, os, sys, time
from pathlib import Path
import duckdb
from innoclusters.config import Settings

def tree_cpu():
    # CPU seconds of this process and all its descendants (live, plus reaped ones).
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            stats[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    me, total, seen = os.getpid(), 0, set()
    frontier = [me]
    while frontier:
        pid = frontier.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        frontier += [p for p, (parent, _) in stats.items() if parent == pid]
    return total / tick

data, cores = Path(sys.argv[1]), int(sys.argv[2])
files = {m: [data / f"{m}.parquet"] for m in ("patents", "publications", "vc")}
"""

CHILD_DUCKDB = (
    CHILD_COMMON
    + """
from innoclusters.locations import build_locations, edition_windows
from innoclusters.profiles import prepare_profiles
from innoclusters.records import read_records
settings = Settings(workers=cores)
con = duckdb.connect(config={"threads": cores, "preserve_insertion_order": False})
c0, t0 = tree_cpu(), time.perf_counter()
records = read_records(files, connection=con)
windows = edition_windows(records, settings)
locations, counts = build_locations(records, rounding=settings.rounding, windows=windows)
prepare_profiles(con, rounding=settings.rounding, windows=windows)
wall, cpu = time.perf_counter() - t0, tree_cpu() - c0
rows = sum(f.rows_read for f in records.files)
locations.to_parquet(sys.argv[3])
print(json.dumps({"seconds": wall, "cpu_seconds": cpu, "rows": rows,
                  "locations": len(locations)}))
"""
)

CHILD_SPARK = (
    CHILD_COMMON
    + """
from innoclusters.engines.spark import SparkRecords, spark_session
settings = Settings(engine="spark", spark_master=f"local[{cores}]")
t = time.perf_counter()
spark = spark_session(settings.spark_master)
spark.conf.set("spark.sql.shuffle.partitions", str(4 * cores))
startup = time.perf_counter() - t
con = duckdb.connect()
c0, t0 = tree_cpu(), time.perf_counter()
staged = SparkRecords.read(files, settings, connection=con)
windows = staged.edition_windows(settings)
locations, counts = staged.build_locations(rounding=settings.rounding, windows=windows)
staged.prepare_profiles(rounding=settings.rounding, windows=windows)
wall, cpu = time.perf_counter() - t0, tree_cpu() - c0
rows = sum(f.rows_read for f in staged.records.files)
locations.to_parquet(sys.argv[3])
spark.stop()
print(json.dumps({"seconds": wall, "cpu_seconds": cpu, "rows": rows,
                  "locations": len(locations), "startup_seconds": startup}))
"""
)

CHILD_GENERATE = """
import sys
from innoclusters.demo import generate_world
generate_world(sys.argv[1], scale=float(sys.argv[2]), seed=int(sys.argv[3]))
print("{}")
"""


def _child(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh Python with this tree's sources; return its JSON line."""
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed with status {proc.returncode}")
    out: dict[str, Any] = json.loads(
        [line for line in proc.stdout.splitlines() if line.startswith("{")][-1]
    )
    return out


def _world(data: Path, scale: float, seed: int) -> None:
    """Generate the world into ``data`` unless it holds this scale and seed already."""
    facts = data / "world_facts.json"
    if facts.is_file():
        known = json.loads(facts.read_text(encoding="utf-8"))
        if known.get("scale") == scale and known.get("seed") == seed:
            return
    _child(CHILD_GENERATE, str(data), repr(scale), str(seed))


def main(argv: list[str] | None = None) -> int:
    """Run both engines on one world; print the figures and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cores", type=int, default=2, help="threads / local[N] cores")
    parser.add_argument("--data", type=Path, default=None, help="folder of the world's files")
    parser.add_argument(
        "--usd-per-core-hour",
        type=float,
        default=0.06,
        help="price of one vCPU-hour for the cost estimate (an assumption, not measured)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    data = args.data or Path(f"/tmp/innoclusters-world-{args.scale:g}-{args.seed}")
    _world(data, args.scale, args.seed)
    out = Path(f"/tmp/innoclusters-bench-spark-{os.getpid()}")
    out.mkdir(exist_ok=True)
    duck = _child(CHILD_DUCKDB, str(data), str(args.cores), str(out / "duckdb.parquet"))
    spark = _child(CHILD_SPARK, str(data), str(args.cores), str(out / "spark.parquet"))
    same = pd.read_parquet(out / "duckdb.parquet").equals(pd.read_parquet(out / "spark.parquet"))
    rows = spark["rows"]
    per_core = rows / spark["cpu_seconds"]
    core_hours = 1e9 / per_core / 3600
    load = os.getloadavg()
    report = {
        "scale": args.scale,
        "seed": args.seed,
        "cores": args.cores,
        "rows": rows,
        "duckdb": duck,
        "spark": spark,
        "identical_locations": same,
        "spark_rows_per_cpu_second": per_core,
        "core_hours_per_billion_rows": core_hours,
        "usd_per_core_hour": args.usd_per_core_hour,
        "load_average": load,
    }
    print(
        f"scale {args.scale:g}, seed {args.seed}: {rows:,} address rows, {args.cores} cores "
        f"(local[{args.cores}] / {args.cores} DuckDB threads); load average "
        f"{load[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'engine':<10}{'wall s':>9}{'CPU s':>9}{'rows/s':>12}{'rows/CPU-s':>13}")
    for name, r in (("duckdb", duck), ("spark", spark)):
        print(
            f"{name:<10}{r['seconds']:9.1f}{r['cpu_seconds']:9.1f}"
            f"{r['rows'] / r['seconds']:12,.0f}{r['rows'] / r['cpu_seconds']:13,.0f}"
        )
    print(f"Spark session start-up (not included): {spark['startup_seconds']:.1f} s")
    print(
        f"locations: {spark['locations']:,}, identical between engines: {same}; "
        f"Spark / DuckDB CPU: {spark['cpu_seconds'] / duck['cpu_seconds']:.2f}"
    )
    print(
        f"1 billion rows at {per_core:,.0f} rows per CPU-second: {core_hours:,.1f} core-hours, "
        f"about ${core_hours * args.usd_per_core_hour:,.2f} at ${args.usd_per_core_hour}/core-hour"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
