"""The ``innoclusters`` command: a thin layer that parses, calls the library, and prints.

User errors (:class:`~innoclusters.errors.InnoclustersError`) and errors of the machine
(a full disk, a folder that cannot be written: :class:`OSError`) print one ``Error: ...``
line on stderr and exit with status 2; an interrupt (Ctrl-C, also inside a DuckDB query)
prints one line and exits with status 130; anything else is a bug (status 1).
"""

from __future__ import annotations

import errno
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer

from innoclusters import places
from innoclusters._lazy import LazyModule
from innoclusters._version import __version__
from innoclusters.config import DEFAULT_UNCERTAINTY, DEMO_UNCERTAINTY, Settings, load_settings
from innoclusters.errors import InnoclustersError, InnoclustersWarning, InputError, SettingsError
from innoclusters.records import inspect_records
from innoclusters.sources import METRIC_OF, detect, parse_source

__all__ = ["app", "main"]


# The command layer's late imports (innoclusters._lazy). The clustering pipeline (Numba,
# SciPy), the writers and the demo world cost about a second to import; `inspect`,
# `geocode`, `--help` and `--version` need none of them, so they are imported when a
# command first uses them. Type checkers and tests/test_architecture.py (layers, and that
# both lists agree) read the imports of the TYPE_CHECKING branch.
if TYPE_CHECKING:
    import innoclusters.compare as compare_lib
    import innoclusters.demo as demo_lib
    import innoclusters.pipeline as pipeline_lib
    import innoclusters.publish as publish_lib
    import innoclusters.publish.comparison as comparison_lib
    import innoclusters.uncertainty as uncertainty_lib
else:
    compare_lib = LazyModule("innoclusters.compare")
    demo_lib = LazyModule("innoclusters.demo")
    pipeline_lib = LazyModule("innoclusters.pipeline")
    publish_lib = LazyModule("innoclusters.publish")
    comparison_lib = LazyModule("innoclusters.publish.comparison")
    uncertainty_lib = LazyModule("innoclusters.uncertainty")

app = typer.Typer(
    name="innoclusters",
    help="Find and rank science-and-technology innovation clusters (GII-style).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

#: Options that take one or more paths: ``--patents a.csv b.csv`` means
#: ``--patents a.csv --patents b.csv``.
MULTI_PATH_OPTIONS = ("--patents", "--publications", "--vc")


def fail(message: str) -> None:
    """Print ``Error: message`` on stderr and exit with status 2."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=2)


#: Exit status after an interrupt (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def os_error_message(exc: OSError) -> str:
    """One line for an error of the machine (disk full, permission, missing folder)."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the disk{where}; free some space or write elsewhere"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"permission denied{where}; choose a folder you can write to or change its permissions"
        )
    return f"{exc.strerror or exc}{where}; check the path and try again"


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C: :class:`KeyboardInterrupt` or DuckDB's own interrupt."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    duckdb = sys.modules.get("duckdb")  # only DuckDB, once imported, raises its interrupt
    if duckdb is None:
        return False
    interrupt = getattr(duckdb, "InterruptException", None)
    if interrupt is not None and isinstance(exc, interrupt):
        return True
    # DuckDB 2 checks for Ctrl-C while a query runs and raises this instead.
    return type(exc) is RuntimeError and str(exc) == "Query interrupted"


def guarded(func: Callable[[], T]) -> T:
    """Call ``func``; turn a user or machine error into ``Error: ...`` and exit status 2,
    an interrupt into one line and exit status 130."""
    try:
        return func()
    except InnoclustersError as exc:
        fail(str(exc))
        raise AssertionError("unreachable") from exc
    except OSError as exc:
        fail(os_error_message(exc))
        raise AssertionError("unreachable") from exc
    except BaseException as exc:
        if not _interrupted(exc):
            raise
        typer.echo(
            "Error: interrupted; no output was written (an earlier output folder is left "
            "as it was)",
            err=True,
        )
        raise typer.Exit(code=EXIT_INTERRUPTED) from None


def _split_multi(argv: Sequence[str]) -> list[str]:
    """Expand ``--patents a b`` into ``--patents a --patents b`` (shell globs give lists)."""
    out: list[str] = []
    current: str | None = None
    for arg in argv:
        if arg in MULTI_PATH_OPTIONS:
            current = arg
            out.append(arg)
            continue
        if arg.startswith("-"):
            current = None
            out.append(arg)
            continue
        if current is not None and out and out[-1] != current:
            out.append(current)
        out.append(arg)
    return out


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"innoclusters {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Find and rank science-and-technology innovation clusters (GII-style)."""


@app.command()
def run(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    patents: Annotated[
        list[Path] | None,
        typer.Option(
            help="Patent records (CSV, Parquet, JSON Lines), or upstream files as FORMAT:PATH, "
            "e.g. patentsview:DIR (docs/sources.md)."
        ),
    ] = None,
    publications: Annotated[
        list[Path] | None,
        typer.Option(help="Publication records, or FORMAT:PATH (e.g. openalex:DIR)."),
    ] = None,
    vc: Annotated[
        list[Path] | None,
        typer.Option(help="Venture-capital deal records, or FORMAT:PATH (e.g. crunchbase:DIR)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Settings file (TOML).")
    ] = None,
    eps_km: Annotated[
        float | None, typer.Option(help="DBSCAN radius in km (overrides the config).")
    ] = None,
    rounding: Annotated[float | None, typer.Option(help="Coordinate rounding in degrees.")] = None,
    top: Annotated[int | None, typer.Option(help="Size of the headline ranking.")] = None,
    edition: Annotated[
        int | None,
        typer.Option(
            help="Edition year Y: GII windows (patents and VC Y-5..Y-1, publications Y-6..Y-2)."
        ),
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            help="Output folder of an earlier run to compare with (rank changes, entrants, "
            "exits, growth)."
        ),
    ] = None,
    also_method: Annotated[
        str | None,
        typer.Option(
            help="Also rank the same areas by another method, e.g. 'patents,publications' or "
            "'patents=2,vc=1'."
        ),
    ] = None,
    emerging: Annotated[
        int | None, typer.Option(help="List this many clusters ranked just below the top.")
    ] = None,
    population: Annotated[
        Path | None,
        typer.Option(
            help="Population raster (GeoTIFF, e.g. GHS-POP or WorldPop) for the clusters' "
            "population; by default it is estimated from the gazetteer's places."
        ),
    ] = None,
    uncertainty: Annotated[
        int | None,
        typer.Option(
            help="Rank uncertainty: this many replicates each of data bootstrap, method draws "
            f"and both (uncertainty.csv, rank intervals in clusters.csv and the report); "
            f"default {DEFAULT_UNCERTAINTY}, 0 for none (docs/uncertainty.md)."
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help="Text encoding of the CSV/TSV/JSON Lines inputs, e.g. latin-1 or cp1252 "
            "(default utf-8)."
        ),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            help="Memory the whole run may use, e.g. '8GB' (default 4GB); DuckDB spills to a "
            "temporary folder beyond its share of it (results do not change)."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="Where records, locations and profiles are aggregated: duckdb (default) or "
            "spark (Apache Spark through PySpark; docs/spark.md). Results are identical."
        ),
    ] = None,
    spark_master: Annotated[
        str | None,
        typer.Option(
            help="Spark master URL for --engine spark, e.g. local[4], spark://host:7077, "
            "yarn (default: the spark-submit session's, else local[*])."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Cluster and rank the given records and write the output folder."""

    def job() -> Any:
        settings = load_settings(
            config,
            eps_km=eps_km,
            rounding=rounding,
            top=top,
            edition=edition,
            also_method=also_method,
            emerging=emerging,
            uncertainty=uncertainty,
            encoding=encoding,
            memory_limit=memory_limit,
            engine=engine,
            spark_master=spark_master,
        )
        sources = {"patents": patents or [], "publications": publications or [], "vc": vc or []}
        inputs = [*sources["patents"], *sources["publications"], *sources["vc"]]
        inputs += [p for p in (config, population) if p is not None]
        # The output folder is checked and locked before the heavy work starts.
        with publish_lib.output_folder(out, inputs=inputs) as folder:
            result = pipeline_lib.run(
                sources, settings, progress=not quiet, previous=previous, population=population
            )
            publish_lib.write_files(result, folder)
        return result

    result = guarded(job)
    if not quiet:
        rows = result.manifest["rows"]
        typer.echo(
            f"{len(result.clusters)} clusters from {rows['accepted']:,} records "
            f"({rows['rejected']:,} rejected); output in {out}",
            err=True,
        )


@app.command()
def compare(
    run_a: Annotated[
        Path, typer.Argument(metavar="RUN_A", help="Output folder of the earlier run.")
    ],
    run_b: Annotated[Path, typer.Argument(metavar="RUN_B", help="Output folder of the later run.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the comparison tables.")],
    top: Annotated[
        int | None, typer.Option(help="Size of the headline ranking (default: RUN_B's).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no summary.")] = False,
) -> None:
    """Compare two runs: rank changes, entrants, exits, economies, top 10s, growth."""

    def job() -> Any:
        with publish_lib.output_folder(out, inputs=[run_a, run_b]) as folder:
            previous, current = compare_lib.read_run(run_a), compare_lib.read_run(run_b)
            comparison = compare_lib.compare_runs(current, previous, top=top)
            synthetic = bool(
                current.manifest.get("synthetic") or previous.manifest.get("synthetic")
            )
            comparison_lib.write_comparison(comparison, folder, synthetic=synthetic)
        return comparison

    comparison = guarded(job)
    if not quiet:
        for line in comparison.summary():
            typer.echo(line, err=True)
        typer.echo(f"Comparison tables in {out}", err=True)


@app.command("uncertainty")
def uncertainty_command(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="Output folder of a finished run.")
    ],
    replicates: Annotated[
        int,
        typer.Option(help="Replicates each of data bootstrap, method draws and both."),
    ] = DEFAULT_UNCERTAINTY,
    seed: Annotated[int | None, typer.Option(help="Seed of the replicates.")] = None,
    previous: Annotated[
        Path | None, typer.Option(help="Output folder of an earlier run to compare with.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Add rank uncertainty to a finished run (re-reads its inputs, rewrites RUN_DIR)."""

    def job() -> Any:
        if replicates < 1:
            raise SettingsError(f"--replicates must be a whole number >= 1, got {replicates}")
        had = uncertainty_lib.recorded_uncertainty(run_dir)
        if (
            had is not None
            and had.get("replicates_per_source") == replicates
            and (seed is None or had.get("seed") == seed)
            and previous is None
        ):
            return had
        # The demo's inputs live in its folder's data/: carried into the new set.
        with publish_lib.output_folder(run_dir, keep=("data",)) as folder:
            result = pipeline_lib.rerun_with_uncertainty(
                run_dir, replicates=replicates, seed=seed, previous=previous, progress=not quiet
            )
            publish_lib.write_files(result, folder)
        return result

    result = guarded(job)
    if isinstance(result, dict):
        if quiet:
            return
        typer.echo(
            f"{run_dir} already has rank uncertainty from {replicates} replicates per source "
            f"(seed {result.get('seed')}); nothing to do (--replicates N or --seed S to redo "
            "it with others)",
            err=True,
        )
        return
    if not quiet:
        table = result.extras["uncertainty"].clusters
        shaky = int(table["top_uncertain"].sum())
        typer.echo(
            f"Rank intervals for {len(table)} clusters ({shaky} with uncertain top-"
            f"{result.settings.top} membership); uncertainty.csv in {run_dir}",
            err=True,
        )


@app.command()
def inspect(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH...",
            help="Files or folders to look at; FORMAT:PATH names the source format "
            "(e.g. patentsview:DIR).",
        ),
    ],
    metric: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Metric the files hold (patents, publications, vc); by default the source "
            "format's, or patents for plain tables.",
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Settings file (TOML) with [sources].")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of CSV/TSV/JSON Lines (default utf-8).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Dry run: how each file would be read (format, columns, rows, years, places)."""

    def job() -> list[dict[str, Any]]:
        settings = load_settings(config, encoding=encoding)
        by_metric: dict[str, list[str]] = {}
        unreadable: list[dict[str, Any]] = []
        for raw in paths:
            chosen = metric
            if chosen is None:
                try:
                    adapter, path = parse_source(raw)
                    chosen = METRIC_OF.get(adapter or detect([path]), "patents")
                except InputError as exc:
                    unreadable.append({"path": raw, "metric": "", "error": str(exc)})
                    continue
            by_metric.setdefault(chosen, []).append(raw)
        found = inspect_records(by_metric, options=settings.sources, encoding=settings.encoding)
        return found + unreadable

    found = guarded(job)
    if as_json:
        typer.echo(json.dumps(found, indent=2, default=str))
    else:
        for item in found:
            for line in _inspect_lines(item):
                typer.echo(line)
    failed = [item for item in found if "error" in item]
    if failed:
        fail(
            f"{len(failed)} of {len(found)} input(s) could not be read ("
            + ", ".join(str(item["path"]) for item in failed)
            + "); the problems are listed above"
        )


def _inspect_lines(item: dict[str, Any]) -> list[str]:
    """Human-readable lines of one file's inspection."""
    if "error" in item:
        return [f"{item['path']}: cannot be read", f"  problem: {item['error']}"]
    read = item["rows_read"] or 1
    filtered = ", ".join(f"{k} {v:,}" for k, v in item["filtered"].items())
    lines = [
        f"{item['path']}: {item['adapter']} ({item['metric']})",
        "  columns: " + ", ".join(f"{k} <- {v}" for k, v in item["columns"].items()),
        f"  rows: {item['rows_read']:,} read = {item['rows_valid']:,} usable + "
        f"{item['rows_filtered']:,} filtered{f' ({filtered})' if filtered else ''} + "
        f"{item['rows_invalid']:,} with problems",
        f"  documents: {item['documents']:,}; years: "
        + ("-".join(str(y) for y in item["years"]) if item["years"] else "none"),
        f"  places: {item['rows_with_coordinates']:,} rows with coordinates "
        f"({item['rows_with_coordinates'] / read:.1%}), {item['rows_to_geocode']:,} with a "
        f"place to geocode ({item['rows_to_geocode'] / read:.1%})",
        "  countries: " + (", ".join(f"{c} {n:,}" for c, n in item["countries"]) or "none"),
    ]
    if item["problems"]:
        lines.append("  first problems:")
        for p in item["problems"]:
            doc = f" ({p['doc_id']})" if p["doc_id"] else ""
            lines.append(f"    line {p['line']}{doc}: {p['reason']}")
    return lines


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("demo-output"),
    scale: Annotated[
        float | None,
        typer.Option(help="Size of the synthetic world (1 is a real five-year world volume)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same files.")] = 0,
    uncertainty: Annotated[
        int | None,
        typer.Option(
            help="Rank uncertainty replicates each of data, method and both; default "
            f"{DEMO_UNCERTAINTY} (a run's is {DEFAULT_UNCERTAINTY}), 0 for none."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Build the SYNTHETIC demo world and run the whole pipeline on it."""
    from rich.console import Console

    chosen = demo_lib.DEFAULT_SCALE if scale is None else scale
    result = guarded(
        lambda: demo_lib.run_demo(
            out, scale=chosen, seed=seed, quiet=quiet, uncertainty=uncertainty
        )
    )
    console = Console()
    demo_lib.print_summary(result, console, out_dir=out)
    replicates = int(result.settings.uncertainty)
    if replicates and replicates < DEFAULT_UNCERTAINTY:
        console.print(
            f"Rank intervals from {replicates} replicates per source and a what-if grid of "
            f"{result.settings.uncertainty_grid} values per choice, the demo's quick setting "
            f"(a run's default: {DEFAULT_UNCERTAINTY} replicates and "
            f"{Settings.uncertainty_grid} values); for {DEFAULT_UNCERTAINTY} "
            f"replicates: innoclusters uncertainty {out}"
        )


@app.command()
def geocode(
    in_path: Annotated[
        Path,
        typer.Argument(metavar="IN", help="Places: CSV, Parquet or JSON Lines with a city column."),
    ],
    out_path: Annotated[
        Path,
        typer.Argument(metavar="OUT", help="Output file; .csv, .parquet, .jsonl or .ndjson."),
    ],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no summary.")] = False,
) -> None:
    """Add lat, lon, country and the matched place to every row of IN (offline)."""

    stats = guarded(lambda: places.geocode_file(in_path, out_path))
    if not quiet:
        typer.echo(
            f"{stats['rows_geocoded']:,} of {stats['rows_to_geocode']:,} rows geocoded "
            f"({stats['rate']:.1%}); {stats['rows']:,} rows written to {out_path}",
            err=True,
        )


#: Python's own display of warnings, for the warnings that are not the user's.
_python_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning meant for the user as one ``Warning: ...`` line on stderr."""
    if issubclass(category, InnoclustersWarning):
        typer.echo(f"Warning: {message}", err=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``innoclusters`` console script.

    Warnings meant for the user (:class:`~innoclusters.errors.InnoclustersWarning`, e.g. an
    edition window that holds only part of its years) print as ``Warning: ...`` lines on
    stderr, every time they happen.
    """
    args = _split_multi(sys.argv[1:] if argv is None else argv)
    warnings.simplefilter("always", InnoclustersWarning)
    warnings.showwarning = _show_warning
    app(args=args, prog_name="innoclusters")
