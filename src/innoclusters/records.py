"""Records: reading, validating and fractionally counting the input rows of each metric.

A record is one document (a PCT application, an article, a VC deal) at one address. Input
files are CSV (comma-separated; ``.tsv`` for tabs), Parquet or JSON Lines, one or more per
metric, read with DuckDB so that files larger than memory work. Every row read is either
accepted into the ``records`` table or listed in the ``rejects`` table with its file, line
and reason: accepted + rejected = read, per file.

Fractional counting: a row without a ``weight`` gets ``1 / n`` where ``n`` is the number of
*accepted* rows of its document (same metric and ``doc_id``, across all files of the metric).
A document whose rows are partly rejected therefore still counts 1, shared among the
addresses that could be used; a document whose rows are all rejected counts 0. Rows with an
explicit ``weight`` keep it.

Line numbers: for CSV the physical line in the file (the header is line 1), assuming quoted
fields hold no line breaks; for JSON Lines the line; for Parquet the 1-based row number.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pycountry

from innoclusters import places
from innoclusters._io import format_of, sql_path
from innoclusters.config import METRICS
from innoclusters.errors import InputError

__all__ = [
    "OPTIONAL_COLUMNS",
    "YEAR_RANGE",
    "FileStats",
    "RecordSet",
    "read_records",
]

#: Columns the pipeline uses besides ``doc_id``, ``year`` and the coordinates.
OPTIONAL_COLUMNS: tuple[str, ...] = ("country", "weight", "city", "region", "org", "field")

#: Years accepted as sane, inclusive.
YEAR_RANGE: tuple[int, int] = (1900, 2100)


# Kosovo's user-assigned code is in common use by statistical offices.
_ISO2 = sorted({c.alpha_2 for c in pycountry.countries} | {"XK"})


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the manifest."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class RecordSet:
    """Accepted records and rejects of one run, held in a DuckDB connection.

    The ``records`` table has columns ``metric, doc_id, year, lat, lon, country, weight, city,
    region, org, field``; the ``rejects`` table ``file, line, metric, doc_id, reason``.
    """

    connection: duckdb.DuckDBPyConnection
    files: list[FileStats]
    geocoding: dict[str, Any] = dataclasses.field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """The accepted records as a pandas frame (in a canonical order)."""
        return self.connection.execute(
            "SELECT * FROM records ORDER BY metric, doc_id, lat, lon, weight"
        ).df()

    def rejects(self) -> pd.DataFrame:
        """The rejected rows, by file and line."""
        return self.connection.execute("SELECT * FROM rejects ORDER BY file, line").df()

    def metrics(self) -> tuple[str, ...]:
        """Metrics with at least one accepted record, in output order."""
        present = {
            r[0] for r in self.connection.execute("SELECT DISTINCT metric FROM records").fetchall()
        }
        return tuple(m for m in METRICS if m in present)


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


def _scan_sql(path: Path, fmt: str, index: int, *, numbered: bool = False) -> str:
    """SQL reading one file; ``numbered`` adds ``_row``, the 1-based row number.

    Row numbers make a scan slower (ordered), so they are asked for only when a file has
    rows to reject, whose lines must be reported.
    """
    p = sql_path(path)
    if fmt in ("csv", "tsv"):
        delim = "\\t" if fmt == "tsv" else ","
        source = (
            f"read_csv('{p}', delim='{delim}', header=true, all_varchar=true, quote='\"', "
            f"escape='\"', store_rejects=true, rejects_table='_bad_{index}', "
            f"rejects_scan='_scan_{index}', auto_detect=true)"
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


_READ_HINT = {
    "csv": "check it is a comma-separated UTF-8 text file with a header row",
    "tsv": "check it is a tab-separated UTF-8 text file with a header row",
    "parquet": "check it is a valid Parquet file",
    "jsonl": "check it has one JSON object per line",
}

_RECORDS_SCHEMA = """metric VARCHAR, doc_id VARCHAR, year INTEGER, lat DOUBLE, lon DOUBLE,
    country VARCHAR, weight DOUBLE, city VARCHAR, region VARCHAR, org VARCHAR, field VARCHAR,
    file_id INTEGER, reason VARCHAR"""


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


def _columns(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, index: int, metric: str
) -> dict[str, str]:
    """Column types of one file; raise when a required column is missing."""
    described = _execute(con, f"DESCRIBE {_scan_sql(path, fmt, index)}", path, fmt).fetchall()
    have = {str(r[0]): str(r[1]) for r in described}
    missing = [c for c in ("doc_id", "year") if c not in have]
    if not ({"lat", "lon"} <= have.keys() or "city" in have):
        missing += [c for c in ("lat", "lon") if c not in have]
    if missing:
        found = ", ".join(sorted(set(have) - {"_row"})) or "none"
        hint = "add them to the header"
        only = [c for c in have if c != "_row"]
        if fmt == "csv" and len(only) == 1:
            for sep, sname in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
                if sep in only[0]:
                    hint = f"the header looks separated by {sname}; save the file comma-separated"
                    if sep == "\t":
                        hint += " or name it .tsv"
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} for {metric} (found: {found}); {hint}"
        )
    return have


def _text(col: str, types: Mapping[str, str]) -> str:
    """SQL for a column as text, NULL when absent or empty."""
    if col not in types:
        return "CAST(NULL AS VARCHAR)"
    if types[col].upper() == "VARCHAR":
        return f"nullif(\"{col}\", '')"
    return f"nullif(CAST(\"{col}\" AS VARCHAR), '')"


def _number(col: str, types: Mapping[str, str]) -> tuple[str, str, str]:
    """SQL for a numeric column: (value as DOUBLE, is-missing test, text for messages)."""
    if col not in types:
        return "CAST(NULL AS DOUBLE)", "true", "''"
    if types[col].upper() in ("VARCHAR", "JSON"):
        text = f'trim(CAST("{col}" AS VARCHAR))'
        return f"TRY_CAST({text} AS DOUBLE)", f"nullif({text}, '') IS NULL", text
    return f'TRY_CAST("{col}" AS DOUBLE)', f'"{col}" IS NULL', f'CAST("{col}" AS VARCHAR)'


def _validate_sql(scan: str, metric: str, types: Mapping[str, str], file_id: int, line: str) -> str:
    """SQL giving every row of a file typed columns and a ``reason`` ('' when valid).

    ``line`` is the SQL of the row's line number (``NULL`` when the scan is not numbered).
    """
    year, year_missing, year_txt = _number("year", types)
    lat, lat_missing, lat_txt = _number("lat", types)
    lon, lon_missing, lon_txt = _number("lon", types)
    weight, weight_missing, weight_txt = _number("weight", types)
    lo, hi = YEAR_RANGE
    m = metric.replace("'", "''")
    metric_txt = _text("metric", types)
    doc_txt = _text("doc_id", types)
    country = f"upper({_text('country', types)})"
    city = _text("city", types)
    reason = f"""concat_ws('; ',
      CASE WHEN {metric_txt} IS NOT NULL AND lower({metric_txt}) <> '{m}'
        THEN 'metric ''' || {metric_txt} || ''' in a {m} file' END,
      CASE WHEN {doc_txt} IS NULL THEN 'missing doc_id' END,
      CASE WHEN {year_missing} THEN 'missing year'
           WHEN {year} IS NULL OR NOT isfinite({year}) OR {year} <> floor({year})
             THEN 'year ''' || {year_txt} || ''' is not a whole number'
           WHEN {year} < {lo} OR {year} > {hi}
             THEN 'year ' || {year_txt} || ' outside {lo}-{hi}' END,
      CASE WHEN {lat_missing} AND {lon_missing} THEN
             CASE WHEN {city} IS NULL THEN 'missing lat/lon and city' END
           WHEN {lat_missing} THEN 'missing lat'
           WHEN {lat} IS NULL OR NOT isfinite({lat})
             THEN 'lat ''' || {lat_txt} || ''' is not a number'
           WHEN {lat} < -90 OR {lat} > 90 THEN 'lat ' || {lat_txt} || ' outside -90..90' END,
      CASE WHEN {lat_missing} AND {lon_missing} THEN NULL
           WHEN {lon_missing} THEN 'missing lon'
           WHEN {lon} IS NULL OR NOT isfinite({lon})
             THEN 'lon ''' || {lon_txt} || ''' is not a number'
           WHEN {lon} < -180 OR {lon} > 180 THEN 'lon ' || {lon_txt} || ' outside -180..180' END,
      CASE WHEN NOT ({weight_missing}) AND ({weight} IS NULL OR NOT isfinite({weight}))
             THEN 'weight ''' || {weight_txt} || ''' is not a number'
           WHEN {weight} < 0 THEN 'weight ' || {weight_txt} || ' is negative' END,
      CASE WHEN {country} IS NOT NULL AND {country} NOT IN (SELECT code FROM _iso2)
             THEN 'country ''' || {country} || ''' is not an ISO 3166-1 alpha-2 code' END
    )"""
    return f"""
    SELECT '{m}' AS metric, {doc_txt} AS doc_id,
      CASE WHEN {year} BETWEEN {lo} AND {hi} AND {year} = floor({year})
        THEN CAST({year} AS INTEGER) END AS year,
      {lat} AS lat, {lon} AS lon, {country} AS country,
      CASE WHEN {weight_missing} THEN NULL ELSE {weight} END AS weight,
      {city} AS city, {_text("region", types)} AS region, {_text("org", types)} AS org,
      {_text("field", types)} AS field, {file_id} AS file_id, {line} AS line,
      {reason} AS reason
    FROM ({scan})
    """


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("_frame", frame)
    con.execute(f"INSERT INTO {table} SELECT * FROM _frame")
    con.unregister("_frame")


@dataclasses.dataclass(frozen=True)
class _Plan:
    """One input file: where it is, how to read it, and its columns."""

    path: Path
    fmt: str
    metric: str
    index: int
    types: Mapping[str, str]

    def sql(self, *, numbered: bool = False) -> str:
        """The SQL that validates every row (with line numbers when ``numbered``)."""
        scan = _scan_sql(self.path, self.fmt, self.index, numbered=numbered)
        header = int(self.fmt in ("csv", "tsv"))
        line = f"_row + {header}" if numbered else "CAST(NULL AS BIGINT)"
        return _validate_sql(scan, self.metric, self.types, self.index, line)


def read_records(
    sources: Mapping[str, Sequence[str | Path]],
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    geocode: bool = True,
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
    connection
        DuckDB connection to hold the tables (a new in-memory one by default).
    geocode
        Place rows that have ``city``/``country`` but no coordinates, and give a ``country``
        to rows that have coordinates but none (see :mod:`innoclusters.places`). When
        ``False``, rows without coordinates are rejected.

    Returns
    -------
    RecordSet
        With tables ``records`` and ``rejects`` and per-file statistics.

    Raises
    ------
    InputError
        When a file is missing, empty, unreadable, of an unknown type, or lacks a required
        column. Row-level problems do not raise: those rows go to the rejects.
    """
    unknown = [m for m in sources if m not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; use {', '.join(METRICS)}")
    if not any(sources.values()):
        raise InputError("no input files; pass at least one of --patents, --publications, --vc")
    con = connection if connection is not None else duckdb.connect()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _iso2 AS SELECT unnest(?::VARCHAR[]) AS code", [_ISO2]
    )
    con.execute(f"CREATE OR REPLACE TABLE records ({_RECORDS_SCHEMA})")
    con.execute(
        """CREATE OR REPLACE TABLE rejects (file VARCHAR, line BIGINT, metric VARCHAR,
        doc_id VARCHAR, reason VARCHAR)"""
    )
    plans: list[_Plan] = []
    for metric in METRICS:
        for raw_path in sources.get(metric, ()):
            path = Path(raw_path)
            _check_file(path)
            if any(p.path == path for p in plans):
                raise InputError(f"{path}: passed twice; pass each file once")
            fmt = format_of(path)
            index = len(plans)
            types = _columns(con, path, fmt, index, metric)
            plans.append(_Plan(path, fmt, metric, index, types))
    geocoding = _geocode(con, plans) if geocode else {}
    for metric in METRICS:
        mine = [p for p in plans if p.metric == metric]
        if not mine:
            continue
        rows = " UNION ALL ".join(f"({p.sql()})" for p in mine)
        if geocoding:
            rows = _placed_sql(rows)
        try:
            # Fractional weights: count each document's accepted rows first, then join;
            # a window over the rows would buffer every column of every row.
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _docn AS SELECT doc_id, count(*) AS n
                FROM ({rows}) WHERE reason = '' GROUP BY doc_id"""
            )
            con.execute(
                f"""INSERT INTO records SELECT v.metric, v.doc_id, v.year, v.lat, v.lon,
                v.country, CASE WHEN v.reason = '' THEN coalesce(v.weight, 1.0 / d.n) END,
                v.city, v.region, v.org, v.field, v.file_id, v.reason
                FROM ({rows}) AS v LEFT JOIN _docn AS d ON v.doc_id = d.doc_id"""
            )
            con.execute("DROP TABLE _docn")
        except duckdb.Error as exc:
            names = ", ".join(str(p.path) for p in mine)
            first = str(exc).strip().splitlines()[0]
            raise InputError(
                f"{names}: cannot be read ({first}); {_READ_HINT[mine[0].fmt]}"
            ) from None
    _collect_rejects(con, plans, placed=bool(geocoding))
    if geocode:
        assigned = _assign_countries(con)
        if assigned:
            geocoding["countries_assigned"] = assigned
    return RecordSet(
        connection=con,
        files=_file_stats(
            con, [p.path for p in plans], [p.fmt for p in plans], [p.metric for p in plans]
        ),
        geocoding=geocoding,
    )


def _malformed_lines(con: duckdb.DuckDBPyConnection, index: int) -> pd.DataFrame:
    """The lines of one CSV file that DuckDB could not parse, with their reasons."""
    bad = con.execute(
        f"""SELECT line, first(error_type ORDER BY column_idx) AS error_type,
          first(error_message ORDER BY column_idx) AS error_message
        FROM _bad_{index} GROUP BY line ORDER BY line"""
    ).df()
    return pd.DataFrame(
        {
            "line": bad["line"].astype("int64"),
            "doc_id": pd.Series([None] * len(bad), dtype=object),
            "reason": [
                _malformed_reason(t, msg)
                for t, msg in zip(bad["error_type"], bad["error_message"], strict=True)
            ],
        }
    )


def _collect_rejects(
    con: duckdb.DuckDBPyConnection, plans: Sequence[_Plan], *, placed: bool
) -> None:
    """Move the rows that failed from the records into the rejects, with their lines.

    The first pass does not number rows (numbering slows a scan down); a file with rejected
    rows is read a second time, numbered, to find their lines. A CSV line counts the header
    and the malformed lines DuckDB skipped before it.
    """
    failed = dict(
        con.execute(
            "SELECT file_id, count(*) FROM records WHERE reason <> '' GROUP BY ALL"
        ).fetchall()
    )
    for plan in plans:
        parts = []
        malformed = pd.DataFrame()
        if plan.fmt in ("csv", "tsv"):
            malformed = _malformed_lines(con, plan.index)
            parts.append(malformed)
        if failed.get(plan.index):
            sql = plan.sql(numbered=True)
            if placed:
                sql = _placed_sql(sql)
            # row_number() OVER () numbers rows in file order only while order is preserved.
            keep = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
            con.execute("SET preserve_insertion_order = true")
            rows = con.execute(
                f"SELECT line, doc_id, reason FROM ({sql}) WHERE reason <> '' ORDER BY line"
            ).df()
            con.execute(f"SET preserve_insertion_order = {bool(keep and keep[0])}")
            if len(malformed):
                # Row r sits on line r + 1 plus the malformed lines before it; the j-th
                # malformed line (0-based) at line b_j has b_j - 2 - j parsed rows before it.
                before = malformed["line"].to_numpy(dtype=np.int64) - 2 - np.arange(len(malformed))
                parsed = rows["line"].to_numpy(dtype=np.int64) - 1
                rows["line"] = parsed + 1 + np.searchsorted(before, parsed, side="right")
            parts.append(rows)
        if parts:
            frame = pd.concat([p for p in parts if len(p)] or parts, ignore_index=True)
            frame.insert(0, "file", str(plan.path))
            frame.insert(2, "metric", plan.metric)
            if len(frame):
                _insert_frame(con, "rejects", frame[["file", "line", "metric", "doc_id", "reason"]])
    con.execute("DELETE FROM records WHERE reason <> ''")


def _file_stats(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[Path],
    formats: Sequence[str],
    metrics: Sequence[str],
) -> list[FileStats]:
    accepted = dict(con.execute("SELECT file_id, count(*) FROM records GROUP BY ALL").fetchall())
    rejected = dict(con.execute("SELECT file, count(*) FROM rejects GROUP BY ALL").fetchall())
    stats = []
    for i, (path, fmt) in enumerate(zip(paths, formats, strict=True)):
        n_ok = int(accepted.get(i, 0))
        n_rej = int(rejected.get(str(path), 0))
        stats.append(
            FileStats(
                path=str(path),
                metric=metrics[i],
                format=fmt,
                size_bytes=path.stat().st_size,
                sha256=_sha256(path),
                rows_read=n_ok + n_rej,
                rows_accepted=n_ok,
                rows_rejected=n_rej,
                synthetic=fmt == "parquet" and _marked_synthetic(path),
            )
        )
    return stats


def _marked_synthetic(path: Path) -> bool:
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


def _has_rows_without_coordinates(con: duckdb.DuckDBPyConnection, plan: _Plan) -> bool:
    """Whether any row of a file lacks both coordinates (a cheap scan of two columns)."""
    if "lat" not in plan.types or "lon" not in plan.types:
        return True
    _, lat_missing, _ = _number("lat", plan.types)
    _, lon_missing, _ = _number("lon", plan.types)
    scan = _scan_sql(plan.path, plan.fmt, plan.index)
    found = con.execute(
        f"SELECT 1 FROM ({scan}) WHERE ({lat_missing}) AND ({lon_missing}) LIMIT 1"
    ).fetchone()
    return found is not None


def _placed_sql(rows: str) -> str:
    """Rows with the geocoded coordinates (and ``place not found`` reasons) joined in."""
    return f"""SELECT v.* REPLACE (
        coalesce(v.lat, p.g_lat) AS lat, coalesce(v.lon, p.g_lon) AS lon,
        coalesce(v.country, p.g_country) AS country,
        CASE WHEN v.reason = '' AND v.lat IS NULL AND v.lon IS NULL
          THEN coalesce(p.g_reason, '') ELSE v.reason END AS reason)
      FROM ({rows}) AS v LEFT JOIN _placed AS p
        ON v.lat IS NULL AND v.lon IS NULL AND v.city = p.city
        AND v.region IS NOT DISTINCT FROM p.region AND v.country IS NOT DISTINCT FROM p.country"""


def _geocode(con: duckdb.DuckDBPyConnection, plans: Sequence[_Plan]) -> dict[str, Any]:
    """Geocode the unique places of rows that have a ``city`` but no coordinates.

    Leaves the table ``_placed`` (``city, region, country, g_lat, g_lon, g_country,
    g_reason``) for :func:`_placed_sql` and returns the geocoding rate per metric and the
    most frequent places not found. Returns ``{}`` when no row needs geocoding.
    """
    with_city = [p for p in plans if "city" in p.types and _has_rows_without_coordinates(con, p)]
    if not with_city:
        return {}
    rows = " UNION ALL ".join(
        f"""(SELECT metric, city, region, country FROM ({p.sql()})
        WHERE reason = '' AND lat IS NULL AND lon IS NULL)"""
        for p in with_city
    )
    todo = con.execute(
        f"SELECT metric, city, region, country, count(*) AS rows FROM ({rows}) GROUP BY ALL"
    ).df()
    if not len(todo):
        return {}
    uniq = todo[["city", "region", "country"]].drop_duplicates().reset_index(drop=True)
    placed = pd.concat([uniq, places.geocode_places(uniq).add_prefix("g_")], axis=1)
    placed = placed[["city", "region", "country", "g_lat", "g_lon", "g_country", "g_reason"]]
    con.register("_placed_frame", placed)
    con.execute("CREATE OR REPLACE TEMP TABLE _placed AS SELECT * FROM _placed_frame")
    con.unregister("_placed_frame")
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
    return stats


def _assign_countries(con: duckdb.DuckDBPyConnection) -> int:
    """Give a country to records that have coordinates but none; return how many places."""
    no_country = con.execute("SELECT DISTINCT lat, lon FROM records WHERE country IS NULL").df()
    if not len(no_country):
        return 0
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
