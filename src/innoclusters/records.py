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

from innoclusters.config import METRICS
from innoclusters.errors import InputError

__all__ = [
    "FORMATS",
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

#: File name endings and the format they mean.
FORMATS: Mapping[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

_COMPRESSION = (".gz", ".zst")

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

    def documents(self) -> dict[str, int]:
        """Number of distinct accepted documents per metric."""
        rows = self.connection.execute(
            "SELECT metric, count(DISTINCT doc_id) FROM records GROUP BY metric"
        ).fetchall()
        return {str(m): int(n) for m, n in rows}

    def metrics(self) -> tuple[str, ...]:
        """Metrics with at least one accepted record, in output order."""
        present = {
            r[0] for r in self.connection.execute("SELECT DISTINCT metric FROM records").fetchall()
        }
        return tuple(m for m in METRICS if m in present)


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for comp in _COMPRESSION:
        if name.endswith(comp):
            name = name[: -len(comp)]
    suffix = Path(name).suffix
    if suffix not in FORMATS:
        raise InputError(
            f"{path}: unknown file type '{suffix or path.name}'; use .csv, .tsv, .parquet or "
            ".jsonl (JSON Lines)"
        )
    return FORMATS[suffix]


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


def _scan_sql(path: Path, fmt: str, index: int) -> str:
    p = str(path).replace("'", "''")
    if fmt in ("csv", "tsv"):
        delim = "\\t" if fmt == "tsv" else ","
        return (
            f"SELECT *, row_number() OVER () AS _row FROM read_csv('{p}', delim='{delim}', "
            "header=true, all_varchar=true, quote='\"', escape='\"', store_rejects=true, "
            f"rejects_table='_bad_{index}', rejects_scan='_scan_{index}', auto_detect=true)"
        )
    if fmt == "parquet":
        return (
            "SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _row "
            f"FROM read_parquet('{p}', file_row_number=true)"
        )
    return (
        "SELECT *, row_number() OVER () AS _row FROM "
        f"read_json('{p}', format='newline_delimited', records=true, sample_size=-1)"
    )


_NUM = "TRY_CAST(trim(CAST({c} AS VARCHAR)) AS DOUBLE)"


def _txt(col: str, have: set[str]) -> str:
    """SQL for a column as trimmed text, NULL when absent or blank."""
    if col not in have:
        return "CAST(NULL AS VARCHAR)"
    return f"nullif(trim(CAST(\"{col}\" AS VARCHAR)), '')"


_READ_HINT = {
    "csv": "check it is a comma-separated UTF-8 text file with a header row",
    "tsv": "check it is a tab-separated UTF-8 text file with a header row",
    "parquet": "check it is a valid Parquet file",
    "jsonl": "check it has one JSON object per line",
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


def _columns(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, index: int, metric: str
) -> set[str]:
    """Columns of one file; raise when a required one is missing."""
    described = _execute(con, f"DESCRIBE {_scan_sql(path, fmt, index)}", path, fmt).fetchall()
    have = {str(r[0]) for r in described}
    missing = [c for c in ("doc_id", "year") if c not in have]
    if not ({"lat", "lon"} <= have or "city" in have):
        missing += [c for c in ("lat", "lon") if c not in have]
    if missing:
        found = ", ".join(sorted(have - {"_row"})) or "none"
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


def _validate_sql(scan: str, metric: str, have: set[str], path: str) -> str:
    """SQL selecting every staged row with typed columns and a ``reason`` (NULL when valid)."""
    lat = _NUM.format(c='"lat"') if "lat" in have else "CAST(NULL AS DOUBLE)"
    lon = _NUM.format(c='"lon"') if "lon" in have else "CAST(NULL AS DOUBLE)"
    weight = _NUM.format(c='"weight"') if "weight" in have else "CAST(NULL AS DOUBLE)"
    lo, hi = YEAR_RANGE
    m = metric.replace("'", "''")
    metric_check = (
        f"CASE WHEN {_txt('metric', have)} IS NOT NULL AND lower({_txt('metric', have)}) <> '{m}' "
        f"THEN 'metric ''' || {_txt('metric', have)} || ''' in a {m} file' END"
        if "metric" in have
        else "NULL"
    )
    weight_txt = _txt("weight", have)
    return f"""
    WITH t AS (
      SELECT _row,
        {_txt("doc_id", have)} AS doc_id,
        {_txt("year", have)} AS year_txt,
        {_NUM.format(c='"year"')} AS year_num,
        {_txt("lat", have)} AS lat_txt, {lat} AS lat,
        {_txt("lon", have)} AS lon_txt, {lon} AS lon,
        upper({_txt("country", have)}) AS country,
        {weight_txt} AS weight_txt, {weight} AS weight,
        {_txt("city", have)} AS city, {_txt("region", have)} AS region,
        {_txt("org", have)} AS org, {_txt("field", have)} AS field,
        {metric_check} AS metric_problem
      FROM ({scan})
    )
    SELECT t.*, '{m}' AS metric, concat_ws('; ',
      metric_problem,
      CASE WHEN doc_id IS NULL THEN 'missing doc_id' END,
      CASE WHEN year_txt IS NULL THEN 'missing year'
           WHEN year_num IS NULL OR NOT isfinite(year_num) OR year_num <> floor(year_num)
             THEN 'year ''' || year_txt || ''' is not a whole number'
           WHEN year_num < {lo} OR year_num > {hi}
             THEN 'year ' || year_txt || ' outside {lo}-{hi}' END,
      CASE WHEN lat_txt IS NULL AND lon_txt IS NULL THEN
             CASE WHEN city IS NULL THEN 'missing lat/lon and city' END
           WHEN lat_txt IS NULL THEN 'missing lat'
           WHEN lat IS NULL OR NOT isfinite(lat) THEN 'lat ''' || lat_txt || ''' is not a number'
           WHEN lat < -90 OR lat > 90 THEN 'lat ' || lat_txt || ' outside -90..90' END,
      CASE WHEN lat_txt IS NULL AND lon_txt IS NULL THEN NULL
           WHEN lon_txt IS NULL THEN 'missing lon'
           WHEN lon IS NULL OR NOT isfinite(lon) THEN 'lon ''' || lon_txt || ''' is not a number'
           WHEN lon < -180 OR lon > 180 THEN 'lon ' || lon_txt || ' outside -180..180' END,
      CASE WHEN weight_txt IS NOT NULL AND (weight IS NULL OR NOT isfinite(weight))
             THEN 'weight ''' || weight_txt || ''' is not a number'
           WHEN weight < 0 THEN 'weight ' || weight_txt || ' is negative' END,
      CASE WHEN country IS NOT NULL AND country NOT IN (SELECT code FROM _iso2)
             THEN 'country ''' || country || ''' is not an ISO 3166-1 alpha-2 code' END
    ) AS reason, '{path.replace("'", "''")}' AS file
    FROM t
    """


def _line_of(rows: np.ndarray, bad_lines: np.ndarray, fmt: str) -> np.ndarray:
    """Map 1-based parsed row numbers to file lines, skipping malformed CSV lines."""
    if fmt == "parquet" or fmt == "jsonl":
        return rows
    # Row r (1-based among parsed rows) sits on line r + 1 (header) + the malformed lines
    # before it. The j-th malformed line (0-based j) at line b_j has b_j - 2 - j parsed rows
    # before it.
    before = np.sort(bad_lines) - 2 - np.arange(len(bad_lines))
    return rows + 1 + np.searchsorted(before, rows - 1, side="right")


def read_records(
    sources: Mapping[str, Sequence[str | Path]],
    *,
    connection: duckdb.DuckDBPyConnection | None = None,
    geocode: bool = True,
) -> RecordSet:
    """Read, validate and fractionally count the records of every metric.

    Parameters
    ----------
    sources
        Files per metric, e.g. ``{"patents": ["pct.parquet"], "publications": [...]}``.
    connection
        DuckDB connection to hold the tables (a new in-memory one by default).
    geocode
        Place rows that have ``city``/``country`` but no coordinates, and give a ``country``
        to rows that have coordinates but none (see :mod:`innoclusters.places`).

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
    con.execute(
        """CREATE OR REPLACE TABLE _staged (metric VARCHAR, doc_id VARCHAR, year INTEGER,
        lat DOUBLE, lon DOUBLE, country VARCHAR, weight DOUBLE, city VARCHAR, region VARCHAR,
        org VARCHAR, field VARCHAR, file VARCHAR, line BIGINT, needs_place BOOLEAN)"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE rejects (file VARCHAR, line BIGINT, metric VARCHAR,
        doc_id VARCHAR, reason VARCHAR)"""
    )
    files: list[FileStats] = []
    index = 0
    for metric in METRICS:
        for raw_path in sources.get(metric, ()):
            path = Path(raw_path)
            _check_file(path)
            fmt = _format_of(path)
            have = _columns(con, path, fmt, index, metric)
            scan = _scan_sql(path, fmt, index)
            _execute(
                con,
                f"CREATE TEMP TABLE _val_{index} AS {_validate_sql(scan, metric, have, str(path))}",
                path,
                fmt,
            )
            n_bad = 0
            if fmt in ("csv", "tsv"):
                n_bad = int(
                    con.execute(f"SELECT count(DISTINCT line) FROM _bad_{index}").fetchone()[0]  # type: ignore[index]
                )
            con.execute(
                f"""INSERT INTO _staged SELECT metric, doc_id, CAST(year_num AS INTEGER), lat, lon,
                country, weight, city, region, org, field, file, _row,
                lat IS NULL AND lon IS NULL FROM _val_{index} WHERE reason = ''"""
            )
            bad_rows = con.execute(
                f"SELECT _row, doc_id, reason FROM _val_{index} WHERE reason <> '' ORDER BY _row"
            ).df()
            bad_lines = np.zeros(0, dtype=np.int64)
            if fmt in ("csv", "tsv") and n_bad:
                malformed = con.execute(
                    f"""SELECT line, first(error_type ORDER BY column_idx) AS error_type,
                      first(error_message ORDER BY column_idx) AS error_message
                    FROM _bad_{index} GROUP BY line ORDER BY line"""
                ).df()
                bad_lines = malformed["line"].to_numpy(dtype=np.int64)
                mal = pd.DataFrame(
                    {
                        "file": str(path),
                        "line": malformed["line"].astype("int64"),
                        "metric": metric,
                        "doc_id": None,
                        "reason": [
                            _malformed_reason(t, msg)
                            for t, msg in zip(
                                malformed["error_type"], malformed["error_message"], strict=True
                            )
                        ],
                    }
                )
                con.register("_mal", mal)
                con.execute("INSERT INTO rejects SELECT * FROM _mal")
                con.unregister("_mal")
            if len(bad_rows):
                rej = pd.DataFrame(
                    {
                        "file": str(path),
                        "line": _line_of(bad_rows["_row"].to_numpy(dtype=np.int64), bad_lines, fmt),
                        "metric": metric,
                        "doc_id": bad_rows["doc_id"],
                        "reason": bad_rows["reason"],
                    }
                )
                con.register("_rej", rej)
                con.execute("INSERT INTO rejects SELECT * FROM _rej")
                con.unregister("_rej")
            # Fix the staged lines of accepted rows too (they were parsed-row numbers).
            if len(bad_lines):
                _fix_lines(con, str(path), bad_lines)
            n_read_ok = int(con.execute(f"SELECT count(*) FROM _val_{index}").fetchone()[0])  # type: ignore[index]
            n_rej = len(bad_rows) + n_bad
            files.append(
                FileStats(
                    path=str(path),
                    metric=metric,
                    format=fmt,
                    size_bytes=path.stat().st_size,
                    sha256=_sha256(path),
                    rows_read=n_read_ok + n_bad,
                    rows_accepted=n_read_ok - len(bad_rows),
                    rows_rejected=n_rej,
                )
            )
            con.execute(f"DROP TABLE _val_{index}")
            index += 1
    geocoding: dict[str, Any] = {}
    if geocode:
        geocoding = _geocode_staged(con)
    _finish(con)
    _recount(con, files)
    return RecordSet(connection=con, files=files, geocoding=geocoding)


def _malformed_reason(error_type: str, message: str) -> str:
    kind = str(error_type).lower()
    if "encoding" in kind or "unicode" in str(message).lower():
        return "not UTF-8 text; save the file as UTF-8"
    return f"malformed row: {str(message).splitlines()[0]}"


def _fix_lines(con: duckdb.DuckDBPyConnection, file: str, bad_lines: np.ndarray) -> None:
    before = np.sort(bad_lines) - 2 - np.arange(len(bad_lines))
    shift = pd.DataFrame({"b": before})
    con.register("_shift", shift)
    con.execute(
        """UPDATE _staged SET line = line + 1 + (SELECT count(*) FROM _shift WHERE b <= line - 1)
        WHERE file = ?""",
        [file],
    )
    con.unregister("_shift")


def _geocode_staged(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Place rows without coordinates and give a country to rows without one."""
    stats: dict[str, Any] = {}
    todo = con.execute(
        """SELECT city, region, country, metric, count(*) AS rows FROM _staged
        WHERE needs_place GROUP BY ALL"""
    ).df()
    n_no_country = con.execute(
        "SELECT count(*) FROM _staged WHERE country IS NULL AND NOT needs_place"
    ).fetchone()[0]  # type: ignore[index]
    if not len(todo) and not n_no_country:
        return stats
    from innoclusters import places  # type: ignore[attr-defined,unused-ignore]

    if len(todo):
        uniq = todo[["city", "region", "country"]].drop_duplicates().reset_index(drop=True)
        found = places.geocode_places(uniq)
        placed = pd.concat([uniq, found.add_prefix("g_")], axis=1)
        con.register("_placed", placed)
        con.execute(
            """UPDATE _staged AS s SET lat = p.g_lat, lon = p.g_lon,
            country = coalesce(s.country, p.g_country)
            FROM _placed AS p
            WHERE s.needs_place AND p.g_reason IS NULL AND s.city = p.city
              AND s.region IS NOT DISTINCT FROM p.region
              AND s.country IS NOT DISTINCT FROM p.country"""
        )
        con.execute(
            """INSERT INTO rejects SELECT s.file, s.line, s.metric, s.doc_id, p.g_reason
            FROM _staged AS s JOIN _placed AS p ON s.city = p.city
              AND s.region IS NOT DISTINCT FROM p.region
              AND s.country IS NOT DISTINCT FROM p.country
            WHERE s.needs_place AND p.g_reason IS NOT NULL"""
        )
        con.execute("DELETE FROM _staged WHERE needs_place AND lat IS NULL")
        con.unregister("_placed")
        merged = todo.merge(placed, on=["city", "region", "country"], how="left")
        for metric, grp in merged.groupby("metric"):
            total = int(grp["rows"].sum())
            miss = grp[grp["g_reason"].notna()]
            top = miss.groupby("g_reason")["rows"].sum().sort_values(ascending=False).head(10)
            stats[str(metric)] = {
                "rows_to_geocode": total,
                "rows_geocoded": total - int(miss["rows"].sum()),
                "rate": (total - int(miss["rows"].sum())) / total if total else 1.0,
                "top_unmatched": [
                    {"place": str(r).removeprefix("place not found: "), "rows": int(n)}
                    for r, n in top.items()
                ],
            }
    no_country = con.execute("SELECT DISTINCT lat, lon FROM _staged WHERE country IS NULL").df()
    if len(no_country):
        codes = places.country_at(
            no_country["lat"].to_numpy(dtype=float), no_country["lon"].to_numpy(dtype=float)
        )
        no_country["g_country"] = [c if c else None for c in codes]
        con.register("_cc", no_country)
        con.execute(
            """UPDATE _staged AS s SET country = c.g_country FROM _cc AS c
            WHERE s.country IS NULL AND s.lat = c.lat AND s.lon = c.lon"""
        )
        con.unregister("_cc")
        stats["countries_assigned"] = int(sum(1 for c in codes if c))
    return stats


def _finish(con: duckdb.DuckDBPyConnection) -> None:
    """Apply fractional counting and build the final ``records`` table."""
    con.execute(
        """CREATE OR REPLACE TABLE records AS
        SELECT metric, doc_id, year, lat, lon, country,
          coalesce(weight, 1.0 / count(*) OVER (PARTITION BY metric, doc_id)) AS weight,
          weight IS NULL AS fractional, city, region, org, field, file, line
        FROM _staged"""
    )
    con.execute("DROP TABLE _staged")


def _recount(con: duckdb.DuckDBPyConnection, files: list[FileStats]) -> None:
    """Move rows rejected after staging (geocoding) from accepted to rejected per file."""
    late = dict(
        con.execute(
            """SELECT file, count(*) FROM rejects WHERE reason LIKE 'place not found:%'
            GROUP BY file"""
        ).fetchall()
    )
    for i, f in enumerate(files):
        n = int(late.get(f.path, 0))
        if n:
            files[i] = dataclasses.replace(
                f, rows_accepted=f.rows_accepted - n, rows_rejected=f.rows_rejected + n
            )
