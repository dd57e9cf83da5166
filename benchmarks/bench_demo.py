"""Benchmark: the demo world at a large scale, generation and the whole pipeline.

Run by hand (the figures go in the README and docs/demo.md)::

    .venv/bin/python benchmarks/bench_demo.py --scale 1 --out /tmp/bench-demo

Each step runs in a child process so that its peak memory (maximum resident set size, from
``wait4``) is its own. Two baselines are measured in the same run, on the same machine:

* ``write floor``: writing the same number of rows of random numbers and short strings to
  Parquet with the same writer; generation / floor says what the realism costs on top of
  the I/O.
* ``scan floor``: DuckDB reading the generated files and summing rows per rounded location
  (the least any pipeline on these files must do); pipeline / floor says what validation,
  clustering, merging and ranking cost on top.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD_GENERATE = """
import json, sys, time
from innoclusters.demo import generate_world
t = time.perf_counter()
files = generate_world(sys.argv[1], scale=float(sys.argv[2]), seed=int(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

CHILD_WRITE_FLOOR = """
import json, sys, time
import numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
rows, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
schema = pa.schema([("doc_id", pa.string()), ("year", pa.int32()), ("lat", pa.float64()),
                    ("lon", pa.float64()), ("country", pa.string())])
t = time.perf_counter()
with pq.ParquetWriter(out, schema, compression="zstd") as w:
    for first in range(0, rows, 600_000):
        n = min(600_000, rows - first)
        ids = pc.cast(pa.array(np.arange(first, first + n)), pa.string())
        codes = pa.array(np.array(["US", "CN", "JP", "DE"])[rng.integers(0, 4, n)])
        w.write_table(pa.Table.from_arrays(
            [ids, pa.array(np.full(n, 2020, np.int32)), pa.array(rng.random(n) * 90),
             pa.array(rng.random(n) * 180), codes], schema=schema))
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

CHILD_SCAN_FLOOR = """
import json, sys, time
import duckdb
t = time.perf_counter()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
n = 0
for path in sys.argv[1:]:
    n += len(con.execute(
        "SELECT round(lat, 2), round(lon, 2), count(*) FROM read_parquet(?) GROUP BY ALL",
        [path]).fetchall())
print(json.dumps({"seconds": time.perf_counter() - t, "locations": n}))
"""

CHILD_PIPELINE = """
import json, sys, time
from pathlib import Path
from innoclusters.config import Settings
from innoclusters.pipeline import run
from innoclusters.publish import write_outputs
data, out = Path(sys.argv[1]), Path(sys.argv[2])
files = {m: [data / f"{m}.parquet"] for m in ("patents", "publications", "vc")}
t = time.perf_counter()
result = run(files, Settings(uncertainty=0), synthetic=True, progress=False)
t_run = time.perf_counter() - t
write_outputs(result, out)
print(json.dumps({"seconds": time.perf_counter() - t, "run_seconds": t_run,
                  "clusters": len(result.clusters), "timings": result.manifest.get("timings_s"),
                  "rows": result.manifest.get("rows")}))
"""


def _child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh Python; return its JSON line plus wall time and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed with status {proc.returncode}")
    result = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    result["wall_seconds"] = time.perf_counter() - start
    result["peak_rss_mb"] = usage.ru_maxrss / 1024.0  # kilobytes on Linux
    return result


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the four measurements, print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench-demo"))
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args(argv)
    data = args.out / "data"
    gen = _child(CHILD_GENERATE, str(data), str(args.scale), str(args.seed))
    facts = json.loads((data / "world_facts.json").read_text(encoding="utf-8"))
    rows = sum(facts["rows"].values())
    size_mb = sum(p.stat().st_size for p in data.glob("*.parquet")) / 1e6
    floor = _child(CHILD_WRITE_FLOOR, str(rows), str(args.out / "floor.parquet"))
    (args.out / "floor.parquet").unlink()
    paths = [str(p) for p in sorted(data.glob("*.parquet"))]
    scan = _child(CHILD_SCAN_FLOOR, *paths)
    report = {
        "scale": args.scale,
        "seed": args.seed,
        "rows": facts["rows"],
        "documents": facts["documents_total"],
        "parquet_mb": round(size_mb, 1),
        "generation": gen,
        "generation_rows_per_s": rows / gen["seconds"],
        "write_floor": floor,
        "scan_floor": scan,
        "cpus": os.cpu_count(),
    }
    print(f"scale {args.scale:g}, seed {args.seed}: {rows:,} rows, {size_mb:,.0f} MB of Parquet")
    print(f"  documents: {facts['documents_total']}")
    print(
        f"  generation   {gen['seconds']:7.1f} s  {rows / gen['seconds'] / 1e6:5.2f} M rows/s  "
        f"peak {gen['peak_rss_mb']:6.0f} MB  (write floor {floor['seconds']:.1f} s, "
        f"ratio {gen['seconds'] / floor['seconds']:.2f})"
    )
    print(f"  scan floor   {scan['seconds']:7.1f} s  peak {scan['peak_rss_mb']:6.0f} MB")
    if not args.skip_pipeline:
        pipe = _child(CHILD_PIPELINE, str(data), str(args.out / "output"))
        report["pipeline"] = pipe
        print(
            f"  pipeline     {pipe['seconds']:7.1f} s  peak {pipe['peak_rss_mb']:6.0f} MB  "
            f"(ratio to scan floor {pipe['seconds'] / scan['seconds']:.1f}); "
            f"{pipe['clusters']} clusters; stages {pipe['timings']}"
        )
        total = gen["wall_seconds"] + pipe["wall_seconds"]
        report["end_to_end_s"] = total
        print(f"  end to end   {total:7.1f} s (generation + pipeline + outputs, wall)")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
