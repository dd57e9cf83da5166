"""Records: reading, validating and fractionally counting the input rows of each metric.

A record is one document (a PCT application, an article, a VC deal) at one address. Input
files are CSV (comma-separated; ``.tsv`` for tabs), Parquet or JSON Lines, one or more per
metric, read with DuckDB so that files larger than memory work. Every row read is either
accepted into the ``records`` table or listed in the ``rejects`` table with its file, line
and reason: accepted + rejected = read, per file.

Columns: a header matches whatever its case, surrounding spaces and punctuation, and the
common aliases of :data:`COLUMN_ALIASES` (``Lat``/``Lon``, ``latitude``/``longitude``,
``lng``); the mapping used is recorded per file (:attr:`FileStats.columns`, in the
manifest). A row with coordinates is placed at them even when it also has a ``city``; only
rows without both coordinates are geocoded. ``doc_id`` is trimmed; an empty or blank one is
missing. ``country`` accepts ISO 3166 alpha-2 and alpha-3 codes and English names
(:mod:`innoclusters.countries`) and is stored as alpha-2.

Fractional counting: explicit weights are kept as given; the *accepted* rows of a document
(same metric and ``doc_id``, across all files of the metric) without a ``weight`` share
equally what the document's explicit weights leave of 1, that is
``max(0, 1 - sum of explicit weights) / (rows without weight)``. A document without
explicit weights therefore gives ``1 / n`` to each of its ``n`` accepted rows; one with
``0.5, '', ''`` gives ``0.5, 0.25, 0.25``; every document whose explicit weights do not
exceed 1 sums to exactly 1. A document whose rows are partly rejected still counts 1,
shared among the addresses that could be used; one whose rows are all rejected counts 0.
A weight above :data:`WEIGHT_MAX` is rejected: weights are summed exactly in
``DECIMAL(38, 18)``, which holds less than 1e20.

Line numbers: for CSV and JSON Lines the physical line where the row starts (the header is
line 1), exact after blank lines and quoted fields with line breaks; for Parquet the 1-based
row number.

Encodings: text files are UTF-8 unless ``encoding`` says otherwise; a file with bytes that
are not valid in its encoding is an error naming the file and the first such line, never a
silent loss of the rows with accented place names.
"""

from __future__ import annotations

import codecs
import concurrent.futures
import contextlib
import csv
import dataclasses
import difflib
import gzip
import hashlib
import re
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import duckdb

from innoclusters import countries, places
from innoclusters import sources as sources_pkg
from innoclusters._io import format_of, sql_path
from innoclusters.config import METRICS
from innoclusters.errors import InputError, SettingsError
from innoclusters.sources import Prepared, SourceSpec
from innoclusters.sources.base import feeding, unzip_progress

if TYPE_CHECKING:
    import pandas as pd

# pandas (with NumPy and PyArrow, 0.4-0.5 s to import, a quarter of `inspect` on a million
# rows) is imported where frames are made: `inspect` reads, validates and counts without it.

__all__ = [
    "COLUMN_ALIASES",
    "OPTIONAL_COLUMNS",
    "RECORD_COLUMNS",
    "SPARE_COLUMNS",
    "WEIGHT_MAX",
    "YEAR_RANGE",
    "FileStats",
    "ProgressCallback",
    "RecordSet",
    "geocode_todo",
    "header_key",
    "inspect_records",
    "marked_synthetic",
    "match_columns",
    "read_records",
    "validation_sql",
]

#: Columns the pipeline uses besides ``doc_id``, ``year`` and the coordinates.
OPTIONAL_COLUMNS: tuple[str, ...] = ("country", "weight", "city", "region", "org", "field")

#: Header spellings of each records column, as :func:`header_key` gives them. A header
#: matches whatever its case, surrounding spaces and punctuation.
COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = {
    "metric": ("metric",),
    "doc_id": ("doc_id", "docid", "document_id", "doc"),
    "year": ("year",),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "lng", "long", "longitude"),
    "country": ("country", "country_code", "ctry_code", "iso_country"),
    "weight": ("weight",),
    "city": ("city", "town", "locality"),
    "region": ("region", "state", "province", "admin1"),
    "org": ("org", "organisation", "organization"),
    "field": ("field",),
}

#: Columns of the ``records`` table, in order (:func:`read_records` may leave out the
#: :data:`SPARE_COLUMNS`): the metric first, then the columns of a records table as the
#: table adapter lists them (:data:`innoclusters.sources.table.COLUMNS`). Each is stored as
#: the validated rows store it (:data:`_ROWS_TYPES`); the metric, one per file, as a string.
RECORD_COLUMNS: tuple[str, ...] = (
    "metric",
    *(c for c in sources_pkg.table.COLUMNS if c != "metric"),
)

#: Columns of ``records`` that :func:`read_records` stores only when asked (its ``keep``):
#: after the records stage only rank uncertainty reads ``doc_id`` (it resamples documents),
#: and no stage reads ``region`` (it serves geocoding, done before the records are
#: written). Each is a string per row to write; a run leaves out what it will not read.
SPARE_COLUMNS: tuple[str, ...] = ("doc_id", "region")

_NON_WORD = re.compile(r"[^0-9a-z]+")

#: Years accepted as sane, inclusive.
YEAR_RANGE: tuple[int, int] = (1900, 2100)

#: Largest weight accepted on a row: the exact sums (``DECIMAL(38, 18)``, below 1e20) of up
#: to 1e11 such rows still fit. A document's own weight is 1 at most.
WEIGHT_MAX = 1e9


@dataclasses.dataclass(frozen=True)
class FileStats:
    """What was read from one input file."""

    path: str
    metric: str
    format: str
    size_bytes: int
    sha256: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    synthetic: bool = False
    #: Records column -> the file's column it was read from.
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)
    encoding: str = ""
    #: The source format (``table`` for records tables, else the adapter).
    adapter: str = "table"
    #: Rows left out by a filter, in total and per filter name.
    rows_filtered: int = 0
    filtered: Mapping[str, int] = dataclasses.field(default_factory=dict)
    #: Every upstream file read for this one (the file itself for records tables).
    files: Sequence[str] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the manifest."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class RecordSet:
    """Accepted records and rejects of one run, held in a DuckDB connection.

    The ``records`` table has the columns ``columns`` (of :data:`RECORD_COLUMNS`: ``metric,
    doc_id, year, lat, lon, country, weight, city, region, org, field``, less the
    :data:`SPARE_COLUMNS` :func:`read_records` was not asked to keep); the ``rejects`` table
    ``file, line, metric, doc_id, reason``.
    """

    connection: duckdb.DuckDBPyConnection
    files: list[FileStats]
    geocoding: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: The columns of the ``records`` table.
    columns: tuple[str, ...] = RECORD_COLUMNS
    #: The years that hold at least one accepted record, per metric (sorted), when the
    #: reader counted them (``None``: read from the ``records`` table when asked).
    years: Mapping[str, Sequence[int]] | None = None

    def require(self, *columns: str, purpose: str) -> None:
        """Check the ``records`` table has ``columns``, which ``purpose`` reads.

        Raises
        ------
        SettingsError
            When :func:`read_records` was not asked to keep one of them (its ``keep``).
        """
        missing = [c for c in columns if c not in self.columns]
        if missing:
            names = ", ".join(missing)
            raise SettingsError(
                f"{purpose} reads the records' {names}, which were not kept; read the "
                f"records with read_records(..., keep={tuple(missing)!r}) (the pipeline keeps "
                "doc_id when the setting 'uncertainty' is above 0)"
            )

    def frame(self) -> pd.DataFrame:
        """The accepted records as a pandas frame (in a canonical order), with the columns
        the ``records`` table has (:attr:`columns`)."""
        order = self.columns
        if "doc_id" in self.columns:
            order = ("metric", "doc_id", "lat", "lon", "weight")
        return self.connection.execute(f"SELECT * FROM records ORDER BY {', '.join(order)}").df()

    def rejects(self) -> pd.DataFrame:
        """The rejected rows, by file and line."""
        return self.connection.execute("SELECT * FROM rejects ORDER BY file, line").df()

    def metrics(self) -> tuple[str, ...]:
        """Metrics with at least one accepted record, in output order."""
        if self.years is not None:
            present = {m for m, years in self.years.items() if len(years)}
        else:
            present = {
                r[0]
                for r in self.connection.execute("SELECT DISTINCT metric FROM records").fetchall()
            }
        return tuple(m for m in METRICS if m in present)


#: Called as ``progress(fraction, step)``: the share of the records stage done (0 to 1,
#: never decreasing, 1 at the end) and what is being done.
ProgressCallback = Callable[[float, str], None]

#: Shares of the records stage: planning (unzip, stage) is spread over the adapters'
#: input bytes, then validation, then weights, records and rejects.
_SHARES = {"plan": 0.3, "validate": 0.45, "geocode": 0.05, "records": 0.15, "rejects": 0.05}


class _Progress:
    """Reports the records stage's progress to a callback (nothing without one).

    The stage is split into steps of fixed shares; while a step's query runs, a thread
    polls DuckDB's own progress of it (``query_progress``, from the bytes scanned) every
    quarter second. Fractions never go back and end at 1.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, callback: ProgressCallback | None):
        self.con = con
        self.callback = callback
        self.done = 0.0
        self._last = 0.0
        self._lock = threading.Lock()
        if callback is not None:
            con.execute("SET enable_progress_bar = true")

    def report(self, fraction: float, text: str) -> None:
        """Pass ``fraction`` (clipped to [last reported, 1]) and ``text`` on."""
        if self.callback is None:
            return
        with self._lock:
            self._last = max(self._last, min(1.0, fraction))
            self.callback(self._last, text)

    @contextlib.contextmanager
    def step(self, share: float, text: str) -> Iterator[None]:
        """A step worth ``share`` of the stage; DuckDB's progress is polled while it runs."""
        start = self.done
        self.report(start, text)
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(0.25):
                percent = self.con.query_progress()
                if percent >= 0:
                    self.report(start + share * min(percent, 100.0) / 100.0, text)

        thread = threading.Thread(target=poll, daemon=True) if self.callback else None
        if thread is not None:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join()
            self.done = start + share
            self.report(self.done, text)

    def unzipped(self, share: float, text: str, zip_bytes: int) -> Callable[[Path, int, int], None]:
        """A report for :func:`~innoclusters.sources.base.unzip_progress` within the current
        step (worth ``share``): the zips (``zip_bytes`` on disk in all) count by their size,
        each by the share of its member copied out."""
        start = self.done
        finished: dict[Path, int] = {}

        def report(path: Path, done: int, total: int) -> None:
            size = path.stat().st_size
            finished[path] = int(size * done / total) if total else size
            zips = sum(finished.values())
            self.report(start + share * min(1.0, zips / max(1, zip_bytes)), text)

        return report

    def finish(self, text: str) -> None:
        """The stage is done."""
        self.done = 1.0
        self.report(1.0, text)


def _files_in(paths: Sequence[Path]) -> list[Path]:
    """The files among ``paths`` (folders: the files directly in them)."""
    found: list[Path] = []
    for p in paths:
        found += [c for c in p.iterdir() if c.is_file()] if p.is_dir() else [p]
    return [f for f in found if f.exists()]


def _size_mb(paths: Sequence[Path]) -> float:
    """Megabytes of the files among ``paths`` (folders: the files directly in them)."""
    return sum(f.stat().st_size for f in _files_in(paths)) / 1e6


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file; pass the data files themselves")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty; it needs a header row and data rows")


def _scan_sql(
    path: Path, fmt: str, index: int, *, numbered: bool = False, encoding: str = "utf-8"
) -> str:
    """SQL reading one file; ``numbered`` adds ``_row``, the 1-based row number.

    Row numbers make a scan slower (ordered), so they are asked for only when a file has
    rows to reject, whose lines must be reported. ``encoding`` is one DuckDB reads natively
    (:func:`_duckdb_encoding`).
    """
    p = sql_path(path)
    if fmt in ("csv", "tsv"):
        delim = "\\t" if fmt == "tsv" else ","
        source = (
            f"read_csv('{p}', delim='{delim}', header=true, all_varchar=true, quote='\"', "
            f"escape='\"', store_rejects=true, rejects_table='_bad_{index}', "
            f"rejects_scan='_scan_{index}', auto_detect=true, encoding='{encoding}')"
        )
    elif fmt == "parquet":
        if numbered:
            return (
                "SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _row "
                f"FROM read_parquet('{p}', file_row_number=true)"
            )
        return f"SELECT * FROM read_parquet('{p}')"
    else:
        source = f"read_json('{p}', format='newline_delimited', records=true, sample_size=-1)"
    if numbered:
        return f"SELECT *, row_number() OVER () AS _row FROM {source}"
    return f"SELECT * FROM {source}"


#: Encodings DuckDB's CSV reader decodes itself; others are transcoded to UTF-8 first.
_NATIVE_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1"}


def _duckdb_encoding(encoding: str) -> str | None:
    """DuckDB's name of an encoding it reads natively, or ``None``.

    Raises
    ------
    InputError
        When Python does not know the encoding either.
    """
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(
            f"unknown encoding '{encoding}'; use e.g. utf-8, latin-1, cp1252 or utf-16"
        ) from None
    return _NATIVE_ENCODINGS.get(name)


def _transcode(path: Path, encoding: str, folder: Path) -> Path:
    """A UTF-8 copy of a text file in another encoding, decoded in blocks (any size)."""
    target = folder / f"{len(list(folder.iterdir()))}_{path.name.removesuffix('.gz')}"
    opener: Any = open
    if path.name.lower().endswith(".gz"):
        opener = gzip.open
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with opener(path, "rb") as src, target.open("w", encoding="utf-8", newline="") as dst:
            for block in iter(lambda: src.read(1 << 22), b""):
                dst.write(decoder.decode(block))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: byte {exc.start} is not valid {encoding} text ({exc.reason}); "
            "pass the file's real encoding with --encoding"
        ) from None
    return target


_READ_HINT = {
    "csv": "check it is a comma-separated UTF-8 text file with a header row",
    "tsv": "check it is a tab-separated UTF-8 text file with a header row",
    "parquet": "check it is a valid Parquet file",
    "jsonl": "check it has one JSON object per line",
    "source": "check they are the files as downloaded",
}


def _execute(con: duckdb.DuckDBPyConnection, sql: str, path: Path, fmt: str) -> Any:
    """Run a query that reads ``path``; a read failure becomes a one-line InputError."""
    try:
        return con.execute(sql)
    except duckdb.Error as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise InputError(
            f"{path}: cannot be read as {fmt.upper()} ({first}); {_READ_HINT[fmt]}"
        ) from None


def header_key(name: str) -> str:
    """A header as matched: lower case, surrounding spaces gone, inner runs of spaces and
    punctuation as one ``_`` (``" Doc ID"`` is ``doc_id``)."""
    return _NON_WORD.sub("_", name.strip().lower()).strip("_")


def match_columns(header: Sequence[str], *, path: Path | str = "") -> dict[str, str]:
    """Map the records columns to the columns of a file's header.

    A header matches whatever its case, surrounding spaces and punctuation, and the common
    aliases of :data:`COLUMN_ALIASES` (``Lat``, ``latitude``, ``lng``, ``Country Code``).

    Parameters
    ----------
    header
        The file's column names, as written.
    path
        The file, for messages.

    Returns
    -------
    dict
        Records column -> the file's column, for the columns found.

    Raises
    ------
    InputError
        When two columns of the file match one records column (``lat`` and ``Latitude``).
    """
    mapping: dict[str, str] = {}
    for name in header:
        k = header_key(name)
        for column, aliases in COLUMN_ALIASES.items():
            if k in aliases:
                if column in mapping:
                    raise InputError(
                        f"{path}: columns '{mapping[column]}' and '{name}' both mean {column}; "
                        "rename or drop one of them"
                    )
                mapping[column] = name
    return mapping


def _near_misses(wanted: str, header: Sequence[str], mapping: Mapping[str, str]) -> list[str]:
    """Columns of a header that look like ``wanted`` but did not match it."""
    used = set(mapping.values())
    free = [h for h in header if h not in used and h != "_row"]
    keys = {header_key(h): h for h in free}
    names = [keys[k] for k in difflib.get_close_matches(wanted, list(keys), n=3, cutoff=0.6)]
    for k, h in keys.items():
        if any(a in k for a in COLUMN_ALIASES[wanted] if len(a) >= 3) and h not in names:
            names.append(h)
    return names


def _columns(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    index: int,
    metric: str,
    encoding: str,
    *,
    explicit: Mapping[str, Any] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Column types of one file and its column mapping; raise when a required one is missing.

    Returns the file's own column types and the mapping records column -> file column.
    """
    described = _execute(
        con, f"DESCRIBE {_scan_sql(path, fmt, index, encoding=encoding)}", path, fmt
    ).fetchall()
    raw = {str(r[0]): str(r[1]) for r in described}
    given = sources_pkg.table.map_columns(explicit or {}, list(raw), path)
    rest = [c for c in raw if c not in given.values()]
    mapping = {k: v for k, v in match_columns(rest, path=path).items() if k not in given}
    mapping.update(given)
    have = mapping
    missing = [c for c in ("doc_id", "year") if c not in have]
    if not ({"lat", "lon"} <= have.keys() or "city" in have):
        missing += [c for c in ("lat", "lon") if c not in have]
    if missing:
        found = ", ".join(f"'{c}'" for c in raw if c != "_row") or "none"
        hint = "add them to the header"
        near = {m: _near_misses(m, list(raw), mapping) for m in missing}
        named = [f"'{n}' for {m}" for m, ns in near.items() for n in ns]
        if named:
            hint = f"did you mean {', '.join(named)}? rename the column(s)"
        else:
            adapter, lacking = sources_pkg.closest_adapter(list(raw))
            hint += (
                f", or map them with [sources.{metric}] columns = {{...}} in the settings; "
                f"the closest source format, {adapter}, lacks {', '.join(lacking)}"
            )
        only = [c for c in raw if c != "_row"]
        if fmt == "csv" and len(only) == 1:
            for sep, sname in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
                if sep in only[0]:
                    hint = f"the header looks separated by {sname}; save the file comma-separated"
                    if sep == "\t":
                        hint += " or name it .tsv"
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} for {metric} (found: {found}); {hint}"
        )
    return raw, mapping


def _text(col: str, types: Mapping[str, str]) -> str:
    """SQL for a column as text, NULL when absent or empty."""
    if col not in types:
        return "CAST(NULL AS VARCHAR)"
    if types[col].upper() == "VARCHAR":
        return f"nullif(\"{col}\", '')"
    return f"nullif(CAST(\"{col}\" AS VARCHAR), '')"


def _number(col: str, types: Mapping[str, str]) -> tuple[str, str, str]:
    """SQL for a numeric column: (value as DOUBLE, is-missing test, the raw value).

    The raw value is shown in messages through :func:`_shown`, which turns it into text
    only in the ``CASE`` branch of a row that has the problem: casting every row's number
    to text cost half of the validation.
    """
    if col not in types:
        return "CAST(NULL AS DOUBLE)", "true", "''"
    if types[col].upper() in ("VARCHAR", "JSON"):
        text = f'trim(CAST("{col}" AS VARCHAR))'
        return f"TRY_CAST({text} AS DOUBLE)", f"nullif({text}, '') IS NULL", f'"{col}"'
    return f'TRY_CAST("{col}" AS DOUBLE)', f'"{col}" IS NULL', f'"{col}"'


def _shown(raw: str) -> str:
    """SQL showing a raw value (:func:`_number`) in a message, as text without spaces
    around it."""
    return f"trim(CAST({raw} AS VARCHAR))"


def _year(types: Mapping[str, str]) -> tuple[str, str, str]:
    """SQL for the year: a number, or the four-digit year of a date (``2021-03-15``,
    ``15/03/2021``, ``Mar 15, 2021``); a DATE or TIMESTAMP column gives its year.

    Returns the value as DOUBLE, the is-missing test and the raw value (:func:`_number`).
    """
    kind = types.get("year", "").upper()
    if kind.startswith(("DATE", "TIMESTAMP")):
        return 'CAST(year("year") AS DOUBLE)', '"year" IS NULL', '"year"'
    value, missing, raw = _number("year", types)
    if kind in ("VARCHAR", "JSON"):
        # CASE evaluates a branch only for the rows that reach it: numbers first (the
        # cheapest test), then ISO dates, and the regular expression only for other dates.
        text = _shown(raw)
        in_date = f"regexp_extract({text}, '(^|[^0-9])((1[89]|2[01])[0-9][0-9])([^0-9]|$)', 2)"
        value = f"""CASE WHEN {value} IS NOT NULL THEN {value}
          WHEN TRY_CAST({text} AS DATE) IS NOT NULL
            THEN CAST(year(TRY_CAST({text} AS DATE)) AS DOUBLE)
          ELSE TRY_CAST(nullif({in_date}, '') AS DOUBLE) END"""
    return value, missing, raw


def _place_parts(types: Mapping[str, str]) -> tuple[str, str, tuple[str, str], str]:
    """SQL pieces validating a place: its coordinates and country.

    Returns the inner select list (``_lat, _latm, _latt, _lon, _lonm, _lont, _ct, _cc,
    _city, _region``), the country join to append to the inner ``FROM``, the reasons
    (``concat_ws`` arguments for the coordinates and for the country) and the test of a
    place with neither coordinates nor a city (a reason only when the row has no other
    problem).
    """
    lat, lat_missing, lat_raw = _number("lat", types)
    lon, lon_missing, lon_raw = _number("lon", types)
    country_txt = f"nullif(trim({_text('country', types)}), '')"
    select = f"""{lat} AS _lat, {lat_missing} AS _latm, {lat_raw} AS _latt,
        {lon} AS _lon, {lon_missing} AS _lonm, {lon_raw} AS _lont,
        {country_txt} AS _ct, coalesce(_c0.alpha2, _c1.alpha2) AS _cc,
        {_text("city", types)} AS _city, {_text("region", types)} AS _region"""
    # Most values are found as they are (``US``, ``us``: :func:`_prepare_connection` lists
    # the codes in capitals too); only the others get the costly matching key.
    join = f"""LEFT JOIN _countries AS _c0 ON {country_txt} = _c0.key
      LEFT JOIN _countries AS _c1
        ON (CASE WHEN _c0.alpha2 IS NULL THEN {countries.sql_key(country_txt)} END) = _c1.key"""
    lat_s, lon_s = _shown("_latt"), _shown("_lont")
    reasons = f"""CASE WHEN _latm AND _lonm THEN NULL
           WHEN _latm THEN 'missing lat'
           WHEN _lat IS NULL OR NOT isfinite(_lat) THEN 'lat ''' || {lat_s} || ''' is not a number'
           WHEN _lat < -90 OR _lat > 90 THEN 'lat ' || {lat_s} || ' outside -90..90' END,
      CASE WHEN _latm AND _lonm THEN NULL
           WHEN _lonm THEN 'missing lon'
           WHEN _lon IS NULL OR NOT isfinite(_lon) THEN 'lon ''' || {lon_s} || ''' is not a number'
           WHEN _lon < -180 OR _lon > 180 THEN 'lon ' || {lon_s} || ' outside -180..180' END"""
    country = """CASE WHEN _ct IS NOT NULL AND _cc IS NULL
             THEN 'country ''' || _ct || ''' is not a known country; use an '
               || 'ISO 3166 code or an English name' END"""
    return select, join, (reasons, country), "_latm AND _lonm AND _city IS NULL"


def _places_sql(scan: str, types: Mapping[str, str]) -> str:
    """SQL validating an adapter's place table once per place (:attr:`Prepared.places`).

    Gives ``_place`` (the key), ``lat``, ``lon`` (numbers), ``country`` (alpha-2), ``city``,
    ``region``, ``_place_reason`` (NULL when the place is valid) and ``_noplace`` (neither
    coordinates nor a city). The rows that name a place are checked for the rest
    (:func:`validation_sql` with ``placed``), so a place's text is parsed once, not once per
    row that names it.
    """
    select, join, reasons, noplace = _place_parts(types)
    return f"""SELECT _place, _lat AS lat, _lon AS lon, _cc AS country, _city AS city,
      _region AS region, nullif(concat_ws('; ', {reasons[0]}, {reasons[1]}), '') AS _place_reason,
      {noplace} AS _noplace
    FROM (SELECT _place, {select} FROM ({scan}) AS _s {join})"""


def validation_sql(
    scan: str,
    metric: str,
    types: Mapping[str, str],
    file_id: int,
    line: str,
    *,
    placed: bool = False,
) -> str:
    """SQL giving every row of a file typed columns and a ``reason`` ('' when valid).

    The one validation rule of both engines: the Spark engine
    (:mod:`innoclusters.engines.spark`) runs it with DuckDB on each batch of rows. ``scan``
    is a query whose columns are the records columns (DuckDB types ``types``); the table
    ``_countries`` (:func:`innoclusters.countries.alpha2_table`) must exist.
    ``line`` is the SQL of the row's line number (``NULL`` when the scan is not numbered).
    A ``_share`` column (source adapters) is the row's relative share of its document.
    Values are parsed once, in an inner query; the reasons are built from them. With
    ``placed``, the scan's place columns come from a place table validated already
    (:func:`_places_sql`, with ``_place_reason``, ``_noplace`` and ``_pid``), and the
    output has ``_pid`` too, the place's id in ``_places``.
    """
    year, year_missing, year_raw = _year(types)
    weight, weight_missing, weight_raw = _number("weight", types)
    lo, hi = YEAR_RANGE
    m = metric.replace("'", "''")
    # Checks of columns a file does not have are left out (each costs a pass over the rows).
    weight_check = (
        f"""CASE WHEN NOT _wm AND (_w IS NULL OR NOT isfinite(_w))
             THEN 'weight ''' || {_shown("_wt")} || ''' is not a number'
           WHEN _w < 0 THEN 'weight ' || {_shown("_wt")} || ' is negative'
           WHEN _w > {WEIGHT_MAX:.0f}
             THEN 'weight ' || {_shown("_wt")} || ' is above the maximum {WEIGHT_MAX:g}' END"""
        if "weight" in types
        else "NULL"
    )
    if placed:
        place_select = """lat AS _lat, lon AS _lon, country AS _cc, city AS _city,
        region AS _region, _place_reason AS _pr, coalesce(_noplace, false) AS _noplace,
        _pid AS _pid"""
        place_join, place_reasons, noplace = "", ("_pr", "NULL"), "_noplace"
    else:
        place_select, place_join, place_reasons, noplace = _place_parts(types)
    inner = f"""SELECT {_text("metric", types)} AS _m,
        nullif(trim({_text("doc_id", types)}), '') AS _doc,
        {year} AS _y, {year_missing} AS _ym, {year_raw} AS _yt,
        {place_select},
        {weight} AS _w, {weight_missing} AS _wm, {weight_raw} AS _wt,
        {"TRY_CAST(_share AS DOUBLE)" if "_share" in types else "1.0"} AS _share,
        {_text("org", types)} AS _org, {_text("field", types)} AS _field,
        {"nullif(_problem, '')" if "_problem" in types else "CAST(NULL AS VARCHAR)"} AS _p,
        {"_filter" if "_filter" in types else "CAST(NULL AS VARCHAR)"} AS _fl,
        {line} AS _line
      FROM ({scan}) AS _s {place_join}"""
    metric_check = (
        f"""CASE WHEN _m IS NOT NULL AND lower(_m) <> '{m}'
        THEN 'metric ''' || _m || ''' in a {m} file' END"""
        if "metric" in types
        else "NULL"
    )
    reason = f"""concat_ws('; ', _p,
      {metric_check},
      CASE WHEN _doc IS NULL THEN 'missing doc_id' END,
      CASE WHEN _ym THEN 'missing year'
           WHEN _y IS NULL OR NOT isfinite(_y) OR _y <> floor(_y)
             THEN 'year ''' || {_shown("_yt")} || ''' is not a whole number'
           WHEN _y < {lo} OR _y > {hi} THEN 'year ' || {_shown("_yt")} || ' outside {lo}-{hi}' END,
      CASE WHEN {noplace} AND _p IS NULL THEN 'missing lat/lon and city' END,
      {place_reasons[0]},
      {weight_check},
      {place_reasons[1]}
    )"""
    return f"""
    SELECT '{m}' AS metric, _doc AS doc_id,
      CASE WHEN _y BETWEEN {lo} AND {hi} AND _y = floor(_y) THEN CAST(_y AS INTEGER) END AS year,
      _lat AS lat, _lon AS lon, _cc AS country,
      CASE WHEN _wm THEN NULL ELSE _w END AS weight, _share AS share,
      _city AS city, _region AS region, _org AS org, _field AS field,
      {file_id} AS file_id, _line AS line, {reason} AS reason, _fl AS _filter
      {", _pid" if placed else ""}
    FROM ({inner})
    """


#: Columns of ``_rows``, the validated rows of every file (:func:`_rows_sql`), in order,
#: and the type each is stored as. The metric is not stored (each file has one,
#: :func:`_metric_sql`); rows of an adapter's place table keep the place's id (``_pid``)
#: instead of its columns (:data:`_PLACE_COLUMNS`), joined back from ``_places`` where they
#: are read (:func:`_located_sql`). Columns no file has are left out (:func:`_stored`).
_ROWS_TYPES: Mapping[str, str] = {
    "doc_id": "VARCHAR",
    "year": "SMALLINT",
    "lat": "DOUBLE",
    "lon": "DOUBLE",
    "country": "VARCHAR",
    "weight": "DOUBLE",
    "share": "DOUBLE",
    "city": "VARCHAR",
    "region": "VARCHAR",
    "org": "VARCHAR",
    "field": "VARCHAR",
    "_pid": "BIGINT",
    "file_id": "INTEGER",
    "line": "BIGINT",
    "reason": "VARCHAR",
    "_filter": "VARCHAR",
}

#: Columns a row of an adapter with a place table takes from ``_places``.
_PLACE_COLUMNS = ("lat", "lon", "country", "city", "region")

#: Validated places of the adapters that have a place table (:attr:`Prepared.places`).
_PLACES_SCHEMA = """file_id INTEGER, _pid BIGINT, _place VARCHAR, lat DOUBLE, lon DOUBLE,
    country VARCHAR, city VARCHAR, region VARCHAR, _place_reason VARCHAR, _noplace BOOLEAN"""


def _stored(plans: Sequence[_Plan]) -> list[str]:
    """The columns of ``_rows`` for ``plans``: only those that some file has.

    Every stored column is written once and read back once per row, so org, field,
    weights, shares, lines of unnumbered tables and the place columns of rows that have a
    place id are not stored when no file needs them.
    """
    placed = any(p.placed for p in plans)
    unplaced = any(not p.placed for p in plans)
    have = {
        "weight": any("weight" in p.types for p in plans),
        "share": any("_share" in p.types for p in plans),
        "org": any("org" in p.types for p in plans),
        "field": any("field" in p.types for p in plans),
        "line": any(p.source for p in plans),
        "_pid": placed,
        **dict.fromkeys(_PLACE_COLUMNS, unplaced),
    }
    return [c for c in _ROWS_TYPES if have.get(c, True)]


def _rows_sql(plans: Sequence[_Plan], columns: Sequence[str]) -> str:
    """SQL validating every file into the ``columns`` of ``_rows`` (one UNION ALL)."""
    parts = []
    for plan in plans:
        cols = []
        for c in columns:
            absent = (c == "_pid" and not plan.placed) or (c in _PLACE_COLUMNS and plan.placed)
            if absent:
                cols.append(f"CAST(NULL AS {_ROWS_TYPES[c]}) AS {c}")
            else:
                cols.append(f"CAST({c} AS SMALLINT) AS year" if c == "year" else c)
        parts.append(f"SELECT {', '.join(cols)} FROM ({plan.sql(numbered=bool(plan.source))})")
    return " UNION ALL ".join(f"({part})" for part in parts)


def _metric_sql(plans: Sequence[_Plan], file_id: str = "file_id") -> str:
    """SQL giving a row's metric from its ``file_id`` (each file holds one metric)."""
    metrics = {p.metric for p in plans}
    if len(metrics) == 1:
        return f"'{metrics.pop()}'"
    cases = " ".join(f"WHEN {p.index} THEN '{p.metric}'" for p in plans)
    return f"CASE {file_id} {cases} END"


def _metric_code_sql(plans: Sequence[_Plan], file_id: str = "file_id") -> str:
    """SQL giving a row's metric as a one-byte code (its place in ``METRICS``)."""
    cases = " ".join(f"WHEN {p.index} THEN {METRICS.index(p.metric)}" for p in plans)
    return f"CAST(CASE {file_id} {cases} END AS UTINYINT)"


def _located_sql(table: str, columns: Sequence[str]) -> str:
    """The rows of ``table`` with their place columns (from ``_places`` for rows that have
    a place id); the other columns as stored, without ``_pid``."""
    if "_pid" not in columns:
        return f"SELECT * FROM {table}"
    own = [c for c in _PLACE_COLUMNS if c in columns]
    places = ", ".join(
        f"coalesce(v.{c}, pl.{c}) AS {c}" if c in own else f"pl.{c} AS {c}" for c in _PLACE_COLUMNS
    )
    return f"""SELECT v.* EXCLUDE ({", ".join([*own, "_pid"])}), {places}
      FROM {table} AS v LEFT JOIN _places AS pl ON pl._pid = v._pid"""


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("_frame", frame)
    con.execute(f"INSERT INTO {table} SELECT * FROM _frame")
    con.unregister("_frame")


@dataclasses.dataclass(frozen=True)
class _Plan:
    """One input file: where it is, how to read it, its columns and their mapping."""

    path: Path
    fmt: str
    metric: str
    index: int
    raw: Mapping[str, str]
    mapping: Mapping[str, str]
    read_path: Path
    encoding: str = "utf-8"
    source: str = ""
    adapter: str = "table"
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)
    files: tuple[Path, ...] = ()
    #: Whether the place columns come from a place table validated already.
    placed: bool = False
    #: The adapter's query for tables whose keys repeat (:attr:`Prepared.fallback`).
    fallback: str = ""
    #: The one-pass path (:attr:`Prepared.documents`, :func:`_read_keyed`): the documents
    #: query and its grouped variant, the rows' query, and the adapter's query reading only
    #: the rows listed in ``_bad_rows`` and their documents from ``_keyed_docs`` (to word
    #: their reject reasons).
    documents: str = ""
    documents_grouped: str = ""
    keyed: str = ""
    worded: str = ""

    @property
    def types(self) -> dict[str, str]:
        """Types of the records columns the file has."""
        return {c: self.raw[f] for c, f in self.mapping.items()}

    def scan(self, *, numbered: bool = False) -> str:
        """SQL reading the file with its columns renamed to the records columns."""
        if self.source:
            return f"SELECT * FROM ({self.source})"
        raw = _scan_sql(
            self.read_path, self.fmt, self.index, numbered=numbered, encoding=self.encoding
        )
        cols = [f'"{f.replace(chr(34), chr(34) * 2)}" AS {c}' for c, f in self.mapping.items()]
        if numbered:
            cols.append("_row")
        return f"SELECT {', '.join(cols)} FROM ({raw})"

    def sql(self, *, numbered: bool = False) -> str:
        """The SQL that validates every row (with ``_row`` numbers when ``numbered``)."""
        line = "_row" if numbered else "CAST(NULL AS BIGINT)"
        return validation_sql(
            self.scan(numbered=numbered),
            self.metric,
            self.types,
            self.index,
            line,
            placed=self.placed,
        )


def read_records(
    sources: Mapping[str, Sequence[str | Path | SourceSpec]],
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    geocode: bool = True,
    encoding: str = "utf-8",
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressCallback | None = None,
    keep: Collection[str] = SPARE_COLUMNS,
) -> RecordSet:
    """Read, validate and fractionally count the records of every metric.

    Each file is read twice: once to count the accepted rows of each document, once into
    the ``records`` table with validation, geocoding and fractional weights computed on the
    way. Rows that fail move to the ``rejects`` table. A file is read once more when some of
    its rows need geocoding (before) or are rejected (after, to number their lines).

    Parameters
    ----------
    sources
        Files per metric, e.g. ``{"patents": ["pct.parquet"], "publications": [...]}``.
        A path may name its source format (``"patentsview:data/pv"``), or an entry may be a
        :class:`~innoclusters.sources.SourceSpec` with the adapter's settings; otherwise
        the format is detected from the files (:mod:`innoclusters.sources`), and files
        that fit no upstream layout are read as records tables.
    connection
        DuckDB connection to hold the tables (a new in-memory one by default).
    geocode
        Place rows that have ``city``/``country`` but no coordinates, and give a ``country``
        to rows that have coordinates but none (see :mod:`innoclusters.places`). When
        ``False``, rows without coordinates are rejected.
    encoding
        Text encoding of the CSV, TSV and JSON Lines files (``utf-8``, ``latin-1``,
        ``cp1252``, ``utf-16``, or any other Python knows). A file with bytes that are not
        valid in it raises an error naming the file and line.
    options
        Per metric, the source settings (``format`` and the adapter's own, as in
        ``[sources.<metric>]`` of the settings TOML); they apply to paths given without a
        ``FORMAT:`` prefix.
    progress
        Called as ``progress(fraction, step)`` while reading: the share of the work done
        (never decreasing, 1 at the end; within a long query, DuckDB's own measure of the
        input scanned) and what is being done (:data:`ProgressCallback`).
    keep
        Which of the :data:`SPARE_COLUMNS` (``doc_id``, ``region``) to store in ``records``
        (all by default). A run leaves out what no later stage reads: writing a string per
        row is most of the records stage's cost. The rejects always have their ``doc_id``.

    Returns
    -------
    RecordSet
        With tables ``records`` and ``rejects``, per-file statistics and the years present
        per metric.

    Raises
    ------
    InputError
        When a file is missing, empty, unreadable, of an unknown type, or lacks a required
        column. Row-level problems do not raise: those rows go to the rejects.
    SettingsError
        When DuckDB runs out of memory (its ``memory_limit`` too small for the inputs).
    """
    unknown = [m for m in sources if m not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; use {', '.join(METRICS)}")
    if not any(sources.values()):
        raise InputError("no input files; pass at least one of --patents, --publications, --vc")
    spare = [c for c in keep if c not in SPARE_COLUMNS]
    if spare:
        raise SettingsError(
            f"keep names {', '.join(map(repr, spare))}; it chooses among "
            f"{', '.join(SPARE_COLUMNS)} (the other columns are always stored)"
        )
    stored = tuple(c for c in RECORD_COLUMNS if c not in SPARE_COLUMNS or c in keep)
    con = connection if connection is not None else duckdb.connect()
    _prepare_connection(con, stored)
    # The files' SHA-256 (for the manifest; seconds on gigabytes) is taken in a thread while
    # DuckDB reads them.
    hashing = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        with tempfile.TemporaryDirectory(prefix="innoclusters-") as tmp:
            tracker = _Progress(con, progress)
            plans = _plan_all(con, sources, options or {}, encoding, Path(tmp), tracker)
            digests = {p.path: hashing.submit(_sha256, p.path) for p in plans}
            geocoding = _read_plans(con, plans, geocode=geocode, tracker=tracker, stored=stored)
            sha256 = {path: digest.result() for path, digest in digests.items()}
    except duckdb.OutOfMemoryException as exc:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
        first = str(exc).strip().splitlines()[0]
        raise SettingsError(
            f"DuckDB ran out of memory reading the records ({first}); raise the memory_limit "
            f"setting (now {limit[0] if limit else '?'}) or free some memory"
        ) from None
    finally:
        hashing.shutdown(cancel_futures=True)
    stats = _file_stats(con, plans, sha256)
    tracker.finish(f"{sum(f.rows_read for f in stats):,} rows read")
    return RecordSet(
        connection=con,
        files=stats,
        geocoding=geocoding,
        columns=stored,
        years=_years(con, plans),
    )


def _prepare_connection(con: duckdb.DuckDBPyConnection, stored: Sequence[str]) -> None:
    """Create the country lookup and the empty ``records`` (columns ``stored``) and
    ``rejects`` tables.

    DuckDB's own progress bar is never printed (it would go to stdout); progress goes to
    the ``progress`` callback of :func:`read_records`.
    """
    con.execute("SET enable_progress_bar_print = false")
    pairs = countries.alpha2_pairs()
    # A matching key is lower case: the codes in capitals, as most files write them, are
    # looked up as they are (validation_sql), without computing their key.
    pairs += [(k.upper(), code) for k, code in pairs if len(k) <= 3]
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _countries AS
        SELECT unnest($keys) AS key, unnest($codes) AS alpha2""",
        {"keys": [k for k, _ in pairs], "codes": [c for _, c in pairs]},
    )
    # Rows per file, filter and validity; ``year`` is that of accepted rows (NULL for the
    # others), so the years present are known without reading the records (_years).
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _counts
        (file_id INTEGER, _filter VARCHAR, ok BOOLEAN, year SMALLINT, n BIGINT)"""
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _places ({_PLACES_SCHEMA})")
    types = {"metric": "VARCHAR", **_ROWS_TYPES}
    schema = ", ".join(f"{c} {types[c]}" for c in stored)
    con.execute(f"CREATE OR REPLACE TABLE records ({schema})")
    con.execute(
        """CREATE OR REPLACE TABLE rejects (file VARCHAR, line BIGINT, metric VARCHAR,
        doc_id VARCHAR, reason VARCHAR)"""
    )


def _plan_all(
    con: duckdb.DuckDBPyConnection,
    sources: Mapping[str, Sequence[str | Path | SourceSpec]],
    options: Mapping[str, Mapping[str, Any]],
    encoding: str,
    tmp: Path,
    tracker: _Progress,
) -> list[_Plan]:
    """How to read every input: adapters' files read once into tables, tables planned."""
    native = _duckdb_encoding(encoding)
    plans: list[_Plan] = []
    entries = [
        (metric, _spec_of(entry, dict(options.get(metric, {}))))
        for metric in METRICS
        for entry in sources.get(metric, ())
    ]
    sizes = [_size_mb(spec.paths) for _, spec in entries]
    total = sum(sizes) or 1.0
    for (metric, spec), size in zip(entries, sizes, strict=True):
        if spec.adapter != sources_pkg.table.NAME:
            share = _SHARES["plan"] * size / total
            text = f"reading the {spec.adapter} tables ({size:,.0f} MB)"
            # Unzipping is reported per block, also while staging (a row-defining file in
            # a zip is unzipped as it is staged, Prepared.feeds).
            zips = sum(
                f.stat().st_size for f in _files_in(spec.paths) if f.name.lower().endswith(".zip")
            )
            with tracker.step(share, text), unzip_progress(tracker.unzipped(share, text, zips)):
                prepared_all = sources_pkg.prepare(spec, tmp)
                for prepared in prepared_all:
                    if any(p.path == prepared.path for p in plans):
                        raise InputError(f"{prepared.path}: passed twice; pass it once")
                    plans.append(_materialise(con, prepared, metric, len(plans)))
            continue
        for path in spec.paths:
            _check_file(path)
            if any(p.path == path for p in plans):
                raise InputError(f"{path}: passed twice; pass each file once")
            fmt = format_of(path)
            index = len(plans)
            read_path = path
            if fmt != "parquet" and native != "utf-8" and (fmt == "jsonl" or native is None):
                read_path = _transcode(path, encoding, tmp)
            enc = "utf-8" if read_path != path else (native or "utf-8")
            raw, mapping = _columns(con, read_path, fmt, index, metric, enc, explicit=spec.options)
            plans.append(_Plan(path, fmt, metric, index, raw, mapping, read_path, enc))
    return plans


def inspect_records(
    sources: Mapping[str, Sequence[str | Path | SourceSpec]],
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    encoding: str = "utf-8",
    problems: int = 5,
) -> list[dict[str, Any]]:
    """A dry run: what reading ``sources`` would give, file by file, without geocoding.

    Reads every file once (adapters' upstream files once each), validates every row as
    :func:`read_records` would, and summarises; nothing is geocoded or clustered.

    Parameters
    ----------
    sources, options, encoding
        As for :func:`read_records`.
    problems
        How many of the first problem rows to list per file.

    Returns
    -------
    list of dict
        One per file: ``path``, ``metric``, ``adapter``, ``format``, ``columns`` (records
        column -> the file's), ``rows_read``, ``rows_filtered`` and ``filtered`` (per
        filter), ``rows_valid``, ``rows_with_coordinates``, ``rows_to_geocode`` (a place but
        no coordinates; valid if the place is found), ``rows_invalid``, ``documents``,
        ``years`` (first, last), ``rows_per_year``, ``countries`` (top 10, rows),
        ``problems`` (the first rows with a problem: ``line``, ``doc_id``, ``reason``) and
        ``reasons`` (rows per reason, most frequent first). An entry that cannot be read at
        all (missing, empty, not the format it claims, lacking a required column) gives
        ``path``, ``metric`` and ``error`` (the message :func:`read_records` would raise),
        and the other entries are inspected all the same.

    Raises
    ------
    SettingsError
        On unknown source settings.
    """
    con = duckdb.connect()
    _prepare_connection(con, RECORD_COLUMNS)
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="innoclusters-") as tmp:
        for metric in METRICS:
            for entry in sources.get(metric, ()):
                one = {metric: [entry]}
                try:
                    plans = _plan_all(
                        con, one, options or {}, encoding, Path(tmp), _Progress(con, None)
                    )
                    out += [_inspect_plan(con, plan, problems) for plan in plans]
                except InputError as exc:
                    name = entry.paths[0] if isinstance(entry, SourceSpec) else entry
                    out.append({"path": str(name), "metric": metric, "error": str(exc)})
    con.close()
    return out


def _inspect_plan(con: duckdb.DuckDBPyConnection, plan: _Plan, problems: int) -> dict[str, Any]:
    # Only what the summary needs is kept (a narrow table), filtered rows apart.
    for attempt in (plan, dataclasses.replace(plan, source=plan.fallback)):
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _inspect AS SELECT doc_id, year, country, reason,
              _filter, line, lat IS NOT NULL AS has_xy, lat IS NULL AND city IS NOT NULL AS todo
            FROM ({attempt.sql(numbered=bool(attempt.source))})"""
        )
        if not plan.fallback:
            break
        got = con.execute("SELECT count(*) FROM _inspect").fetchone()
        staged = con.execute(f"SELECT count(*) FROM _staged_{plan.index}").fetchone()
        if got == staged:
            break
    filtered = {
        str(k): int(v)
        for k, v in con.execute(
            "SELECT _filter, count(*) FROM _inspect WHERE _filter IS NOT NULL "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall()
    }
    agg = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE reason = ''),
          count(*) FILTER (WHERE reason = '' AND has_xy),
          count(*) FILTER (WHERE reason = '' AND todo),
          count(DISTINCT doc_id) FILTER (WHERE reason = ''),
          min(year) FILTER (WHERE reason = ''), max(year) FILTER (WHERE reason = '')
        FROM _inspect WHERE _filter IS NULL"""
    ).fetchone()
    assert agg is not None
    n, valid, with_xy, to_geocode, docs, first, last = agg
    per_year = dict(
        con.execute(
            """SELECT year, count(*) FROM _inspect WHERE reason = '' AND _filter IS NULL
            GROUP BY ALL ORDER BY 1"""
        ).fetchall()
    )
    top = con.execute(
        """SELECT coalesce(country, '?'), count(*) AS n FROM _inspect
        WHERE reason = '' AND _filter IS NULL GROUP BY ALL ORDER BY n DESC, 1 LIMIT 10"""
    ).fetchall()
    reasons = con.execute(
        """SELECT reason, count(*) AS n FROM _inspect WHERE reason <> '' AND _filter IS NULL
        GROUP BY ALL ORDER BY n DESC, 1 LIMIT 10"""
    ).fetchall()
    malformed = _malformed(con, plan) if plan.fmt in ("csv", "tsv") else []
    first_rows: list[tuple[Any, ...]] = []
    if valid < n and plan.source:
        first_rows = con.execute(
            "SELECT line, doc_id, reason FROM _inspect WHERE reason <> '' AND _filter IS NULL "
            f"ORDER BY line LIMIT {int(problems)}"
        ).fetchall()
    elif valid < n:
        with _insertion_order(con, True):
            first_rows = con.execute(
                f"SELECT line, doc_id, reason FROM ({plan.sql(numbered=True)}) "
                f"WHERE reason <> '' LIMIT {int(problems)}"
            ).fetchall()
        if plan.fmt in ("csv", "tsv", "jsonl") and first_rows:
            numbers = [int(r[0]) for r in first_rows]
            starts = _row_lines(plan, {m[0] for m in malformed}, max(numbers))
            first_rows = [(starts[k - 1], *r[1:]) for k, r in zip(numbers, first_rows, strict=True)]
    # Malformed lines first among rows of the same line (a stable sort).
    listed = sorted(
        [(line, None, reason) for line, _kind, reason in malformed] + first_rows,
        key=lambda r: int(r[0]),
    )[:problems]
    bad_lines = len(malformed)
    for _line, _kind, reason in malformed:
        reasons.append((reason, 1))
    return {
        "path": str(plan.path),
        "metric": plan.metric,
        "adapter": plan.adapter,
        "format": plan.fmt,
        "columns": dict(plan.columns or plan.mapping),
        "rows_read": int(n) + bad_lines + sum(filtered.values()),
        "rows_filtered": sum(filtered.values()),
        "filtered": filtered,
        "rows_valid": int(valid),
        "rows_with_coordinates": int(with_xy),
        "rows_to_geocode": int(to_geocode),
        "rows_invalid": int(n - valid) + bad_lines,
        "documents": int(docs),
        "years": [first, last] if first is not None else [],
        "rows_per_year": {int(k): int(v) for k, v in per_year.items() if k is not None},
        "countries": [[str(c), int(k)] for c, k in top],
        "problems": [
            {"line": int(line), "doc_id": None if doc is None else str(doc), "reason": str(why)}
            for line, doc, why in listed
        ],
        "reasons": [[str(r), int(k)] for r, k in reasons],
    }


def _spec_of(entry: str | Path | SourceSpec, setting: Mapping[str, Any]) -> SourceSpec:
    """The source of one entry of ``sources``, its adapter named or detected.

    ``setting`` is the metric's ``[sources.<metric>]`` table: its ``format`` names the
    adapter of paths given without one, the rest are that adapter's settings.
    """
    if isinstance(entry, SourceSpec):
        spec = entry
    else:
        adapter, path = sources_pkg.parse_source(entry)
        given = str(setting.get("format", "")).lower()
        rest = {k: v for k, v in setting.items() if k != "format"}
        spec = SourceSpec(
            adapter or given, (path,), rest if given in ("", adapter or given) else {}
        )
    if not spec.adapter:
        found = sources_pkg.detect(list(spec.paths))
        if not found and any(p.is_dir() for p in spec.paths):
            dirs = ", ".join(str(p) for p in spec.paths if p.is_dir())
            raise InputError(
                f"{dirs}: is a directory whose files fit no source format "
                f"({', '.join(sources_pkg.NAMES)}); pass the data files themselves or name "
                "the format, e.g. patentsview:DIR"
            )
        spec = dataclasses.replace(spec, adapter=found or sources_pkg.table.NAME)
    return spec


def _materialise(
    con: duckdb.DuckDBPyConnection, prepared: Prepared, metric: str, index: int
) -> _Plan:
    """Stage an adapter's row-defining file once, in file order, as ``_staged_<index>``.

    Its rows are then numbered by rowid (free, where a window over a scan is not), and the
    adapter's query over it and the other upstream files is validated in the same pass as
    every other file (:func:`_read_plans`).
    """
    staged = f"_staged_{index}"
    rows = f"(SELECT *, rowid + {int(prepared.first_line)} AS _row FROM {staged})"
    bad = f"(SELECT * FROM {rows} WHERE _row IN (SELECT _row FROM _bad_rows))"

    places = f"(SELECT * EXCLUDE (file_id) FROM _places WHERE file_id = {index})"
    # For the one-pass rows, whether each place passes is decided once per place.
    valid = f"""(SELECT * EXCLUDE (file_id),
      _place_reason IS NULL AND NOT coalesce(_noplace, false) AS _valid_place
      FROM _places WHERE file_id = {index})"""

    def placed(sql: str, staged_rows: str = rows, places: str = places) -> str:
        return sql.replace("@STAGED", staged_rows).replace("@PLACES", places)

    sources = [placed(sql) for sql in (prepared.sql, prepared.fallback)]
    source = sources[0]
    try:
        if prepared.places:
            types = {
                str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE {prepared.places}").fetchall()
            }
            con.execute(f"DELETE FROM _places WHERE file_id = {index}")
            last = con.execute("SELECT coalesce(max(_pid), 0) FROM _places").fetchone()
            con.execute(
                f"""INSERT INTO _places SELECT {index}, {int(last[0]) if last else 0}
                  + row_number() OVER (), * FROM ({_places_sql(prepared.places, types)})"""
            )
        with _insertion_order(con, True), feeding(prepared.feeds):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS {prepared.staged}")
        raw = {str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE {source}").fetchall()}
    except duckdb.Error as exc:
        hint = "check they are the files as downloaded"
        _read_failed(exc, prepared.files, hint, f" as {prepared.adapter} tables")
    return _Plan(
        prepared.path,
        "source",
        metric,
        index,
        raw,
        {c: c for c in raw if c != "_row"},
        prepared.path,
        source=source,
        adapter=prepared.adapter,
        columns=dict(prepared.columns),
        files=prepared.files,
        placed=bool(prepared.places),
        fallback=sources[1] if prepared.fallback else "",
        documents=prepared.documents if prepared.keyed else "",
        documents_grouped=prepared.documents_grouped if prepared.keyed else "",
        keyed=placed(prepared.keyed, places=valid) if prepared.keyed else "",
        worded=placed(prepared.worded, bad).replace("@DOCUMENTS", "_keyed_docs")
        if prepared.keyed
        else "",
    )


def _read_plans(
    con: duckdb.DuckDBPyConnection,
    plans: Sequence[_Plan],
    *,
    geocode: bool,
    tracker: _Progress,
    stored: Sequence[str],
) -> dict[str, Any]:
    """Fill ``records`` (its columns ``stored``) and ``rejects`` from the planned files;
    return the geocoding stats.

    Files of adapters with a one-pass path (:attr:`Prepared.documents`) that are the only
    file of their metric and have no place to geocode are read by :func:`_read_keyed`;
    records tables by :func:`_read_tables` unless a row is to be geocoded; the others by
    :func:`_read_rows`.
    """
    if not plans:
        return {}
    keyed = [p for p in plans if _one_pass(con, p, plans)]
    rest = [p for p in plans if p.index not in {k.index for k in keyed}]
    for plan in keyed:
        _read_keyed(con, plan, tracker, (1.0 - tracker.done) / len(plans), stored)
    geocoding: dict[str, Any] = {}
    tables = bool(rest) and not any(p.source for p in rest)
    two_scans = tables and _read_tables(con, rest, geocode=geocode, tracker=tracker, stored=stored)
    if rest and not two_scans:
        geocoding = _read_rows(con, rest, geocode=geocode, tracker=tracker, stored=stored)
    con.execute("DELETE FROM _places")
    if geocode:
        assigned = _assign_countries(con)
        if assigned:
            geocoding["countries_assigned"] = assigned
    return geocoding


@contextlib.contextmanager
def _insertion_order(con: duckdb.DuckDBPyConnection, preserve: bool) -> Iterator[None]:
    """Run a block with DuckDB's ``preserve_insertion_order`` set to ``preserve``, then
    put it back. Row numbers from a scan need it on; a query whose rows' order does not
    matter runs faster without it (an insert of unordered rows then writes in parallel)."""
    keep = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    con.execute(f"SET preserve_insertion_order = {preserve}")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {bool(keep and keep[0])}")


def _read_failed(exc: duckdb.Error, files: Sequence[Path], hint: str, kind: str = "") -> NoReturn:
    """Raise a one-line :class:`InputError` for a query reading ``files`` that failed: they
    cannot be read (as ``kind``), DuckDB's first line, ``hint``. Running out of memory is
    not the files' fault and passes on (:func:`read_records` says so)."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        raise exc
    names = ", ".join(str(f) for f in files)
    first = str(exc).strip().splitlines()[0]
    raise InputError(f"{names}: cannot be read{kind} ({first}); {hint}") from None


def _one_pass(con: duckdb.DuckDBPyConnection, plan: _Plan, plans: Sequence[_Plan]) -> bool:
    """Whether :func:`_read_keyed` reads ``plan``: its adapter has a one-pass path, no
    other file has its metric (documents are counted across the files of a metric) and
    none of its places is to be geocoded (a place not found rejects rows afterwards)."""
    if not plan.keyed or sum(p.metric == plan.metric for p in plans) != 1:
        return False
    todo = con.execute(
        f"""SELECT count(*) FROM _places WHERE file_id = {plan.index}
        AND lat IS NULL AND lon IS NULL AND city IS NOT NULL"""
    ).fetchone()
    return not (todo and todo[0])


def _documents_sql(documents: str, types: Mapping[str, str]) -> str:
    """SQL validating an adapter's documents once each (:attr:`Prepared.documents`).

    Gives ``_key``, ``doc_id`` and ``year`` as :func:`validation_sql` gives them, ``_filter``,
    and ``_valid``: the document's rows pass every check of :func:`validation_sql` that
    is not their place's (the same rules, applied to the same values, once per document).
    """
    year, year_missing, _raw = _year(types)
    lo, hi = YEAR_RANGE
    whole = f"_y BETWEEN {lo} AND {hi} AND _y = floor(_y)"
    return f"""SELECT _key, _doc AS doc_id, _filter, _year, _listed,
      CAST(CASE WHEN {whole} THEN CAST(_y AS INTEGER) END AS SMALLINT) AS year,
      coalesce(_ok AND _doc IS NOT NULL AND NOT _ym AND isfinite(_y) AND {whole}, false)
        AS _valid
    FROM (SELECT _key, nullif(trim({_text("doc_id", types)}), '') AS _doc, {year} AS _y,
        {year_missing} AS _ym, _filter, coalesce(_ok, false) AS _ok, "year" AS _year,
        _ok AS _listed FROM ({documents}) AS _s)"""


#: A row of an adapter's one-pass query (:attr:`Prepared.keyed`) whose own checks and
#: place pass (its place validated once, :func:`_places_sql`; ``_valid_place`` is decided
#: once per place, :func:`_materialise`).
_KEYED_OK = "coalesce(v._ok AND v._valid_place, false)"


def _read_keyed(
    con: duckdb.DuckDBPyConnection,
    plan: _Plan,
    tracker: _Progress,
    share: float,
    stored: Sequence[str],
) -> None:
    """Read an adapter's file in one pass (:attr:`Prepared.documents`): records, counts
    and rejects as :func:`_read_rows` gives them.

    Each document is validated once, together with the count of its rows that pass their
    own and their place's checks (``_keyed_docs``); the records are then written straight
    from the rows, weighted by that count, without storing the validated rows first.
    Rows that fail are read once more, alone, through the adapter's query (its documents
    as read already, :attr:`Prepared.worded`) and :func:`validation_sql`, for their exact
    reasons.
    """
    read = f"reading {plan.path.name} ({_size_mb(plan.files or (plan.path,)):,.0f} MB)"
    with tracker.step(share, read):
        try:
            staged = con.execute(f"SELECT count(*) FROM _staged_{plan.index}").fetchone()
            for grouped in (False, True):
                documents = plan.documents_grouped if grouped else plan.documents
                types = {
                    str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE {documents}").fetchall()
                }
                con.execute(
                    f"""CREATE OR REPLACE TEMP TABLE _keyed_docs AS
                    SELECT n._key, n._rows, n._n, d.doc_id, d.year, d._filter,
                      coalesce(d._valid, false) AS _valid, d._year, d._listed
                    FROM (SELECT v._key, count(*) AS _rows,
                        count(*) FILTER (WHERE {_KEYED_OK}) AS _n
                      FROM ({plan.keyed}) AS v GROUP BY ALL) AS n
                    LEFT JOIN ({_documents_sql(documents, types)}) AS d ON d._key = n._key"""
                )
                got = con.execute("SELECT sum(_rows) FROM _keyed_docs").fetchone()
                # A key the document tables repeat gives its rows twice: read them grouped.
                if (got[0] if got else 0) == (staged[0] if staged else 0):
                    break
            con.execute(
                f"""INSERT INTO _counts SELECT {plan.index}, _filter, ok, year, sum(n) FROM (
                  SELECT _filter, true AS ok, CASE WHEN _filter IS NULL THEN year END AS year,
                    CASE WHEN _valid THEN _n ELSE 0 END AS n
                  FROM _keyed_docs
                  UNION ALL SELECT _filter, false AS ok, NULL AS year,
                    _rows - CASE WHEN _valid THEN _n ELSE 0 END AS n FROM _keyed_docs)
                WHERE n > 0 GROUP BY ALL"""
            )
            m = plan.metric.replace("'", "''")
            weight = _weight_sql("CAST(NULL AS DOUBLE)", "1.0", "CAST(0 AS DOUBLE)", "d._n")
            values = {
                "metric": f"'{m}'",
                "doc_id": "d.doc_id",
                "year": "d.year",
                **{c: f"v.{c}" for c in ("lat", "lon", "country", "city", "region")},
                "weight": weight,
                "org": "CAST(NULL AS VARCHAR)",
                "field": "CAST(NULL AS VARCHAR)",
            }
            with _insertion_order(con, False):
                con.execute(
                    f"""{_records_insert(values, stored)}
                FROM ({plan.keyed}) AS v
                  JOIN (SELECT * FROM _keyed_docs WHERE _valid AND _filter IS NULL) AS d
                  ON d._key = v._key
                WHERE {_KEYED_OK}"""
                )
            failed = con.execute(
                """SELECT sum(_rows - CASE WHEN _valid THEN _n ELSE 0 END) FROM _keyed_docs
                WHERE _filter IS NULL"""
            ).fetchone()
            rejected = int(failed[0]) if failed and failed[0] else 0
            if rejected:
                con.execute(
                    f"""CREATE OR REPLACE TEMP TABLE _bad_rows AS SELECT v._row
                    FROM ({plan.keyed}) AS v LEFT JOIN _keyed_docs AS d ON d._key = v._key
                    WHERE d._filter IS NULL AND NOT (coalesce(d._valid, false) AND {_KEYED_OK})"""
                )
                wording = dataclasses.replace(plan, source=plan.worded)
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE _rows_bad AS "
                    f"SELECT * FROM ({wording.sql(numbered=True)})"
                )
        except duckdb.Error as exc:
            _read_failed(exc, [plan.path], _READ_HINT[plan.fmt])
    if rejected:
        _collect_rejects(con, [plan], table="_rows_bad", placed=False)
        listed = con.execute(
            "SELECT count(*) FROM rejects WHERE file = $file", {"file": str(plan.path)}
        ).fetchone()
        if (listed[0] if listed else 0) != rejected:
            raise RuntimeError(
                f"{plan.path}: {rejected} rows failed but {listed} were worded; the "
                f"{plan.adapter} adapter's one-pass queries disagree with its query"
            )
    for table in ("_keyed_docs", "_bad_rows", "_rows_bad", f"_staged_{plan.index}"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _read_rows(
    con: duckdb.DuckDBPyConnection,
    plans: Sequence[_Plan],
    *,
    geocode: bool,
    tracker: _Progress,
    stored: Sequence[str],
) -> dict[str, Any]:
    """Fill ``records`` and ``rejects`` from ``plans``; return the geocoding stats.

    Every file is read and validated once, into the temporary table ``_rows`` (rows of
    source adapters keep their row numbers, which cost nothing there; only the columns
    some file has, :func:`_stored`); geocoding, the per-document sums of the fractional
    weights, the records and the rejects are then taken from that table.
    """
    columns = _stored(plans)
    share = 1.0 - tracker.done - _SHARES["geocode"] - _SHARES["records"] - _SHARES["rejects"]
    try:
        size = _size_mb([f for p in plans for f in (p.files or (p.path,))])
        with tracker.step(share, f"validating {len(plans)} file(s) ({size:,.0f} MB)"):
            con.execute(f"CREATE OR REPLACE TEMP TABLE _rows AS {_rows_sql(plans, columns)}")
            if _keys_repeat(con, plans):
                # An adapter's tables repeat a key they should not: read them grouped.
                plans = [dataclasses.replace(p, source=p.fallback or p.source) for p in plans]
                con.execute(f"CREATE OR REPLACE TEMP TABLE _rows AS {_rows_sql(plans, columns)}")
    except duckdb.Error as exc:
        _read_failed(exc, [p.path for p in plans], _READ_HINT[plans[0].fmt])
    for plan in plans:
        if plan.source:
            con.execute(f"DROP TABLE IF EXISTS _staged_{plan.index}")
    counted = con.execute("SELECT count(*) FROM _rows").fetchone()
    read = f"{int(counted[0]) if counted else 0:,} rows read"
    with tracker.step(_SHARES["geocode"], f"{read}; geocoding places without coordinates"):
        geocoding = _geocode(con, plans, columns) if geocode else {}
        table = "_rows"
        if geocoding:
            located = f"({_located_sql('_rows', columns)})"
            con.execute(f"CREATE OR REPLACE TEMP TABLE _rows_placed AS {_placed_sql(located)}")
            con.execute("DROP TABLE _rows")
            table = "_rows_placed"
            columns = [c for c in columns if c != "_pid"] + [
                c for c in _PLACE_COLUMNS if c not in columns
            ]
    # Fractional weights: sum each document's shares first, then join; a window over the
    # rows would buffer every column of every row.
    # Rows per file, filter and validity, in one pass: the accounting of every file (rows
    # valid and kept by the filters are exactly the records inserted below).
    con.execute(
        f"""INSERT INTO _counts SELECT file_id, _filter, reason = '' AS ok,
          CASE WHEN reason = '' AND _filter IS NULL THEN year END AS year, count(*) AS n
        FROM {table} GROUP BY ALL"""
    )
    with tracker.step(_SHARES["records"], f"{read}; fractional weights"):
        _insert_records(con, plans, table, columns, stored)
    with tracker.step(_SHARES["rejects"], f"{read}; rejects"):
        _collect_rejects(con, plans, table=table, placed=bool(geocoding))
    con.execute(f"DROP TABLE {table}")
    return geocoding


def _read_tables(
    con: duckdb.DuckDBPyConnection,
    plans: Sequence[_Plan],
    *,
    geocode: bool,
    tracker: _Progress,
    stored: Sequence[str],
) -> bool:
    """Fill ``records`` and ``rejects`` from records tables (no adapter) in two scans;
    ``False``, with nothing written, when a row is to be geocoded (:func:`_read_rows`
    then reads them).

    Scan 1 validates every row and keeps counts only, in one query (GROUPING SETS): rows
    per file, filter, validity and year of accepted rows (the accounting, ``_counts``,
    which gives the years present too), and per document the sums of its accepted rows
    (:func:`_document_sums`, across the files of its metric). Scan 2 validates again and
    writes the accepted rows straight into ``records``, each joined to its document's
    sums: the same rows and weights as :func:`_read_rows` gives, without storing every
    validated row and reading it back. Files with rows that failed
    are read once more, numbered, for the rejects' lines (:func:`_collect_rejects`).
    """
    columns = _stored(plans)
    code = _metric_code_sql(plans, "v.file_id")
    key = "_metric, " if len({p.metric for p in plans}) > 1 else ""
    sums, _given = _document_sums(columns)
    # A document's sums are those of its accepted rows: the others are grouped apart
    # (``_doc`` NULL; an accepted row always has a doc_id).
    first = [c for c in ("doc_id", "year", "lat", "lon", "city", "weight", "share") if c in columns]
    extra = "".join(f", v.{c}" for c in ("weight", "share") if c in columns)
    counted = f"""SELECT {code} AS _metric, v.file_id, v._filter, v.reason = '' AS ok,
        v.reason = '' AND v._filter IS NULL AND v.lat IS NULL AND v.lon IS NULL
          AND v.city IS NOT NULL AS _geo,
        CASE WHEN v.reason = '' AND v._filter IS NULL THEN v.year END AS _year,
        CASE WHEN v.reason = '' AND v._filter IS NULL THEN v.doc_id END AS _doc{extra}
      FROM ({_rows_sql(plans, [*first, "file_id", "reason", "_filter"])}) AS v"""
    # The steps of _read_rows, in the same words; the write (scan 2) is most of the work.
    shares = 1.0 - tracker.done - _SHARES["geocode"] - _SHARES["rejects"]
    size = _size_mb([p.path for p in plans])
    try:
        with tracker.step(0.4 * shares, f"validating {len(plans)} file(s) ({size:,.0f} MB)"):
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _docs AS
                SELECT {key}_doc, file_id, _filter, ok, _geo, _year, count(*) AS n, {sums},
                  grouping(file_id) AS _by_doc
                FROM ({counted}) AS v
                GROUP BY GROUPING SETS ((file_id, _filter, ok, _geo, _year), ({key}_doc))"""
            )
        total = con.execute("SELECT sum(n) FROM _docs WHERE _by_doc = 0").fetchone()
        read = f"{int(total[0]) if total and total[0] else 0:,} rows read"
        with tracker.step(_SHARES["geocode"], f"{read}; geocoding places without coordinates"):
            todo = con.execute("SELECT count(*) FROM _docs WHERE _by_doc = 0 AND _geo").fetchone()
        if geocode and todo and todo[0]:
            con.execute("DROP TABLE _docs")
            return False
        con.execute(
            """INSERT INTO _counts SELECT file_id, _filter, ok, _year, sum(n) FROM _docs
            WHERE _by_doc = 0 GROUP BY ALL"""
        )
        # When every row was accepted, the write needs the rows' values, not their reasons
        # (which DuckDB then does not compute).
        left = con.execute(
            "SELECT count(*) FROM _docs WHERE _by_doc = 0 AND NOT (ok AND _filter IS NULL)"
        ).fetchone()
        failed = bool(left and left[0])
        accepted = "WHERE v.reason = '' AND v._filter IS NULL" if failed else ""
        with (
            tracker.step(0.6 * shares, f"{read}; fractional weights"),
            _insertion_order(con, False),
        ):
            con.execute(
                _insert_sql(
                    plans,
                    columns,
                    rows=_rows_sql(plans, columns),
                    documents="(SELECT * FROM _docs WHERE _by_doc = 1 AND _doc IS NOT NULL)",
                    doc_id="_doc",
                    where=accepted,
                    stored=stored,
                )
            )
    except duckdb.Error as exc:
        _read_failed(exc, [p.path for p in plans], _READ_HINT[plans[0].fmt])
    con.execute("DROP TABLE _docs")
    with tracker.step(_SHARES["rejects"], f"{read}; rejects"):
        _collect_rejects(con, plans, table="", placed=False)
    return True


def _keys_repeat(con: duckdb.DuckDBPyConnection, plans: Sequence[_Plan]) -> bool:
    """Whether an adapter's query gave more rows than its row-defining file has.

    That happens only when a table it joins repeats a key that upstream documents as
    unique (a patent listed twice in ``g_patent``); its :attr:`_Plan.fallback` then reads
    those tables grouped by key.
    """
    checked = [p for p in plans if p.fallback]
    if not checked:
        return False
    got = dict(
        con.execute(
            f"""SELECT file_id, count(*) FROM _rows
            WHERE file_id IN ({", ".join(str(p.index) for p in checked)}) GROUP BY ALL"""
        ).fetchall()
    )
    for plan in checked:
        staged = con.execute(f"SELECT count(*) FROM _staged_{plan.index}").fetchone()
        if int(got.get(plan.index, 0)) != (int(staged[0]) if staged else 0):
            return True
    return False


def _insert_records(
    con: duckdb.DuckDBPyConnection,
    plans: Sequence[_Plan],
    table: str,
    columns: Sequence[str],
    stored: Sequence[str],
) -> None:
    """Insert the valid rows of ``table`` into ``records`` (its columns ``stored``) with
    their fractional weights.

    ``columns`` are the columns ``table`` stores (:func:`_stored`); a missing weight, org or
    field is NULL, a missing share is 1. The per-document sums are taken from ``table``
    itself (narrow); the place columns are joined in only for the insert.
    """
    # Documents are keyed by metric and doc_id; one metric needs no key of its own, and
    # several are told apart by a one-byte code.
    by_metric = len({p.metric for p in plans}) > 1
    key = f"{_metric_code_sql(plans, 'v.file_id')} AS _metric, " if by_metric else ""
    sums, _given = _document_sums(columns)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _docn AS SELECT {key}v.doc_id, {sums}
        FROM {table} AS v WHERE v.reason = '' AND v._filter IS NULL GROUP BY ALL"""
    )
    con.execute(
        _insert_sql(
            plans,
            columns,
            rows=_located_sql(table, columns),
            documents="_docn",
            doc_id="doc_id",
            where="WHERE v.reason = '' AND v._filter IS NULL",
            stored=stored,
        )
    )
    con.execute("DROP TABLE _docn")


def _insert_sql(
    plans: Sequence[_Plan],
    columns: Sequence[str],
    *,
    rows: str,
    documents: str,
    doc_id: str,
    where: str,
    stored: Sequence[str],
) -> str:
    """SQL inserting validated ``rows`` (storing ``columns``) into ``records`` (its columns
    ``stored``), each joined to its document's sums (:func:`_document_sums`) in
    ``documents`` (a table or a parenthesised query) by metric code (when ``plans`` hold
    several metrics) and ``doc_id``, and weighted by :func:`_weight_sql`; ``where`` keeps
    the rows to insert."""
    weight, share, org, field = _given_columns(columns)
    _sums, given = _document_sums(columns)
    code = _metric_code_sql(plans, "v.file_id")
    same = f"d._metric = {code} AND " if len({p.metric for p in plans}) > 1 else ""
    values = {
        "metric": _metric_sql(plans, "v.file_id"),
        **{c: f"v.{c}" for c in ("doc_id", "year", "lat", "lon", "country", "city", "region")},
        "weight": _weight_sql(weight, share, given, "d.shares"),
        "org": org,
        "field": field,
    }
    return f"""{_records_insert(values, stored)}
    FROM ({rows}) AS v JOIN {documents} AS d ON {same}v.doc_id = d.{doc_id}
    {where}"""


def _records_insert(values: Mapping[str, str], stored: Sequence[str]) -> str:
    """``INSERT INTO records SELECT`` the SQL ``values`` of its columns ``stored``, in order
    (the columns :func:`read_records` was not asked to keep are not written at all)."""
    return f"INSERT INTO records SELECT {', '.join(values[c] for c in stored)}"


def _years(con: duckdb.DuckDBPyConnection, plans: Sequence[_Plan]) -> dict[str, list[int]]:
    """The years that hold at least one accepted record, per metric (sorted), from the
    counts of every file (``_counts``): the records need not be read again."""
    metric = {p.index: p.metric for p in plans}
    years: dict[str, set[int]] = {}
    for file_id, year in con.execute(
        """SELECT DISTINCT file_id, year FROM _counts
        WHERE ok AND _filter IS NULL AND year IS NOT NULL AND n > 0"""
    ).fetchall():
        years.setdefault(metric[int(file_id)], set()).add(int(year))
    return {m: sorted(years[m]) for m in sorted(years)}


def _given_columns(columns: Sequence[str]) -> tuple[str, str, str, str]:
    """SQL of a validated row's ``weight``, ``share``, ``org`` and ``field`` (row ``v``):
    the column where ``columns`` has it, else NULL (a share of 1)."""
    weight, share, org, field = (
        f"v.{c}" if c in columns else default
        for c, default in (
            ("weight", "CAST(NULL AS DOUBLE)"),
            ("share", "1.0"),
            ("org", "CAST(NULL AS VARCHAR)"),
            ("field", "CAST(NULL AS VARCHAR)"),
        )
    )
    return weight, share, org, field


def _document_sums(columns: Sequence[str]) -> tuple[str, str]:
    """SQL of a document's sums over its accepted rows ``v``, and of what its explicit
    weights give (``d.given``), for :func:`_weight_sql` over ``d.shares``.

    The join's build side (one row per document, millions at world scale) is kept small:
    without weights or shares in any file (``columns``), a document's sum is its row count
    (an integer) and nothing is given.
    """
    weight, share, _org, _field = _given_columns(columns)
    if "weight" in columns or "share" in columns:
        return (
            f"""sum({share}) FILTER (WHERE {weight} IS NULL) AS shares,
        coalesce(sum({weight}), 0) AS given""",
            "d.given",
        )
    return "count(*) AS shares", "CAST(0 AS DOUBLE)"


def _weight_sql(weight: str, share: str, given: str, shares: str) -> str:
    """SQL of a row's fractional weight: its own ``weight``, else its ``share`` of what the
    document's explicit weights (``given``) leave of 1, over the document's ``shares``."""
    return f"coalesce({weight}, greatest(1.0 - {given}, 0.0) * {share} / {shares})"


def _open_text(path: Path, encoding: str) -> Any:
    """A text stream of a (possibly gzipped) file, undecodable bytes replaced."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, errors="replace", newline="")
    return path.open(encoding=encoding, errors="replace", newline="")


def _lines_at_bytes(path: Path, positions: Sequence[int]) -> list[int]:
    """Physical line (1-based) of each byte offset of a (possibly gzipped) file."""
    if not positions:
        return []
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    order = sorted(range(len(positions)), key=lambda i: positions[i])
    out = [0] * len(positions)
    line, offset, k = 1, 0, 0
    with opener(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            while k < len(order) and positions[order[k]] < offset + len(block):
                out[order[k]] = line + block.count(b"\n", 0, positions[order[k]] - offset)
                k += 1
            line += block.count(b"\n")
            offset += len(block)
            if k == len(order):
                break
    for i in order[k:]:
        out[i] = line
    return out


def _malformed(con: duckdb.DuckDBPyConnection, plan: _Plan) -> list[tuple[int, str, str]]:
    """The lines of one CSV file that DuckDB could not parse: ``(line, error type, reason)``.

    Lines are physical lines of the file, found from the byte offset where each bad row
    starts, so blank lines and quoted line breaks before it do not shift them.
    """
    bad = con.execute(
        f"""SELECT line_byte_position AS pos,
          first(error_type ORDER BY column_idx) AS error_type,
          first(error_message ORDER BY column_idx) AS error_message
        FROM _bad_{plan.index} GROUP BY ALL ORDER BY pos"""
    ).fetchall()
    lines = _lines_at_bytes(plan.read_path, [int(r[0]) for r in bad])
    return [
        (line, str(kind), _malformed_reason(kind, message))
        for line, (_pos, kind, message) in zip(lines, bad, strict=True)
    ]


def _row_lines(plan: _Plan, skip: set[int], rows: int | None = None) -> list[int]:
    """Physical line where each data row of a text file starts, in the reader's order.

    The header is line 1; blank lines are not rows; a quoted field with line breaks makes
    one row of several lines; the lines in ``skip`` (rows DuckDB could not parse) are not
    rows of the scan. With ``rows``, only the first ``rows`` rows are placed.
    """
    starts: list[int] = []
    with _open_text(plan.read_path, plan.encoding) as fh:
        if plan.fmt == "jsonl":
            for number, text in enumerate(fh, start=1):
                if text.strip():
                    starts.append(number)
                    if rows is not None and len(starts) >= rows:
                        break
        else:
            reader = csv.reader(fh, delimiter="\t" if plan.fmt == "tsv" else ",")
            end = 0
            header = True
            for record in reader:
                start, end = end + 1, reader.line_num
                if not record:
                    continue
                if header:
                    header = False
                elif start not in skip:
                    starts.append(start)
                    if rows is not None and len(starts) >= rows:
                        break
    return starts


def _collect_rejects(
    con: duckdb.DuckDBPyConnection, plans: Sequence[_Plan], *, table: str, placed: bool
) -> None:
    """Write the rows that failed, with their lines, into the ``rejects`` table.

    Rows of source adapters carry their line. A records table's rows are numbered only when
    it has rejects (numbering slows a scan down): it is read a second time, numbered, and
    once more in Python to find the physical line of each row (blank lines and quoted line
    breaks make row and line differ).

    Raises
    ------
    InputError
        When a text file has bytes that are not valid in its encoding.
    """
    import numpy as np
    import pandas as pd

    failed = dict(
        con.execute("SELECT file_id, sum(n) FROM _counts WHERE NOT ok GROUP BY ALL").fetchall()
    )
    for plan in plans:
        parts = []
        malformed = _malformed(con, plan) if plan.fmt in ("csv", "tsv") else []
        wrong = [line for line, kind, _reason in malformed if "ENCODING" in kind.upper()]
        if wrong:
            raise InputError(
                f"{plan.path}: line {wrong[0]} is not valid "
                f"{plan.encoding.upper()} text ({len(wrong)} such line(s)); pass the file's "
                "encoding with --encoding (e.g. --encoding latin-1 or cp1252) or save it "
                "as UTF-8"
            )
        if plan.fmt in ("csv", "tsv"):
            parts.append(
                pd.DataFrame(
                    {
                        "line": pd.Series([m[0] for m in malformed], dtype="int64"),
                        "doc_id": pd.Series([None] * len(malformed), dtype=object),
                        "reason": [m[2] for m in malformed],
                    }
                )
            )
        if failed.get(plan.index) and plan.source:
            parts.append(
                con.execute(
                    f"""SELECT line, doc_id, reason FROM {table}
                    WHERE file_id = {plan.index} AND reason <> '' AND _filter IS NULL
                    ORDER BY line"""
                ).df()
            )
        elif failed.get(plan.index):
            sql = plan.sql(numbered=True)
            if placed:
                sql = _placed_sql(f"({sql})")
            # row_number() OVER () numbers rows in file order only while order is preserved.
            with _insertion_order(con, True):
                rows = con.execute(
                    f"SELECT line, doc_id, reason FROM ({sql}) WHERE reason <> '' ORDER BY line"
                ).df()
            if plan.fmt in ("csv", "tsv", "jsonl"):
                starts = np.asarray(_row_lines(plan, {m[0] for m in malformed}), dtype=np.int64)
                rows["line"] = starts[rows["line"].to_numpy(dtype=np.int64) - 1]
            parts.append(rows)
        if parts:
            frame = pd.concat([p for p in parts if len(p)] or parts, ignore_index=True)
            frame.insert(0, "file", str(plan.path))
            frame.insert(2, "metric", plan.metric)
            if len(frame):
                _insert_frame(con, "rejects", frame[["file", "line", "metric", "doc_id", "reason"]])


def _file_stats(
    con: duckdb.DuckDBPyConnection, plans: Sequence[_Plan], sha256: Mapping[Path, str]
) -> list[FileStats]:
    accepted = dict(
        con.execute(
            "SELECT file_id, sum(n) FROM _counts WHERE ok AND _filter IS NULL GROUP BY ALL"
        ).fetchall()
    )
    by_filter: dict[int, dict[str, int]] = {}
    for file_id, name, n in con.execute(
        """SELECT file_id, _filter, sum(n) FROM _counts WHERE _filter IS NOT NULL
        GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall():
        by_filter.setdefault(int(file_id), {})[str(name)] = int(n)
    rejected = dict(con.execute("SELECT file, count(*) FROM rejects GROUP BY ALL").fetchall())
    stats = []
    for plan in plans:
        path = plan.path
        n_ok = int(accepted.get(plan.index, 0))
        n_rej = int(rejected.get(str(path), 0))
        filtered = by_filter.get(plan.index, {})
        n_filtered = sum(filtered.values())
        stats.append(
            FileStats(
                path=str(path),
                metric=plan.metric,
                format=plan.fmt,
                size_bytes=path.stat().st_size,
                sha256=sha256[path],
                rows_read=n_ok + n_rej + n_filtered,
                rows_accepted=n_ok,
                rows_rejected=n_rej,
                synthetic=plan.fmt == "parquet" and marked_synthetic(path),
                columns=dict(plan.columns or plan.mapping),
                encoding=plan.encoding if plan.fmt in ("csv", "tsv", "jsonl") else "",
                adapter=plan.adapter,
                rows_filtered=n_filtered,
                filtered=filtered,
                files=[str(f) for f in plan.files] or [str(path)],
            )
        )
    return stats


def marked_synthetic(path: Path) -> bool:
    """Whether a Parquet file says it holds synthetic data (the demo generator marks its own)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, ValueError):
        return False
    return b"SYNTHETIC" in meta.get(b"innoclusters", b"").upper()


def _malformed_reason(error_type: str, message: str) -> str:
    kind = str(error_type).lower()
    if "encoding" in kind or "unicode" in str(message).lower():
        return "not UTF-8 text; save the file as UTF-8"
    return f"malformed row: {str(message).splitlines()[0]}"


def _placed_sql(rows: str) -> str:
    """Rows (a table name or a parenthesised query) with the geocoded places joined in.

    Adds the coordinates, and ``place not found`` reasons, from ``_placed``.
    """
    return f"""SELECT v.* REPLACE (
        coalesce(v.lat, p.g_lat) AS lat, coalesce(v.lon, p.g_lon) AS lon,
        coalesce(v.country, p.g_country) AS country,
        CASE WHEN v.reason = '' AND v.lat IS NULL AND v.lon IS NULL
          THEN coalesce(p.g_reason, '') ELSE v.reason END AS reason)
      FROM {rows} AS v LEFT JOIN _placed AS p
        ON v.lat IS NULL AND v.lon IS NULL AND v.city = p.city
        AND v.region IS NOT DISTINCT FROM p.region AND v.country IS NOT DISTINCT FROM p.country"""


def _geocode(
    con: duckdb.DuckDBPyConnection, plans: Sequence[_Plan], columns: Sequence[str]
) -> dict[str, Any]:
    """Geocode the unique places of the valid ``_rows`` that have a city but no coordinates.

    Leaves the table ``_placed`` (``city, region, country, g_lat, g_lon, g_country,
    g_reason``) for :func:`_placed_sql` and returns the geocoding rate per metric and the
    most frequent places not found. Returns ``{}`` when no row needs geocoding. Rows with
    a place id are looked at only when some place of ``_places`` has a city but no
    coordinates.
    """
    valid = "v.reason = '' AND v._filter IS NULL"
    parts = []
    if "lat" in columns:
        own = " AND v._pid IS NULL" if "_pid" in columns else ""
        parts.append(
            f"""SELECT v.file_id, v.city, v.region, v.country FROM _rows AS v
            WHERE {valid}{own} AND v.lat IS NULL AND v.lon IS NULL AND v.city IS NOT NULL"""
        )
    todo_places = "FROM _places WHERE lat IS NULL AND lon IS NULL AND city IS NOT NULL"
    needed = con.execute(f"SELECT count(*) {todo_places}").fetchone()
    if "_pid" in columns and needed and needed[0]:
        parts.append(
            f"""SELECT v.file_id, pl.city, pl.region, pl.country FROM _rows AS v
            JOIN (SELECT * {todo_places}) AS pl ON pl._pid = v._pid WHERE {valid}"""
        )
    if not parts:
        return {}
    todo = con.execute(
        f"""SELECT {_metric_sql(plans)} AS metric, city, region, country, count(*) AS rows
        FROM ({" UNION ALL ".join(parts)}) GROUP BY ALL"""
    ).df()
    if not len(todo):
        return {}
    placed, stats = geocode_todo(todo)
    con.register("_placed_frame", placed)
    con.execute("CREATE OR REPLACE TEMP TABLE _placed AS SELECT * FROM _placed_frame")
    con.unregister("_placed_frame")
    return stats


def geocode_todo(todo: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Geocode the places of rows that have a city but no coordinates, once per place.

    Parameters
    ----------
    todo
        ``metric, city, region, country, rows``: the valid rows to geocode, counted per
        metric and place.

    Returns
    -------
    placed : pandas.DataFrame
        One row per distinct ``city, region, country`` with ``g_lat, g_lon, g_country`` and
        ``g_reason`` (``NULL`` when found).
    stats : dict
        Per metric: rows to geocode, rows geocoded, the rate and the most frequent places
        not found (the manifest's ``geocoding``).
    """
    import pandas as pd

    uniq = todo[["city", "region", "country"]].drop_duplicates().reset_index(drop=True)
    placed = pd.concat([uniq, places.geocode_places(uniq).add_prefix("g_")], axis=1)
    placed = placed[["city", "region", "country", "g_lat", "g_lon", "g_country", "g_reason"]]
    stats: dict[str, Any] = {}
    merged = todo.merge(placed, on=["city", "region", "country"], how="left")
    for metric, grp in merged.groupby("metric", sort=True):
        total = int(grp["rows"].sum())
        missed = grp[grp["g_reason"].notna()]
        top = (
            missed.groupby("g_reason")["rows"]
            .sum()
            .sort_values(ascending=False, kind="stable")
            .head(10)
        )
        n_missed = int(missed["rows"].sum())
        stats[str(metric)] = {
            "rows_to_geocode": total,
            "rows_geocoded": total - n_missed,
            "rate": (total - n_missed) / total if total else 1.0,
            "top_unmatched": [
                {"place": str(r).removeprefix("place not found: "), "rows": int(n)}
                for r, n in top.items()
            ],
        }
    return placed, stats


def _assign_countries(con: duckdb.DuckDBPyConnection) -> int:
    """Give a country to records that have coordinates but none; return how many places."""
    # Most inputs have a country on every row: then pandas need not even be imported.
    if not con.execute("SELECT 1 FROM records WHERE country IS NULL LIMIT 1").fetchall():
        return 0
    no_country = con.execute("SELECT DISTINCT lat, lon FROM records WHERE country IS NULL").df()
    codes = places.country_at(
        no_country["lat"].to_numpy(dtype=float), no_country["lon"].to_numpy(dtype=float)
    )
    no_country["g_country"] = [c if c else None for c in codes]
    con.register("_cc", no_country)
    con.execute(
        """UPDATE records AS s SET country = c.g_country FROM _cc AS c
        WHERE s.country IS NULL AND s.lat = c.lat AND s.lon = c.lon"""
    )
    con.unregister("_cc")
    return int(sum(1 for c in codes if c))
