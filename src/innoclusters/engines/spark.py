"""The Spark engine: records, locations and profile pre-aggregation on Apache Spark.

With ``engine = "spark"`` (``--engine spark``) the heavy part of a run, reading and
validating every input row, fractional counting, geocoding and summing the weights per
rounded location and per location and organisation or field, runs on Apache Spark through
PySpark, on any master (``local[N]``, standalone, YARN, Kubernetes, Databricks). Only the
aggregates come back to the driver: the locations table (millions of rows, not billions),
the profiles' pre-aggregates, the rejects and the row counts. Clustering, ranking and
publishing then run on the driver exactly as with the DuckDB engine.

Identical results by construction, not by imitation:

- every row is validated by the same SQL as the DuckDB engine
  (:func:`innoclusters.records.validation_sql`), run by DuckDB on each Arrow batch of rows
  inside the Spark tasks (``mapInArrow``); grid cells and the conversion of each weight to
  ``DECIMAL(38, 18)`` are the same DuckDB expressions too
  (:func:`innoclusters.locations.grid_index_sql`);
- fractional weights are computed with the same double-precision expression, and summed
  per location exactly in ``DecimalType(38, 18)`` (Spark's decimal sums are exact, like
  DuckDB's), so the order of the rows and the partitioning do not matter;
- the driver turns the exact sums into the locations table with the DuckDB engine's own
  query (:func:`innoclusters.locations.locations_from_parts`), so even the final conversion
  to double and the dominant country and city are the same code.

Places are geocoded on the driver over the distinct ``(city, region, country)`` values
(thousands, not billions) with :mod:`innoclusters.places`, then joined back on the
executors as a broadcast table; so are countries of coordinates without one.

What it reads: records tables (CSV, TSV, Parquet, JSON Lines, as
:func:`innoclusters.records.read_records` reads them), local paths or any URI Spark reads
(``s3a://``, ``gs://``, ``abfss://``, ``hdfs://``, ``dbfs:/``), a file, a folder or a glob;
and the upstream files of every source adapter (PatentsView, OpenAlex, Crunchbase, REGPAT,
de Rassenfosse), planned by the adapter itself and read on Spark by
:mod:`~innoclusters.engines.spark_sources`. Rank uncertainty (which reruns the records)
stays on the DuckDB engine: the Spark engine refuses it with a one-line error. See
``docs/spark.md`` for the differences in the rejects' line numbers of text files.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import hashlib
import os
import re
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from innoclusters import countries, places
from innoclusters import sources as sources_pkg
from innoclusters._io import format_of
from innoclusters.config import METRICS, Settings
from innoclusters.editions import resolve_windows
from innoclusters.engines.spark_sources import ADAPTERS as SPARK_ADAPTERS
from innoclusters.engines.spark_sources import (
    AdapterScan,
    adapter_scans,
    local_header,
    sql_batches,
)
from innoclusters.errors import InputError, SettingsError
from innoclusters.locations import grid_index_sql, locations_from_parts
from innoclusters.profiles import KINDS
from innoclusters.records import (
    RECORD_COLUMNS,
    FileStats,
    RecordSet,
    geocode_todo,
    marked_synthetic,
    match_columns,
    validation_sql,
)
from innoclusters.sources import Prepared, SourceSpec

__all__ = ["INSTALL_HINT", "LOCAL_DRIVER_MEMORY", "SparkRecords", "check_settings", "spark_session"]

#: How to get what the Spark engine needs.
INSTALL_HINT = (
    "install PySpark with pip install 'innoclusters[spark]' (it needs Java 17 or later), "
    "or run with --engine duckdb"
)

#: JVM heap of a local master's driver (which is also its executor), unless
#: ``PYSPARK_SUBMIT_ARGS`` sets ``spark.driver.memory``.
LOCAL_DRIVER_MEMORY = "4g"

# A URI Spark reads (s3a://, gs://, abfss://, hdfs://, dbfs:/, file:/); a path given as a
# pathlib.Path has lost one slash of '//' (s3a:/bucket/key), which is put back.
_URI = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+):/+(.*)$")
_URI_SCHEMES = ("s3", "s3a", "s3n", "gs", "abfs", "abfss", "wasb", "wasbs", "hdfs", "dbfs", "file")

# Rows of text files are numbered from Spark's monotonically increasing ids: the partition
# index sits above bit 33.
_PARTITION_SHIFT = 33

# The innermost error of a failed Spark job, and the file it was reading.
_SPARK_CAUSE = re.compile(r"Caused by: [\w.$]+: (\[[A-Z_.]+\].*)")
_SPARK_FILE = re.compile(
    r"\[FAILED_READ_FILE[A-Z_.]*\] Encountered error while reading file (\S+?)\.?\s"
)

# Reason of a text row with bytes that are not valid in its encoding (the file is refused).
UNDECODED = "not valid UTF-8 text"

# Columns of the rows after validation (and their Spark types).
_ROWS_SCHEMA = (
    "metric string, doc_id string, year int, lat double, lon double, country string, "
    "weight double, share double, city string, region string, org string, field string, "
    "file_id int, _fi int, _pos bigint, reason string, _filter string"
)

# Columns of the records after fractional counting, as the aggregation reads them.
_KEYED_SCHEMA = (
    "metric string, year int, li bigint, lo bigint, country string, city string, "
    "org string, field string, w decimal(38,18)"
)

_JAVA_CHARSETS = {"utf-8": "UTF-8", "iso8859-1": "ISO-8859-1", "cp1252": "windows-1252"}


def _pyspark() -> Any:
    """The ``pyspark.sql`` module, or a one-line error saying how to install it."""
    try:
        import pyspark.sql
    except ImportError:
        raise SettingsError(f"engine 'spark': PySpark is not installed; {INSTALL_HINT}") from None
    return pyspark.sql


def check_settings(settings: Settings) -> None:
    """Refuse, before any work, what the Spark engine does not run.

    Raises
    ------
    SettingsError
        When rank uncertainty is asked for (its replicates rerun the records, which stay
        on the executors), or PySpark is missing.
    """
    if settings.uncertainty > 0:
        raise SettingsError(
            "setting 'uncertainty' reruns the records, which the Spark engine leaves on the "
            "executors; run with --engine duckdb, or run without it and add it afterwards "
            "with 'innoclusters uncertainty RUN_DIR' (it reruns on DuckDB; identical results)"
        )
    _pyspark()


def spark_session(master: str = "") -> Any:
    """The active Spark session, or a new one on ``master``.

    Parameters
    ----------
    master
        A Spark master URL; empty: the session of ``spark-submit`` or of a notebook when
        there is one, else ``local[*]``. A local master runs its Python workers with this
        interpreter.

    Raises
    ------
    SettingsError
        When PySpark is missing or Spark does not start (no Java, a master that cannot be
        reached).
    """
    sql = _pyspark()
    active = sql.SparkSession.getActiveSession()
    if active is not None and (not master or active.sparkContext.master == master):
        return active
    builder = sql.SparkSession.builder.appName("innoclusters")
    if master:
        builder = builder.master(master)
    local = master.startswith("local") or (not master and "SPARK_ENV_LOADED" not in os.environ)
    if local and "PYSPARK_PYTHON" not in os.environ:
        # PySpark starts its Python workers with $PYSPARK_PYTHON (else python3 from PATH):
        # local workers must be this interpreter, which has innoclusters installed.
        os.environ["PYSPARK_PYTHON"] = sys.executable
    if local and "spark.driver.memory" not in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
        # In local mode the driver's JVM is the executor too: it caches the records and
        # receives the aggregates; Spark's 1 GB default loses task results at 4 M rows.
        builder = builder.config("spark.driver.memory", LOCAL_DRIVER_MEMORY)
    builder = builder.config("spark.ui.showConsoleProgress", "false").config(
        "spark.sql.session.timeZone", "UTC"
    )
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # Java missing, master unreachable: PySpark raises many kinds
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SettingsError(
            f"engine 'spark': Spark did not start on master '{master or 'local[*]'}' ({first}); "
            "check that Java 17 or later is installed (JAVA_HOME) and the spark_master setting"
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@dataclasses.dataclass(frozen=True)
class _Input:
    """One entry of the sources: a file, folder or glob of one records table."""

    name: str
    uri: str
    metric: str
    fmt: str
    index: int
    options: Mapping[str, Any]
    local: Path | None
    #: For the files of a source adapter: what :func:`innoclusters.sources.prepare` planned,
    #: and the source (several inputs share one when it has several row-defining files).
    prepared: Prepared | None = None
    spec: SourceSpec | None = None


def _uri_of(entry: str | Path) -> str:
    """A source entry as text, with the ``//`` of a URI a Path collapsed put back."""
    text = str(entry)
    match = _URI.match(text)
    if match and match.group(1).lower() in _URI_SCHEMES and not Path(text).exists():
        scheme, rest = match.group(1), match.group(2)
        return f"{scheme}:///{rest}" if scheme.lower() == "file" else f"{scheme}://{rest}"
    return text


def _is_uri(text: str) -> bool:
    match = _URI.match(text)
    return bool(match and match.group(1).lower() in _URI_SCHEMES and "://" in text)


def _only_tables(adapter: str, where: str) -> InputError:
    return InputError(
        f"{where}: {adapter} files are read by the DuckDB engine only; the Spark engine reads "
        f"records tables and the {', '.join(SPARK_ADAPTERS)} adapters (docs/spark.md); run "
        "with --engine duckdb"
    )


def _adapter_inputs(spec: SourceSpec, metric: str, start: int, workdir: Path) -> list[_Input]:
    """The inputs of a source read by an adapter: one per row-defining file it plans."""
    if spec.adapter not in SPARK_ADAPTERS:
        raise _only_tables(spec.adapter, ", ".join(map(str, spec.paths)))
    out: list[_Input] = []
    for prepared in sources_pkg.prepare(spec, workdir, plan_only=True):
        path = prepared.path
        out.append(
            _Input(
                str(path),
                str(path.absolute()),
                metric,
                "source",
                start + len(out),
                spec.options,
                path,
                prepared=prepared,
                spec=spec,
            )
        )
    return out


def _inputs(
    sources: Mapping[str, Sequence[str | Path | SourceSpec]], settings: Settings, workdir: Path
) -> list[_Input]:
    """Every source entry as an :class:`_Input`; refuse what the engine does not read.

    Sources named or detected as an upstream layout are planned by their adapter
    (:func:`innoclusters.sources.prepare`, which checks its settings and finds its files;
    it only plans: the engine unzips each zipped table once, when it reads it).
    """
    unknown = [m for m in sources if m not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; use {', '.join(METRICS)}")
    if not any(sources.values()):
        raise InputError("no input files; pass at least one of --patents, --publications, --vc")
    out: list[_Input] = []
    for metric in METRICS:
        setting = dict(settings.sources.get(metric, {}))
        given = str(setting.pop("format", "")).lower()
        for entry in sources.get(metric, ()):
            options: Mapping[str, Any] = setting
            if isinstance(entry, SourceSpec):
                adapter, names, options = (
                    entry.adapter,
                    [str(p) for p in entry.paths],
                    entry.options,
                )
                spec = entry
            else:
                text = _uri_of(entry)
                adapter, names = "", [text]
                if not _is_uri(text):
                    parsed, path = sources_pkg.parse_source(text)
                    adapter, names = parsed, [str(path)]
                # As the DuckDB engine: the metric's settings belong to its 'format'.
                adapter = adapter or given
                options = setting if given in ("", adapter) else {}
                spec = SourceSpec(adapter, tuple(Path(n) for n in names), options)
            local = [Path(n) for n in names if not _is_uri(n)]
            if not adapter and local and all(p.exists() for p in local):
                adapter = sources_pkg.detect(local)
                spec = dataclasses.replace(spec, adapter=adapter)
            if adapter not in ("", sources_pkg.table.NAME):
                for inp in _adapter_inputs(spec, metric, len(out), workdir):
                    if any(i.name == inp.name for i in out):
                        raise InputError(f"{inp.name}: passed twice; pass it once")
                    out.append(inp)
                continue
            for name in names:
                out.append(_input(name, metric, len(out), options))
                if sum(i.name == name for i in out) > 1:
                    raise InputError(f"{name}: passed twice; pass each file once")
    return out


def _input(name: str, metric: str, index: int, options: Mapping[str, Any]) -> _Input:
    if _is_uri(name):
        tail = name.rstrip("/").rsplit("/", 1)[-1]
        fmt = format_of(tail) if "." in tail and "*" not in tail else "parquet"
        return _Input(name, name, metric, fmt, index, options, None)
    path = Path(name)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(
            f"{path}: is a directory; the Spark engine reads folders and globs of "
            "object-storage URIs (s3a://...), pass local files one by one"
        )
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; it needs a header row and data rows")
    return _Input(name, str(path.absolute()), metric, format_of(path), index, options, path)


def _read_error(inp: _Input, exc: BaseException) -> InputError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return InputError(
        f"{inp.name}: cannot be read as {inp.fmt.upper()} by Spark ({first}); check the file "
        "and its format"
    )


def _scan(spark: Any, inp: _Input, encoding: str) -> tuple[Any, str]:
    """A Spark frame of every row of an input and the name of its malformed-row column.

    Text files are read with every column as text (like the DuckDB engine), CSV with
    quoted fields that may hold line breaks (a CSV file is one task).
    """
    sql = _pyspark()
    corrupt = "_corrupt_record"
    try:
        if inp.fmt in ("csv", "tsv"):
            name = codecs.lookup(encoding).name
            charset = _JAVA_CHARSETS.get(name, name)
            sep = "\t" if inp.fmt == "tsv" else ","
            opts = {
                "header": True,
                "sep": sep,
                "quote": '"',
                "escape": '"',
                "encoding": charset,
            }
            header = (
                local_header(inp.local, sep, encoding)
                if inp.local is not None
                else spark.read.options(**opts).csv(inp.uri).columns
            )
            fields = [sql.types.StructField(c, sql.types.StringType()) for c in header]
            fields.append(sql.types.StructField(corrupt, sql.types.StringType()))
            frame = (
                spark.read.schema(sql.types.StructType(fields))
                .options(**opts, multiLine=True, mode="PERMISSIVE")
                .option("columnNameOfCorruptRecord", corrupt)
                .csv(inp.uri)
            )
        elif inp.fmt == "parquet":
            frame = spark.read.parquet(inp.uri)
        else:
            if codecs.lookup(encoding).name != "utf-8":
                raise SettingsError(
                    f"{inp.name}: the Spark engine reads JSON Lines as UTF-8 only; save it as "
                    "UTF-8 or run with --engine duckdb"
                )
            frame = spark.read.option("columnNameOfCorruptRecord", corrupt).json(inp.uri)
    except SettingsError:
        raise
    except Exception as exc:
        raise _read_error(inp, exc) from None
    return frame, corrupt


def _duckdb_types(schema: Any) -> dict[str, str]:
    """DuckDB's type of each column of a Spark schema, as DuckDB sees it through Arrow."""
    sql = _pyspark()
    arrow = sql.pandas.types.to_arrow_schema(schema)
    con = duckdb.connect()
    con.register("_empty", pa.Table.from_batches([], schema=arrow))
    rows = con.execute("DESCRIBE SELECT * FROM _empty").fetchall()
    con.close()
    return {str(r[0]): str(r[1]) for r in rows}


def _mapping(inp: _Input, header: Sequence[str]) -> dict[str, str]:
    """Records column -> the input's column; raise when a required one is missing."""
    given = sources_pkg.table.map_columns(inp.options, list(header), inp.name)
    rest = [c for c in header if c not in given.values()]
    mapping = {k: v for k, v in match_columns(rest, path=inp.name).items() if k not in given}
    mapping.update(given)
    missing = [c for c in ("doc_id", "year") if c not in mapping]
    if not ({"lat", "lon"} <= mapping.keys() or "city" in mapping):
        missing += [c for c in ("lat", "lon") if c not in mapping]
    if missing:
        found = ", ".join(f"'{c}'" for c in header) or "none"
        raise InputError(
            f"{inp.name}: missing column(s) {', '.join(missing)} for {inp.metric} "
            f"(found: {found}); add them to the header, or map them with "
            f"[sources.{inp.metric}] columns = {{...}} in the settings"
        )
    return mapping


def _validate_batches(batches: Iterator[pa.RecordBatch], *, query: str) -> Iterator[pa.RecordBatch]:
    """Run the records validation (DuckDB SQL) on each Arrow batch of a Spark task."""
    con = duckdb.connect(config={"threads": 1})
    con.register("_countries", countries.alpha2_table())
    for batch in batches:
        con.register("_batch", pa.Table.from_batches([batch]))
        yield from con.sql(query).to_arrow_table().to_batches()
        con.unregister("_batch")
    con.close()


def _validated(spark: Any, inp: _Input, encoding: str) -> tuple[Any, dict[str, str], list]:
    """The validated rows of one input (malformed ones rejected), its mapping and files."""
    sql = _pyspark()
    F = sql.functions
    frame, corrupt = _scan(spark, inp, encoding)
    header = [c for c in frame.columns if c != corrupt]
    mapping = _mapping(inp, header)
    try:
        files = sorted(frame.inputFiles())
    except Exception as exc:
        raise _read_error(inp, exc) from None
    # Rows name their file as Hadoop writes it (file:/x where inputFiles says file:///x).
    spellings: dict[str, int] = {}
    for i, f in enumerate(files):
        for variant in (f, re.sub(r"^file:///", "file:/", f), urllib.parse.unquote(f)):
            spellings.setdefault(variant, i)
            spellings.setdefault(re.sub(r"^file:///", "file:/", variant), i)
    index = F.create_map(*[x for f, i in spellings.items() for x in (F.lit(f), F.lit(i))])
    pos = F.col("_metadata.row_index") if inp.fmt == "parquet" else F.monotonically_increasing_id()
    # Positions are taken on the scan itself, before any filter.
    scan = frame.select(
        "*",
        F.coalesce(index[F.col("_metadata.file_path")], F.lit(-1)).cast("int").alias("_fi"),
        pos.alias("_pos"),
    )
    # Malformed rows (CSV rows with too few or too many fields, JSON lines that are not an
    # object) are rejected in the same pass as the others.
    bad_row = F.col(corrupt).isNotNull() if corrupt in frame.columns else F.lit(False)
    columns = [F.col(f"`{f}`").alias(c) for c, f in mapping.items()]
    # Spark decodes bytes that are not valid UTF-8 as U+FFFD, silently; such rows are
    # found here and the file refused as the DuckDB engine refuses it (see read).
    undecoded = F.lit(False)
    if inp.fmt != "parquet" and codecs.lookup(encoding).name == "utf-8":
        undecoded = functools.reduce(
            lambda a, b: a | b,
            [F.coalesce(F.instr(F.col(f"`{c}`"), "\ufffd") > 0, F.lit(False)) for c in header],
            F.lit(False),
        )
    renamed = scan.select(
        *columns, "_fi", "_pos", bad_row.alias("_bad"), undecoded.alias("_undecoded")
    )
    types = _duckdb_types(renamed.schema)
    types = {c: types[c] for c in mapping}
    check = validation_sql(
        "SELECT * FROM _batch WHERE NOT (_bad OR _undecoded)",
        inp.metric,
        types,
        inp.index,
        "struct_pack(fi := _fi, pos := _pos)",
    )
    malformed = (
        "malformed row: not a JSON object"
        if inp.fmt == "jsonl"
        else f"malformed row: not {len(header)} fields"
    )
    query = f"""SELECT metric, doc_id, CAST(year AS INTEGER) AS year, CAST(lat AS DOUBLE) AS lat,
      CAST(lon AS DOUBLE) AS lon, country, CAST(weight AS DOUBLE) AS weight,
      CAST(share AS DOUBLE) AS share, city, region, org, field,
      CAST(file_id AS INTEGER) AS file_id, CAST(line.fi AS INTEGER) AS _fi,
      CAST(line.pos AS BIGINT) AS _pos, reason, _filter
      FROM ({check})
      UNION ALL
      SELECT '{inp.metric}', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        {inp.index}, _fi, _pos,
        CASE WHEN _undecoded THEN '{UNDECODED}' ELSE '{malformed}' END, NULL
      FROM _batch WHERE _bad OR _undecoded"""
    rows = renamed.mapInArrow(functools.partial(_validate_batches, query=query), _ROWS_SCHEMA)
    return rows, mapping, files


def _validated_source(scan: AdapterScan, metric: str) -> Any:
    """The validated rows of an adapter's scan (:mod:`~innoclusters.engines.spark_sources`).

    The adapter's output columns go through the records validation as in the DuckDB
    engine (:func:`innoclusters.records.validation_sql`); each row keeps its input id,
    its position at the scan and the adapter's filter.
    """
    columns = [c for c in scan.frame.columns if c not in ("_fid", "_pos")]
    con = duckdb.connect()
    con.register("_batch", pa.Table.from_batches([], schema=_arrow_schema(scan.frame.schema)))
    types = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE SELECT * FROM _batch").fetchall()}
    con.close()
    check = validation_sql(
        f"SELECT {', '.join(columns)}, _fid, _pos FROM _batch",
        metric,
        {c: types[c] for c in columns},
        0,
        "struct_pack(fid := _fid, pos := _pos)",
    )
    query = f"""SELECT metric, doc_id, CAST(year AS INTEGER) AS year, CAST(lat AS DOUBLE) AS lat,
      CAST(lon AS DOUBLE) AS lon, country, CAST(weight AS DOUBLE) AS weight,
      CAST(share AS DOUBLE) AS share, city, region, org, field,
      CAST(line.fid AS INTEGER) AS file_id, CAST(-1 AS INTEGER) AS _fi,
      CAST(line.pos AS BIGINT) AS _pos, reason, _filter
      FROM ({check})"""
    return scan.frame.mapInArrow(functools.partial(_validate_batches, query=query), _ROWS_SCHEMA)


def _arrow_schema(schema: Any) -> pa.Schema:
    return _pyspark().pandas.types.to_arrow_schema(schema)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclasses.dataclass
class SparkRecords:
    """The records of a run, held by Spark; the driver holds only aggregates.

    Made by :meth:`read`. ``records`` is the driver's :class:`~innoclusters.records.RecordSet`
    (its DuckDB connection holds the ``rejects`` and, after :meth:`prepare_profiles`, the
    profiles' pre-aggregates; it has no ``records`` table: the records stay in Spark).
    """

    spark: Any
    records: RecordSet
    frame: Any
    present: tuple[str, ...]
    spans: dict[str, tuple[int, int]]
    years: dict[str, list[int]]
    rows_of: dict[str, int]
    _keyed: Any = None
    _windows: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    #: Where zipped upstream tables were unzipped (the frames may read them again).
    _workdir: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def read(
        cls,
        sources: Mapping[str, Sequence[str | Path | SourceSpec]],
        settings: Settings,
        *,
        connection: duckdb.DuckDBPyConnection,
    ) -> SparkRecords:
        """Read, validate, geocode and fractionally count the records on Spark.

        Parameters
        ----------
        sources
            Records tables per metric: paths or URIs (files; folders and globs of URIs).
        settings
            The run's settings (``spark_master``, ``encoding``, ``sources``).
        connection
            The driver's DuckDB connection, for the rejects and the aggregates.

        Raises
        ------
        InputError, SettingsError
            As the DuckDB engine, and for inputs the Spark engine does not read.
        """
        check_settings(settings)
        workdir = tempfile.TemporaryDirectory(prefix="innoclusters-spark-")
        try:
            return cls._read(sources, settings, connection, workdir)
        except BaseException:
            workdir.cleanup()
            raise

    @classmethod
    def _read(
        cls,
        sources: Mapping[str, Sequence[str | Path | SourceSpec]],
        settings: Settings,
        connection: duckdb.DuckDBPyConnection,
        workdir: tempfile.TemporaryDirectory[str],
    ) -> SparkRecords:
        inputs = _inputs(sources, settings, Path(workdir.name))
        spark = spark_session(settings.spark_master)
        F = _pyspark().functions
        frames: list[Any] = []
        # Per input: its column mapping and every file read for it.
        meta: dict[int, tuple[dict[str, str], list[str]]] = {}
        done: set[int] = set()
        for inp in inputs:
            if inp.prepared is None:
                frame, mapping, files = _validated(spark, inp, settings.encoding)
                frames.append(frame)
                meta[inp.index] = (mapping, files)
                continue
            meta[inp.index] = (dict(inp.prepared.columns), [str(f) for f in inp.prepared.files])
            if inp.index in done:
                continue
            group = [i for i in inputs if i.spec is inp.spec]
            done.update(i.index for i in group)
            assert inp.spec is not None
            try:
                scans = adapter_scans(
                    spark,
                    inp.spec,
                    [i.prepared for i in group if i.prepared is not None],
                    [i.index for i in group],
                    Path(workdir.name),
                )
            except Exception as exc:
                raise _source_error(group, exc) from None
            frames += [_validated_source(scan, inp.metric) for scan in scans]
        rows = functools.reduce(lambda a, b: a.unionByName(b), frames)
        try:
            rows = rows.persist()
            # The first pass over the inputs (they are read once, then cached).
            todo = (
                rows.filter(
                    (F.col("reason") == "")
                    & F.col("_filter").isNull()
                    & F.col("lat").isNull()
                    & F.col("lon").isNull()
                    & F.col("city").isNotNull()
                )
                .groupBy("metric", "city", "region", "country")
                .agg(F.count(F.lit(1)).alias("rows"))
                .toPandas()
            )
        except Exception as exc:
            first = _first_line(exc)
            # An adapter's input names every upstream file it reads.
            names = ", ".join(
                dict.fromkeys(
                    str(f)
                    for i in inputs
                    for f in (i.prepared.files if i.prepared is not None else (i.name,))
                )
            )
            raise InputError(f"{names}: cannot be read by Spark ({first})") from None
        geocoding: dict[str, Any] = {}
        placed_rows = rows
        if len(todo):
            placed, geocoding = geocode_todo(todo)
            placed_rows = _place(spark, rows, placed)
        placed_rows = placed_rows.persist()
        valid = placed_rows.filter((F.col("reason") == "") & F.col("_filter").isNull())
        docs = valid.groupBy("metric", "doc_id").agg(
            F.sum(F.when(F.col("weight").isNull(), F.col("share"))).alias("shares"),
            F.coalesce(F.sum("weight"), F.lit(0.0)).alias("given"),
        )
        # The DuckDB engine's expression, in the same double arithmetic.
        share = (
            F.greatest(F.lit(1.0) - F.col("given"), F.lit(0.0)) * F.col("share") / F.col("shares")
        )
        # Cached before the countries are looked up, so the documents are shuffled once.
        base = (
            valid.join(docs, ["metric", "doc_id"])
            .select(
                *(
                    F.coalesce(F.col("weight"), share).alias("weight") if c == "weight" else c
                    for c in RECORD_COLUMNS
                ),
                "file_id",
            )
            .persist()
        )
        assigned, records = _assign_countries(spark, base)
        if assigned:
            geocoding["countries_assigned"] = assigned
        records = records.persist()
        counted = records.groupBy("file_id", "metric", "year").agg(F.count(F.lit(1)).alias("n"))
        by_file = counted.toPandas()
        if records is not base:
            base.unpersist()
        accepted = by_file.groupby("file_id")["n"].sum().to_dict()
        by_year = by_file.groupby(["metric", "year"], as_index=False)["n"].sum()
        rows_of = by_file.groupby("metric")["n"].sum().to_dict()
        filtered: dict[int, dict[str, int]] = {}
        if any(i.prepared is not None for i in inputs):
            counts = (
                placed_rows.filter(F.col("_filter").isNotNull())
                .groupBy("file_id", "_filter")
                .agg(F.count(F.lit(1)).alias("n"))
                .toPandas()
                .sort_values(["file_id", "_filter"])
            )
            for file_id, name, n in zip(
                counts["file_id"], counts["_filter"], counts["n"], strict=True
            ):
                filtered.setdefault(int(file_id), {})[str(name)] = int(n)
        rejects, rejected = _rejects(placed_rows, inputs, meta)
        undecoded = rejects[rejects["reason"] == UNDECODED]
        if len(undecoded):
            where = undecoded.sort_values(["file", "line"]).iloc[0]
            n = int((undecoded["file"] == where["file"]).sum())
            raise InputError(
                f"{where['file']}: line {int(where['line'])} is not valid UTF-8 text ({n} such "
                "line(s)); pass the file's encoding with --encoding (e.g. --encoding latin-1 "
                "or cp1252) or save it as UTF-8"
            )
        placed_rows.unpersist()
        rows.unpersist()
        connection.execute(
            """CREATE OR REPLACE TABLE rejects (file VARCHAR, line BIGINT, metric VARCHAR,
            doc_id VARCHAR, reason VARCHAR)"""
        )
        connection.register("_rejects_frame", rejects)
        connection.execute("INSERT INTO rejects SELECT * FROM _rejects_frame")
        connection.unregister("_rejects_frame")
        stats = [
            _file_stats(
                inp,
                meta[inp.index][0],
                meta[inp.index][1],
                accepted=accepted.get(inp.index, 0),
                rejected=rejected.get(inp.index, 0),
                filtered=filtered.get(inp.index, {}),
                encoding=settings.encoding,
            )
            for inp in inputs
        ]
        years: dict[str, list[int]] = {}
        for metric, year in sorted(zip(by_year["metric"], by_year["year"], strict=True)):
            years.setdefault(str(metric), []).append(int(year))
        spans = {m: (ys[0], ys[-1]) for m, ys in years.items()}
        return cls(
            spark=spark,
            records=RecordSet(connection=connection, files=stats, geocoding=geocoding),
            frame=records,
            present=tuple(m for m in METRICS if m in years),
            spans=spans,
            years=years,
            rows_of={str(m): int(n) for m, n in rows_of.items()},
            _workdir=workdir,
        )

    def metrics(self) -> tuple[str, ...]:
        """Metrics with at least one accepted record, in output order."""
        return self.present

    def edition_windows(self, settings: Settings) -> dict[str, tuple[int, int]]:
        """Year window of each metric present (:func:`~innoclusters.locations.edition_windows`)."""
        return resolve_windows(self.spans, settings, metrics=self.present)

    def years_present(self) -> dict[str, list[int]]:
        """The years that hold at least one accepted record, per metric (sorted)."""
        return self.years

    def _keyed_frame(self, rounding: float, windows: Mapping[str, tuple[int, int]]) -> Any:
        """The records with grid cells, exact weights and an in-window flag (persisted)."""
        if self._keyed is not None and self._windows == dict(windows):
            return self._keyed
        F = _pyspark().functions
        li = grid_index_sql("lat", rounding=rounding)
        lo = grid_index_sql("lon", rounding=rounding, longitude=True)
        query = f"""SELECT metric, CAST(year AS INTEGER) AS year, {li} AS li, {lo} AS lo,
          country, city, org, field, CAST(weight AS DECIMAL(38, 18)) AS w FROM _batch"""
        keyed = self.frame.select(
            "metric", "year", "lat", "lon", "country", "city", "org", "field", "weight"
        ).mapInArrow(functools.partial(sql_batches, query=query), _KEYED_SCHEMA)
        win = self.spark.createDataFrame(
            [(m, int(a), int(b)) for m, (a, b) in windows.items()],
            "metric string, first int, last int",
        )
        keyed = keyed.join(F.broadcast(win), "metric").select(
            "*", F.col("year").between(F.col("first"), F.col("last")).alias("_in")
        )
        self._keyed = keyed.persist()
        self._windows = dict(windows)
        return self._keyed

    def build_locations(
        self, *, rounding: float, windows: Mapping[str, tuple[int, int]]
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Round and sum exactly on Spark; the driver makes the table with the DuckDB query.

        Returns what :func:`innoclusters.locations.build_locations` returns, identical.
        """
        F = _pyspark().functions
        keyed = self._keyed_frame(rounding, windows)
        parts = (
            keyed.filter("_in")
            .groupBy("metric", "li", "lo", "country", "city")
            .agg(F.sum("w").alias("w"), F.count(F.lit(1)).alias("n"))
            .toArrow()
        )
        con = self.records.connection
        con.register("_parts_arrow", parts)
        con.execute("CREATE OR REPLACE TEMP TABLE _parts AS SELECT * FROM _parts_arrow")
        con.unregister("_parts_arrow")
        locations = locations_from_parts(con, rounding=rounding)
        # In-window records and exact weight per metric: the sums of the exact sums.
        totals = con.execute(
            "SELECT metric, sum(n), CAST(sum(w) AS DOUBLE) FROM _parts GROUP BY metric"
        ).fetchall()
        con.execute("DROP TABLE _parts")
        inside = {str(m): (int(n), float(w)) for m, n, w in totals}
        counts: dict[str, Any] = {}
        for metric in windows:
            if metric not in self.rows_of:
                continue
            rows = self.rows_of[metric]
            n, weight = inside.get(metric, (0, 0.0))
            counts[metric] = {
                "window": list(windows[metric]),
                "records": rows,
                "records_in_window": n,
                "records_outside_window": rows - n,
                "weight_in_window": weight,
            }
        return locations, counts

    def prepare_profiles(self, *, rounding: float, windows: Mapping[str, tuple[int, int]]) -> None:
        """The profiles' pre-aggregates (:func:`innoclusters.profiles.prepare_profiles`) on Spark.

        Leaves ``_prof_org`` and ``_prof_field`` in the driver's connection, so that
        :func:`innoclusters.profiles.cluster_profiles` runs with ``prepared=True``.
        """
        F = _pyspark().functions
        keyed = self._keyed_frame(rounding, windows)
        con = self.records.connection.cursor()
        for kind in KINDS:
            table = (
                keyed.filter("_in")
                .groupBy("metric", "li", "lo", F.col(kind).alias("value"))
                .agg(F.sum("w").alias("w"))
                .toArrow()
            )
            con.register("_prof_arrow", table)
            con.execute(f"CREATE OR REPLACE TABLE _prof_{kind} AS SELECT * FROM _prof_arrow")
            con.unregister("_prof_arrow")
        con.close()
        keyed.unpersist()
        self.frame.unpersist()
        if self._workdir is not None:
            self._workdir.cleanup()


def _place(spark: Any, rows: Any, placed: pd.DataFrame) -> Any:
    """Rows with the geocoded places joined in (broadcast), as the DuckDB engine does."""
    F = _pyspark().functions
    table = pa.Table.from_pandas(placed, preserve_index=False).cast(
        pa.schema(
            [
                ("city", pa.string()),
                ("region", pa.string()),
                ("country", pa.string()),
                ("g_lat", pa.float64()),
                ("g_lon", pa.float64()),
                ("g_country", pa.string()),
                ("g_reason", pa.string()),
            ]
        )
    )
    frame = spark.createDataFrame(table).withColumnsRenamed(
        {"city": "p_city", "region": "p_region", "country": "p_country"}
    )
    r = rows.alias("r")
    unplaced = F.col("r.lat").isNull() & F.col("r.lon").isNull()
    cond = (
        unplaced
        & (F.col("r.city") == F.col("p_city"))
        & F.col("r.region").eqNullSafe(F.col("p_region"))
        & F.col("r.country").eqNullSafe(F.col("p_country"))
    )
    joined = r.join(F.broadcast(frame), cond, "left")
    reason = F.when(
        (F.col("r.reason") == "") & unplaced, F.coalesce(F.col("g_reason"), F.lit(""))
    ).otherwise(F.col("r.reason"))
    return joined.select(
        *[
            F.coalesce(F.col("r.lat"), F.col("g_lat")).alias("lat")
            if c == "lat"
            else F.coalesce(F.col("r.lon"), F.col("g_lon")).alias("lon")
            if c == "lon"
            else F.coalesce(F.col("r.country"), F.col("g_country")).alias("country")
            if c == "country"
            else reason.alias("reason")
            if c == "reason"
            else F.col(f"r.{c}")
            for c in rows.columns
        ]
    )


def _assign_countries(spark: Any, records: Any) -> tuple[int, Any]:
    """Give a country to records with coordinates but none (driver lookup, broadcast join)."""
    F = _pyspark().functions
    todo = records.filter(F.col("country").isNull()).select("lat", "lon").distinct().toPandas()
    if not len(todo):
        return 0, records
    codes = places.country_at(todo["lat"].to_numpy(dtype=float), todo["lon"].to_numpy(dtype=float))
    todo["g_country"] = [c if c else None for c in codes]
    table = pa.Table.from_pandas(todo, preserve_index=False)
    frame = spark.createDataFrame(table).withColumnsRenamed({"lat": "c_lat", "lon": "c_lon"})
    cond = (
        F.col("country").isNull()
        & (F.col("lat") == F.col("c_lat"))
        & (F.col("lon") == F.col("c_lon"))
    )
    joined = records.join(F.broadcast(frame), cond, "left")
    out = joined.select(
        *[
            F.coalesce(F.col("country"), F.col("g_country")).alias("country")
            if c == "country"
            else F.col(c)
            for c in records.columns
        ]
    )
    return int(sum(1 for c in codes if c)), out


def _rejects(
    rows: Any, inputs: Sequence[_Input], meta: Mapping[int, tuple[Any, Sequence[str]]]
) -> tuple[pd.DataFrame, dict[int, int]]:
    """The rejected rows with their file and line, and the number per input.

    Lines: a Parquet row's 1-based number; a text file's data row ``k`` (0-based, in file
    order, malformed rows included) is line ``k + 2`` of a CSV (below the header) and
    ``k + 1`` of a JSON Lines file. An adapter's row is numbered as the DuckDB engine
    numbers it, by the row of its row-defining file it comes from (several rows may come
    from one: a work's authors) plus the adapter's first line.
    """
    F = _pyspark().functions
    keep = ["metric", "doc_id", "file_id", "_fi", "_pos", "reason"]
    table = (
        rows.filter((F.col("reason") != "") & F.col("_filter").isNull()).select(*keep).toPandas()
    )
    if not len(table):
        empty = pd.DataFrame(
            {
                "file": pd.Series(dtype=object),
                "line": pd.Series(dtype="int64"),
                "metric": pd.Series(dtype=object),
                "doc_id": pd.Series(dtype=object),
                "reason": pd.Series(dtype=object),
            }
        )
        return empty, {}
    offsets: dict[tuple[int, int, int], tuple[int, int]] = {}
    found = set(table["file_id"].astype(int))
    for sourced in (False, True):
        ids = [
            i.index
            for i in inputs
            if i.fmt != "parquet" and (i.prepared is not None) == sourced and i.index in found
        ]
        if not ids:
            continue
        count = F.count_distinct("_pos") if sourced else F.count(F.lit(1))
        parts = (
            rows.filter(F.col("file_id").isin(ids))
            .groupBy("file_id", "_fi", F.shiftright("_pos", _PARTITION_SHIFT).alias("part"))
            .agg(count.alias("n"), F.min("_pos").alias("first"))
            .toPandas()
            .sort_values(["file_id", "_fi", "part"])
        )
        for (file_id, fi), grp in parts.groupby(["file_id", "_fi"], sort=False):
            before = 0
            for part, n, first in zip(grp["part"], grp["n"], grp["first"], strict=True):
                offsets[(int(file_id), int(fi), int(part))] = (before, int(first))
                before += int(n)
    by_index = {i.index: i for i in inputs}
    files_of = {i.index: meta[i.index][1] for i in inputs}
    names: list[str] = []
    lines: list[int] = []
    for file_id, fi, pos in zip(table["file_id"], table["_fi"], table["_pos"], strict=True):
        inp = by_index[int(file_id)]
        files = files_of[inp.index]
        single = inp.local is not None or len(files) == 1 or int(fi) < 0
        names.append(inp.name if single else files[int(fi)])
        if inp.fmt == "parquet":
            lines.append(int(pos) + 1)
        else:
            before, first = offsets[(int(file_id), int(fi), int(pos) >> _PARTITION_SHIFT)]
            row = before + int(pos) - first
            if inp.prepared is not None:
                lines.append(row + inp.prepared.first_line)
            else:
                lines.append(row + (1 if inp.fmt == "jsonl" else 2))
    out = pd.DataFrame(
        {
            "file": names,
            "line": pd.Series(lines, dtype="int64"),
            "metric": table["metric"].astype(object),
            "doc_id": table["doc_id"].astype(object),
            "reason": table["reason"].astype(object),
        }
    )
    counts = {int(k): int(v) for k, v in table["file_id"].value_counts().items()}
    return out, counts


def _file_stats(
    inp: _Input,
    mapping: Mapping[str, str],
    files: Sequence[str],
    *,
    accepted: int,
    rejected: int,
    filtered: Mapping[str, int],
    encoding: str,
) -> FileStats:
    """What was read from one input; size and SHA-256 for local files only."""
    local = inp.local
    sourced = inp.prepared is not None
    n_filtered = sum(filtered.values())
    return FileStats(
        path=inp.name,
        metric=inp.metric,
        format=inp.fmt,
        size_bytes=local.stat().st_size if local is not None else 0,
        sha256=_sha256(local) if local is not None else "",
        rows_read=int(accepted) + int(rejected) + n_filtered,
        rows_accepted=int(accepted),
        rows_rejected=int(rejected),
        synthetic=local is not None and inp.fmt == "parquet" and marked_synthetic(local),
        columns=dict(mapping),
        encoding="" if inp.fmt == "parquet" or sourced else encoding,
        adapter=inp.prepared.adapter if inp.prepared is not None else sources_pkg.table.NAME,
        rows_filtered=n_filtered,
        filtered=dict(filtered),
        files=list(files) if sourced else [inp.name] if local is not None else list(files),
    )


def _first_line(exc: BaseException) -> str:
    """What went wrong, in one line: Spark's root cause (with the file it read), if it says.

    A failed Spark job reaches Python as a Java stack trace whose first line names only
    the call (``An error occurred while calling o308.getResult``); the innermost
    ``Caused by: ... [ERROR_CLASS] message`` says what was wrong with the data.
    """
    text = str(exc)
    causes = _SPARK_CAUSE.findall(text)
    if causes:
        cause = re.sub(r"\s*SQLSTATE: \w+\s*$", "", causes[-1]).strip()
        read = _SPARK_FILE.search(text)
        return f"{cause} (reading {read.group(1)})" if read else cause
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _source_error(group: Sequence[_Input], exc: BaseException) -> InputError:
    """Spark could not read an adapter's files: name them, as the DuckDB engine does."""
    first = _first_line(exc)
    files = [f for i in group if i.prepared is not None for f in i.prepared.files]
    adapter = group[0].prepared.adapter if group[0].prepared is not None else "source"
    names = ", ".join(dict.fromkeys(str(f) for f in files))
    return InputError(
        f"{names}: cannot be read as {adapter} tables by Spark ({first}); check they are the "
        "files as downloaded"
    )
