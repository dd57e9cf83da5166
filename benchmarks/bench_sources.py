"""Benchmark: PatentsView inventor tables (zipped TSV) to records, against a DuckDB floor.

Run by hand, under the heavy lock (the figures go in the README)::

    flock /tmp/innoclusters-heavy.lock .venv/bin/python -m benchmarks.bench_sources \\
        --rows 10000000

Generates, in PatentsView's exact layout (header, tab-separated, one ``.tsv`` per ``.zip``):
``g_inventor_disambiguated`` with ``--rows`` inventor rows (patents of 1 to 5 inventors),
``g_location_disambiguated`` (100,000 places with coordinates), ``g_application`` and
``g_patent`` (one row per patent; 3 % design patents and 0.5 % withdrawn, so the filters
work). Then, each in its own process so that its peak memory is its own:

* **floor**: the same zips extracted with :mod:`zipfile` (DuckDB cannot read zip archives),
  then DuckDB reads the four TSVs and joins them into a table of patent, year, coordinates
  and country, the least any reader must do;
* **adapter**: :func:`innoclusters.records.read_records` with ``patentsview:DIR`` (the
  ``innoclusters run`` path up to records: extract, read, filter, validate, count fractional
  weights, reject), with DuckDB's default memory limit.

With ``--inspect ROWS`` it times instead ``innoclusters inspect`` on a generated records CSV
(three rows per document, one row in 1,000 with a bad year) against DuckDB reading the same
file into a table and counting its rows and documents, and the whole command with its
Python start-up (issue 10: "a second or two on a million rows").

Targets: adapter time <= 1.5 x the floor's, adapter peak memory < 4 GiB. Both sides'
process CPU seconds over the same work (imports excluded) are printed too: on a shared
machine their ratio moves less than the wall-clock one. ``--repeat N`` runs both sides N
times, alternately, and keeps each side's fastest run. ``--bad PCT`` makes that percent of
the inventor rows and of the applications bad (rejected), to time the reject path too.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import duckdb

TABLES = (
    "g_inventor_disambiguated",
    "g_location_disambiguated",
    "g_application",
    "g_patent",
)


def generate(folder: Path, rows: int, seed: int = 0, bad_pct: float = 0.0) -> None:
    """Write the four tables as ``<name>.tsv.zip`` in ``folder`` (DuckDB generates them).

    With ``bad_pct``, that share (percent) of the inventor rows names a location that is not
    in the location table, and that share of the applications has a filing date that is
    not a date: the adapter rejects those rows (real PatentsView has some).
    """
    bad = bad_pct / 100
    con = duckdb.connect()
    con.execute(f"SELECT setseed({(seed % 100) / 100})")
    n_pat = rows // 3
    con.execute(
        f"""CREATE TABLE inv AS
        SELECT CAST(10000000 + (i * {n_pat}) // {rows} AS VARCHAR) AS patent_id,
          CAST(i - ((i * {n_pat}) // {rows}) * {rows} // {n_pat} AS VARCHAR) AS inventor_sequence,
          'fl:ab_ln:inv-' || CAST(hash(i) % 3000000 AS VARCHAR) AS inventor_id,
          'Ann' AS disambig_inventor_name_first, 'Lee' AS disambig_inventor_name_last,
          'F' AS gender_code,
          CASE WHEN random() < {bad} THEN 'gone-' ELSE 'loc-' END
            || CAST(CAST(floor(pow(random(), 3) * 100000) AS BIGINT) AS VARCHAR) AS location_id
        FROM range({rows}) t(i)"""
    )
    con.execute(
        """CREATE TABLE loc AS SELECT 'loc-' || CAST(i AS VARCHAR) AS location_id,
          'City ' || CAST(i AS VARCHAR) AS disambig_city, 'CA' AS disambig_state,
          (['US', 'JP', 'DE', 'CN', 'KR', 'FR', 'GB'])[1 + i % 7] AS disambig_country,
          CAST(round(-50 + random() * 110, 4) AS VARCHAR) AS latitude,
          CAST(round(-180 + random() * 360, 4) AS VARCHAR) AS longitude,
          '' AS county, '' AS state_fips, '' AS county_fips
        FROM range(100000) t(i)"""
    )
    con.execute("""CREATE TABLE pat AS SELECT DISTINCT patent_id FROM inv""")
    con.execute(
        f"""CREATE TABLE app AS SELECT 'A' || patent_id AS application_id, patent_id,
          '16' AS patent_application_type,
          CASE WHEN random() < {bad} THEN '20x0-01-01' ELSE
            CAST(DATE '2010-01-01' + CAST(floor(random() * 4000) AS INTEGER) AS VARCHAR) END
            AS filing_date, '16' AS series_code, '0' AS rule_47_flag FROM pat"""
    )
    con.execute(
        """CREATE TABLE gpat AS SELECT patent_id,
          CASE WHEN random() < 0.03 THEN 'design' ELSE 'utility' END AS patent_type,
          '2020-01-07' AS patent_date, 'A title' AS patent_title, 'B2' AS wipo_kind,
          '10' AS num_claims, CASE WHEN random() < 0.005 THEN '1' ELSE '0' END AS withdrawn,
          'ipg200107.xml' AS filename FROM pat"""
    )
    for table, name in zip(("inv", "loc", "app", "gpat"), TABLES, strict=True):
        tsv = folder / f"{name}.tsv"
        con.execute(f"COPY {table} TO '{tsv}' (HEADER, DELIMITER '\t', QUOTE '\"')")
        with zipfile.ZipFile(folder / f"{name}.tsv.zip", "w", zipfile.ZIP_DEFLATED) as z:
            z.write(tsv, tsv.name)
        tsv.unlink()
    con.close()


def floor(folder: Path) -> dict[str, float]:
    """Extract the zips and join the tables with DuckDB: the least any reader does."""
    start, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name in TABLES:
            with zipfile.ZipFile(folder / f"{name}.tsv.zip") as z:
                z.extract(f"{name}.tsv", tmp)
            paths[name] = f"{tmp}/{name}.tsv"

        def tsv(name: str) -> str:
            return f"read_csv('{paths[name]}', delim='\t', header=true, all_varchar=true)"

        con = duckdb.connect()
        # As read_records does: DuckDB's own progress bar is not printed.
        con.execute("SET enable_progress_bar_print = false")
        con.execute(
            f"""CREATE TABLE joined AS SELECT i.patent_id, a.filing_date,
              TRY_CAST(l.latitude AS DOUBLE) AS lat, TRY_CAST(l.longitude AS DOUBLE) AS lon,
              l.disambig_country AS country, p.patent_type, p.withdrawn
            FROM {tsv("g_inventor_disambiguated")} i
            LEFT JOIN {tsv("g_location_disambiguated")} l USING (location_id)
            LEFT JOIN {tsv("g_application")} a USING (patent_id)
            LEFT JOIN {tsv("g_patent")} p USING (patent_id)"""
        )
        rows = con.execute("SELECT count(*) FROM joined").fetchone()
        con.close()
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,
        "rows": float(rows[0] if rows else 0),
    }


def adapter(folder: Path) -> dict[str, float]:
    """The records stage on the PatentsView folder."""
    from innoclusters.records import read_records

    start, cpu = time.perf_counter(), time.process_time()
    rs = read_records({"patents": [f"patentsview:{folder}"]})
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    (stats,) = rs.files
    weight = rs.connection.execute("SELECT sum(weight) FROM records").fetchone()
    docs = rs.connection.execute("SELECT count(DISTINCT doc_id) FROM records").fetchone()
    return {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "rows_read": stats.rows_read,
        "rows_accepted": stats.rows_accepted,
        "rows_filtered": stats.rows_filtered,
        "rows_rejected": stats.rows_rejected,
        "weight": float(weight[0] if weight else 0),
        "documents": float(docs[0] if docs else 0),
    }


def generate_records(path: Path, rows: int) -> None:
    """A records CSV of ``rows`` rows (three per document), one row in 1,000 with a bad year."""
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT 'd' || CAST(i // 3 AS VARCHAR) AS doc_id,
          CASE WHEN i % 1000 = 7 THEN '18x0' ELSE CAST(2015 + i % 8 AS VARCHAR) END AS year,
          round(-50 + (hash(i) % 11000) / 100.0, 4) AS lat,
          round(-180 + (hash(i + 7) % 36000) / 100.0, 4) AS lon,
          (['US', 'JP', 'DE', 'CN', 'KR', 'FR', 'GB'])[1 + i % 7] AS country, '' AS weight
        FROM range({rows}) t(i)) TO '{path}' (HEADER)"""
    )
    con.close()


def inspect_floor(path: Path) -> dict[str, float]:
    """DuckDB reading the CSV into a table and counting its rows and documents."""
    start, cpu = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar_print = false")
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', all_varchar=true)")
    con.execute("SELECT count(*), count(DISTINCT doc_id) FROM t").fetchall()
    con.close()
    return {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}


def inspect(path: Path) -> dict[str, float]:
    """:func:`innoclusters.records.inspect_records` on the CSV (what ``inspect`` does)."""
    from innoclusters.records import inspect_records

    start, cpu = time.perf_counter(), time.process_time()
    (found,) = inspect_records({"patents": [path]})
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,
        "rows_read": found["rows_read"],
        "rows_invalid": found["rows_invalid"],
    }


def inspect_command(path: Path) -> dict[str, float]:
    """The whole ``innoclusters inspect`` command (Python start-up and imports included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    code = "from innoclusters.cli import main; main()"
    subprocess.run(
        [sys.executable, "-c", code, "inspect", str(path)], capture_output=True, check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    imports = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time, resource; import innoclusters.cli; "
            "u = resource.getrusage(resource.RUSAGE_SELF); print(u.ru_utime + u.ru_stime)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {
        "seconds": time.perf_counter() - start,
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "import_cpu_s": float(imports.strip()),
    }


def run_inspect(rows: int, repeat: int) -> None:
    """Time ``inspect`` on a generated records CSV against DuckDB reading it."""
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp:
        path = Path(tmp) / "records.csv"
        generate_records(path, rows)
        floors, ours = [], []
        for _ in range(max(1, repeat)):
            floors.append(_child("inspect_floor", path))
            ours.append(_child("inspect", path))
        command = inspect_command(path)
    base = min(floors, key=lambda r: r["seconds"])
    best = min(ours, key=lambda r: r["seconds"])
    print(
        f"DuckDB reading {rows:,} rows: {base['seconds']:.2f} s ({base['cpu_s']:.2f} s CPU); "
        f"inspect_records: {best['seconds']:.2f} s ({best['cpu_s']:.2f} s CPU), ratio "
        f"{best['seconds'] / base['seconds']:.2f} (CPU {best['cpu_s'] / base['cpu_s']:.2f}); "
        f"{best['rows_read']:,.0f} rows read, {best['rows_invalid']:,.0f} with problems"
    )
    print(
        f"innoclusters inspect (whole command): {command['seconds']:.2f} s, "
        f"{command['cpu_s']:.2f} s CPU, of which {command['import_cpu_s']:.2f} s importing"
    )


def _child(stage: str, folder: Path) -> dict[str, float]:
    """Run one stage in a fresh process; add its peak resident memory."""
    code = (
        "import json, resource, sys; from pathlib import Path; "
        "from benchmarks.bench_sources import adapter, floor, inspect, inspect_floor; "
        f"r = {stage}(Path({str(folder)!r})); "
        "r['peak_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; "
        "print(json.dumps(r))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    """Generate, time both stages, print the figures and the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="Keep the tables here.")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--bad",
        type=float,
        default=0.0,
        metavar="PCT",
        help="Percent of inventor rows at an unknown location and of applications with a "
        "filing date that is not a date (rejected rows; generated into a new --dir).",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="Run floor and adapter this many times, alternately; each side's fastest run "
        "counts (on a shared machine the load changes between runs).",
    )
    parser.add_argument(
        "--inspect",
        type=int,
        default=0,
        metavar="ROWS",
        help="Instead: time `inspect` on a records CSV of ROWS rows against DuckDB reading it.",
    )
    args = parser.parse_args()
    if args.inspect:
        run_inspect(args.inspect, args.repeat)
        return
    with tempfile.TemporaryDirectory(prefix="bench-sources-") as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "g_inventor_disambiguated.tsv.zip").exists():
            t = time.perf_counter()
            generate(folder, args.rows, bad_pct=args.bad)
            print(f"generated {args.rows:,} inventor rows in {time.perf_counter() - t:.1f} s")
        floors, adapters = [], []
        for _ in range(max(1, args.repeat)):
            floors.append(_child("floor", folder))
            adapters.append(_child("adapter", folder))
    base = min(floors, key=lambda r: r["seconds"])
    ours = min(adapters, key=lambda r: r["seconds"])
    if len(floors) > 1:
        print("floor runs (s): " + ", ".join(f"{r['seconds']:.1f}" for r in floors))
        print("adapter runs (s): " + ", ".join(f"{r['seconds']:.1f}" for r in adapters))
    ratio = ours["seconds"] / base["seconds"]
    cpu_ratio = ours["cpu_s"] / base["cpu_s"]
    print(
        f"floor (unzip + DuckDB read and join): {base['seconds']:.1f} s "
        f"({base['cpu_s']:.1f} s CPU), {base['peak_mib']:.0f} MiB peak"
    )
    print(
        f"adapter (patentsview -> records): {ours['seconds']:.1f} s ({ours['cpu_s']:.1f} s CPU), "
        f"{ours['peak_mib']:.0f} MiB peak; ratio {ratio:.2f} (target <= 1.5; CPU "
        f"{cpu_ratio:.2f}), memory {'<' if ours['peak_mib'] < 4096 else '>='} 4 GiB"
    )
    print(
        f"rows read {ours['rows_read']:,.0f} = accepted {ours['rows_accepted']:,.0f} + "
        f"filtered {ours['rows_filtered']:,.0f} + rejected {ours['rows_rejected']:,.0f}; "
        f"weight {ours['weight']:,.3f} over {ours['documents']:,.0f} patents"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"floor": base, "adapter": ours, "ratio": ratio, "cpu_ratio": cpu_ratio})
        )
    _ = resource  # imported for the child processes' measurement


if __name__ == "__main__":
    main()
