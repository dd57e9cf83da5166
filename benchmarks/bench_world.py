"""Benchmark: the whole pipeline on the demo world at a scale, against a DuckDB floor.

Run by hand, under the heavy lock for scales >= 0.5 (the figures go in the README)::

    flock /tmp/innoclusters-heavy.lock .venv/bin/python -m benchmarks.bench_world --scale 1

What it measures, in one run, each step in its own child process (so that its peak resident
memory, read with ``wait4``, is its own):

1. **world**: the demo world at ``--scale`` (generated into ``--data``, default
   ``/tmp/innoclusters-world-<scale>-<seed>``, or reused when that folder already holds it).
2. **floor**: DuckDB alone doing the least any pipeline on these files must do: read the
   Parquet files, give each row ``1/N`` of its document (``N`` rows of the same ``doc_id``),
   round to 0.01 degree, and sum per metric and location.
3. **pipeline**: :func:`innoclusters.run` and :func:`innoclusters.publish.write_outputs`, from
   the records to every output file, with the same number of threads. Per stage: wall time,
   process CPU time (``getrusage``; CPU / wall is the number of cores kept busy) and the peak
   resident memory reached by the end of the stage.

The ratio pipeline / floor is the figure of merit; both run on the same machine in the same
run, so a busy machine skews it less than absolute times. ``--memory-limit`` passes the
run's ``memory_limit`` setting to the pipeline (without it the setting's default applies,
``"4GB"``): a limit for the whole process, of which DuckDB gets what the clustering leaves
(:func:`innoclusters.pipeline.duckdb_memory_limit`); the benchmark prints the child's peak
against it. With ``--check-unlimited`` the pipeline runs a second time with no limit at all
(``memory_limit = ""``: DuckDB's own default, 80 % of RAM; into ``OUT-unlimited``) and the
two output folders are compared file by file with :mod:`benchmarks.compare_outputs` (the
exact rule is stated there); the benchmark then exits 1 if they differ::

    flock /tmp/innoclusters-heavy.lock .venv/bin/python -m benchmarks.bench_world --scale 3.5 \
        --memory-limit 8GB --check-unlimited

With ``--parts`` a fourth child reads the records alone (:func:`innoclusters.read_records`,
on a database file and DuckDB share like the run's) and times its parts: reading every column
of the files and nothing else; scan 1 (validate every row, count the accepted rows per file
and per document); the SELECT of scan 2 (validate again, join each row to its document's
count) without storing its rows; that SELECT written into the database file, as a run does;
and into an in-memory table instead. It then prints scan 1 + scan 2 without the write +
the clusters and publish stages of the pipeline child: what the run would take if the
records cost nothing to store and the locations nothing to build (the figure the README's
"why 3x is out of reach" rests on)::

    flock /tmp/innoclusters-heavy.lock .venv/bin/python -m benchmarks.bench_world --scale 1 --parts
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.compare_outputs import compare
from innoclusters.config import memory_bytes

ROOT = Path(__file__).resolve().parent.parent

CHILD_GENERATE = """
import json, sys, time
from innoclusters.demo import generate_world
t = time.perf_counter()
generate_world(sys.argv[1], scale=float(sys.argv[2]), seed=int(sys.argv[3]))
print(json.dumps({"seconds": time.perf_counter() - t}))
"""

CHILD_WARM = """
from innoclusters import weighted_dbscan
weighted_dbscan([0.0, 0.01, 0.02], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], eps_km=13.0, min_weight=1.0)
print("{}")
"""

CHILD_FLOOR = """
import json, os, resource, sys, time
import duckdb
data = sys.argv[1]
t = time.perf_counter()
c0 = time.process_time()
con = duckdb.connect(config={"preserve_insertion_order": False})
rows = " UNION ALL ".join(
    f"SELECT '{m}' AS metric, doc_id, lat, lon FROM read_parquet('{data}/{m}.parquet')"
    for m in ("patents", "publications", "vc"))
n = con.execute(f'''
    WITH r AS ({rows}),
    d AS (SELECT metric, doc_id, count(*) AS n FROM r GROUP BY ALL)
    SELECT count(*) FROM (
      SELECT r.metric, round(r.lat, 2) AS lat, round(r.lon, 2) AS lon, sum(1.0 / d.n) AS w
      FROM r JOIN d USING (metric, doc_id) GROUP BY ALL)''').fetchone()[0]
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c0,
                  "locations": n}))
"""

CHILD_PIPELINE = """
import json, resource, sys, time
from pathlib import Path
from innoclusters.config import Settings
from innoclusters.pipeline import run
from innoclusters.publish import write_outputs
data, out, limit = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
files = {m: [data / f"{m}.parquet"] for m in ("patents", "publications", "vc")}
# "default": the setting's default; "" (no limit): DuckDB's own default, 80 % of RAM.
extra = {} if limit == "default" else {"memory_limit": limit}
extra["uncertainty"] = 0  # the pipeline alone (rank uncertainty is on by default)
t = time.perf_counter()
c0 = time.process_time()
result = run(files, Settings(**extra), synthetic=True, progress=False)
t_run = time.perf_counter() - t
c_run = time.process_time() - c0
write_outputs(result, out)
wall = time.perf_counter() - t
cpu = time.process_time() - c0
m = result.manifest
print(json.dumps({
    "seconds": wall, "cpu_seconds": cpu, "run_seconds": t_run, "run_cpu_seconds": c_run,
    "publish_seconds": wall - t_run, "publish_cpu_seconds": cpu - c_run,
    "publish_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "clusters": len(result.clusters), "locations": len(result.locations),
    "timings": m.get("timings_s"), "resources": m.get("resources", {}), "rows": m.get("rows"),
}))
"""


CHILD_PARTS = """
import json, os, sys, tempfile, time
import duckdb
from innoclusters.config import Settings
from innoclusters.pipeline import duckdb_memory_limit
from innoclusters.records import read_records
data = sys.argv[1]
files = {m: [os.path.join(data, f"{m}.parquet")] for m in ("patents", "publications", "vc")}

def timed(con, sql):
    t, c = time.perf_counter(), time.process_time()
    con.execute(sql).fetchall()
    return {"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c}

class Timed:
    # The run's connection, timing each statement; before the write of scan 2 it runs the
    # same SELECT without storing it, then into an in-memory table instead of the file.
    def __init__(self, con):
        self.con, self.parts = con, {}
    def execute(self, sql, *args, **kwargs):
        part = None
        if isinstance(sql, str) and "TEMP TABLE _docs AS" in sql:
            part = "scan1"
        elif isinstance(sql, str) and sql.startswith("INSERT INTO records SELECT"):
            part = "write"
            rows = sql[len("INSERT INTO records "):]
            self.parts["scan2"] = timed(
                self.con, f"SELECT count(*), sum(hash(COLUMNS(*))) FROM ({rows}) AS _r")
            self.parts["memory"] = timed(self.con, f"CREATE TEMP TABLE _probe AS {rows}")
            self.con.execute("DROP TABLE _probe")
        t, c = time.perf_counter(), time.process_time()
        result = self.con.execute(sql, *args, **kwargs)
        if part:
            self.parts[part] = {
                "seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c}
        return result
    def __getattr__(self, name):
        return getattr(self.con, name)

bare = duckdb.connect(config={"preserve_insertion_order": False})
bare.execute("SET enable_progress_bar = false")  # it prints to stdout, where the JSON goes
read = timed(bare, "SELECT count(*), sum(hash(COLUMNS(*))) FROM read_parquet("
             f"{[str(f[0]) for f in files.values()]}, union_by_name = true)")
with tempfile.TemporaryDirectory(prefix="innoclusters-parts-") as tmp:
    con = duckdb.connect(os.path.join(tmp, "run.duckdb"), config={
        "temp_directory": os.path.join(tmp, "spill"), "preserve_insertion_order": False,
        "memory_limit": duckdb_memory_limit(Settings().memory_limit)})
    con.execute("SET enable_progress_bar = false")
    probe = Timed(con)
    t, c = time.perf_counter(), time.process_time()
    read_records(files, connection=probe, keep=())
    total = {"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c}
    con.close()
print(json.dumps({"read": read, "records": total, **probe.parts}))
"""


def _child(code: str, *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh Python; return its JSON line plus wall time and peak RSS."""
    start = time.perf_counter()
    # This tree's sources, whatever the installed package points to.
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed with status {proc.returncode}")
    result: dict[str, Any] = json.loads(
        [line for line in out.splitlines() if line.startswith("{")][-1]
    )
    result["wall_seconds"] = time.perf_counter() - start
    result["peak_rss_mib"] = usage.ru_maxrss / 1024.0  # KiB on Linux
    result["child_cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


def _world(data: Path, scale: float, seed: int) -> dict[str, Any]:
    """Generate the world into ``data`` unless it already holds this scale and seed."""
    facts_path = data / "world_facts.json"
    if facts_path.is_file():
        facts = json.loads(facts_path.read_text(encoding="utf-8"))
        same = facts.get("scale") == scale and facts.get("seed") == seed
        if same and all((data / f"{m}.parquet").is_file() for m in ("patents", "publications")):
            return {"reused": True, **facts}
    gen = _child(CHILD_GENERATE, str(data), repr(scale), str(seed))
    facts = json.loads(facts_path.read_text(encoding="utf-8"))
    return {"reused": False, "generation": gen, **facts}


def _print_parts(
    parts: dict[str, Any],
    pipe: dict[str, Any],
    floor: dict[str, Any],
    line: Callable[[str, float, float | None, float | None], None],
) -> None:
    """Print the records stage's parts (:data:`CHILD_PARTS`) and what the run would take
    with the records neither stored nor aggregated into locations: its two validating scans,
    then the clusters and publish stages as this run measured them."""
    print("records stage, in parts (its own run, the pipeline's settings):")
    rows = (
        ("read", "  read every column"),
        ("scan1", "  scan 1 (validate)"),
        ("scan2", "  scan 2, no write"),
        ("write", "  scan 2 + file write"),
        ("memory", "  scan 2 + RAM write"),
        ("records", "  all, with probes"),
    )
    for key, label in rows:
        if key in parts:
            line(label, parts[key]["seconds"], parts[key]["cpu_seconds"], None)
    if "scan1" not in parts or "scan2" not in parts:
        print("  (these files took another path than the two scans: no bound)")
        return
    timings = pipe.get("timings") or {}
    bound = (
        parts["scan1"]["seconds"]
        + parts["scan2"]["seconds"]
        + timings.get("clusters", 0.0)
        + pipe["publish_seconds"]
    )
    print(
        f"scan 1 + scan 2 without the write + clusters + publish: {bound:.1f} s, "
        f"{bound / floor['seconds']:.2f}x the floor (no records stored, no locations stage)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the floor and the pipeline on one world; print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None, help="folder of the world's files")
    parser.add_argument("--out", type=Path, default=None, help="pipeline output folder")
    parser.add_argument("--memory-limit", default="", help="DuckDB memory limit, e.g. 3GB")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--parts",
        action="store_true",
        help="also time the records stage's parts and print the run's floor without them",
    )
    parser.add_argument(
        "--check-unlimited",
        action="store_true",
        help="with --memory-limit: run the pipeline again without it and compare every output file",
    )
    args = parser.parse_args(argv)
    data = args.data or Path(f"/tmp/innoclusters-world-{args.scale:g}-{args.seed}")
    out = args.out or Path(f"/tmp/innoclusters-world-out-{args.scale:g}-{args.seed}")
    world = _world(data, args.scale, args.seed)
    rows = sum(world["rows"].values())
    _child(CHILD_WARM)  # Numba compiles the kernel once per machine; not part of a run
    floor = _child(CHILD_FLOOR, str(data))
    pipe = _child(CHILD_PIPELINE, str(data), str(out), args.memory_limit or "default")
    ratio = pipe["seconds"] / floor["seconds"]
    parts = _child(CHILD_PARTS, str(data)) if args.parts else None
    unlimited: dict[str, Any] | None = None
    agree: bool | None = None
    comparison: list[str] = []
    if args.check_unlimited:
        if not args.memory_limit:
            parser.error("--check-unlimited needs --memory-limit")
        out_unlimited = out.with_name(out.name + "-unlimited")
        unlimited = _child(CHILD_PIPELINE, str(data), str(out_unlimited), "")
        agree, comparison = compare(out, out_unlimited)
    report = {
        "scale": args.scale,
        "seed": args.seed,
        "rows": rows,
        "cpus": os.cpu_count(),
        "memory_limit": args.memory_limit or None,
        "world": world,
        "floor": floor,
        "pipeline": pipe,
        "ratio": ratio,
        "parts": parts,
        "unlimited": unlimited,
        "outputs_agree": agree,
        "comparison": comparison,
    }
    print(
        f"scale {args.scale:g}, seed {args.seed}: {rows:,} address rows "
        f"({'reused' if world['reused'] else 'generated'} in {data}), {os.cpu_count()} CPUs"
        + (f", memory_limit {args.memory_limit}" if args.memory_limit else "")
    )
    print(f"{'step':<22}{'wall s':>9}{'CPU s':>9}{'cores':>7}{'peak RSS MiB':>14}")

    def line(name: str, wall: float, cpu: float | None, rss: float | None) -> None:
        c = f"{cpu:9.1f}{cpu / wall if wall > 0 else 0:7.2f}" if cpu is not None else " " * 16
        r = f"{rss:14,.0f}" if rss is not None else ""
        print(f"{name:<22}{wall:9.1f}{c}{r}")

    line("DuckDB floor", floor["seconds"], floor["cpu_seconds"], floor["peak_rss_mib"])
    line("pipeline, end to end", pipe["seconds"], pipe["cpu_seconds"], pipe["peak_rss_mib"])
    res = pipe.get("resources") or {}
    for stage, wall in (pipe.get("timings") or {}).items():
        if stage == "publish":
            continue
        cpu = (res.get("cpu_s") or {}).get(stage)
        rss = (res.get("peak_rss_mib") or {}).get(stage)
        line(f"  {stage}", wall, cpu, rss)
    line(
        "  publish",
        pipe["publish_seconds"],
        pipe["publish_cpu_seconds"],
        pipe["publish_peak_rss_mib"],
    )
    print(
        f"ratio pipeline / floor: {ratio:.2f}; {pipe['locations']:,} locations, "
        f"{pipe['clusters']} clusters; floor {floor['locations']:,} locations"
    )
    if parts is not None:
        _print_parts(parts, pipe, floor, line)
    if args.memory_limit:
        limit_mib = memory_bytes(args.memory_limit) / 2**20
        within = pipe["peak_rss_mib"] <= limit_mib
        report["peak_within_limit"] = within
        print(
            f"process peak {pipe['peak_rss_mib']:,.0f} MiB "
            f"{'within' if within else 'OVER'} memory_limit {args.memory_limit} "
            f"({limit_mib:,.0f} MiB); DuckDB's share per stage: "
            f"{(res.get('duckdb_memory_limit') or {})}"
        )
    if unlimited is not None:
        line(
            "pipeline, no limit",
            unlimited["seconds"],
            unlimited["cpu_seconds"],
            unlimited["peak_rss_mib"],
        )
        print(f"outputs with memory_limit {args.memory_limit} vs no limit:")
        print("\n".join(f"  {c}" for c in comparison))
        print("outputs agree" if agree else "outputs DIFFER")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0 if agree is not False else 1


if __name__ == "__main__":
    sys.exit(main())
