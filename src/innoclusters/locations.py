"""Locations: records rounded to a coordinate grid, with weights summed per metric and place.

Clustering works on unique rounded locations with summed weights, never on raw rows. Sums
are computed in exact fixed-point arithmetic (DuckDB ``DECIMAL(38, 18)``), so they do not
depend on the order of the rows: shuffling the input gives bit-identical weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from innoclusters.config import Settings
from innoclusters.editions import resolve_windows
from innoclusters.records import RecordSet

__all__ = [
    "LOCATION_COLUMNS",
    "build_locations",
    "edition_windows",
    "grid_degrees_sql",
    "grid_index_sql",
    "locations_from_parts",
    "rounded_sql",
    "rounding_decimals",
    "years_present",
]

#: Columns of the locations table, in order.
LOCATION_COLUMNS: tuple[str, ...] = (
    "metric",
    "lat",
    "lon",
    "weight",
    "records",
    "country",
    "city",
)


def edition_windows(
    records: RecordSet,
    settings: Settings,
    *,
    present: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, tuple[int, int]]:
    """Year window of each metric present: ``years``, else the ``edition``'s, else the latest.

    See :func:`innoclusters.editions.resolve_windows` for the order of precedence.

    Parameters
    ----------
    records
        The accepted records.
    settings
        Supplies ``years``, ``edition``, ``edition_offsets`` and ``window_years``.
    present
        :func:`years_present` of the records, when already known.

    Returns
    -------
    dict
        ``metric -> (first, last)`` inclusive.
    """
    if present is None:
        present = years_present(records)
    spans = {m: (int(min(ys)), int(max(ys))) for m, ys in present.items() if len(ys)}
    return resolve_windows(spans, settings, metrics=records.metrics())


def years_present(records: RecordSet) -> dict[str, list[int]]:
    """The years that hold at least one accepted record, per metric (sorted).

    As :func:`~innoclusters.records.read_records` counted them (:attr:`RecordSet.years`),
    without reading the records again; read from the ``records`` table when not counted.
    """
    if records.years is not None:
        years = records.years
        return {str(m): sorted(int(y) for y in years[m]) for m in sorted(years) if len(years[m])}
    present: dict[str, list[int]] = {}
    for metric, year in records.connection.execute(
        "SELECT DISTINCT metric, year FROM records ORDER BY metric, year"
    ).fetchall():
        present.setdefault(str(metric), []).append(int(year))
    return present


def rounding_decimals(rounding: float) -> int:
    """Decimals kept in rounded coordinates: those of ``rounding`` and three more."""
    return max(0, math.ceil(-math.log10(rounding))) + 3


def grid_index_sql(column: str, *, rounding: float, longitude: bool = False) -> str:
    """DuckDB expression of the grid cell index of a coordinate column (``BIGINT``).

    The one rounding rule: a coordinate ``x`` belongs to cell ``round(x / rounding)``
    (halves away from zero). ``rounding`` divides 90 degrees (checked by
    :class:`~innoclusters.config.Settings`), so the poles and the antimeridian are grid
    lines; on longitude the cell of +180 is the cell of -180 (one meridian).

    Parameters
    ----------
    column
        SQL of a latitude or longitude in degrees.
    rounding
        Grid step in degrees.
    longitude
        Wrap +180 onto -180.
    """
    index = f"CAST(round({column} / {rounding!r}) AS BIGINT)"
    if not longitude:
        return index
    half = round(180.0 / rounding)
    return f"(({index} + {half}) % {2 * half} - {half})"


def grid_degrees_sql(index: str, *, rounding: float) -> str:
    """DuckDB expression of the rounded coordinate, in degrees, of a grid cell index."""
    return f"round(CAST({index} AS DOUBLE) * {rounding!r}, {rounding_decimals(rounding)})"


def rounded_sql(column: str, *, rounding: float, longitude: bool = False) -> str:
    """DuckDB expression of a coordinate column rounded to the grid, in degrees.

    The same values as the ``lat`` and ``lon`` of :func:`build_locations`, so records can be
    joined to their location (see :func:`grid_index_sql` for the rule).
    """
    return grid_degrees_sql(
        grid_index_sql(column, rounding=rounding, longitude=longitude), rounding=rounding
    )


def build_locations(
    records: RecordSet, *, rounding: float, windows: Mapping[str, tuple[int, int]]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Round coordinates and sum weights per metric and rounded location.

    Parameters
    ----------
    records
        The accepted records.
    rounding
        Grid step in degrees (``0.01`` rounds to about 1 km).
    windows
        Year window per metric; records outside it are left out (and counted).

    Returns
    -------
    locations : pandas.DataFrame
        :data:`LOCATION_COLUMNS`, sorted by metric, lat, lon. ``country`` and ``city`` are the
        values holding most weight at the location (ties: alphabetical).
    counts : dict
        Per metric: records and weight in the window, records left out by the window.
    """
    con = records.connection
    win = pd.DataFrame(
        [(m, a, b) for m, (a, b) in windows.items()], columns=["metric", "first", "last"]
    )
    con.register("_win", win)
    # One pass over the records: weight per grid cell (integer indices), country and city;
    # the small aggregate then gives each location's total and its dominant country and
    # city. The antimeridian: -180 and 180 are one meridian.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _parts AS
        SELECT r.metric, {grid_index_sql("r.lat", rounding=rounding)} AS li,
          {grid_index_sql("r.lon", rounding=rounding, longitude=True)} AS lo,
          r.country, r.city, sum(CAST(r.weight AS DECIMAL(38, 18))) AS w,
          CAST(count(*) AS BIGINT) AS n
        FROM records AS r JOIN _win AS w ON r.metric = w.metric
        WHERE r.year BETWEEN w.first AND w.last
        GROUP BY ALL"""
    )
    locations = locations_from_parts(con, rounding=rounding)
    # Records and weight in the window from the parts (exact sums of the same values); the
    # records of each metric are the rows its files gave (read_records counted them), so
    # the records are not read again.
    counts_rows = con.execute(
        """SELECT metric, CAST(sum(n) AS BIGINT), CAST(sum(w) AS DOUBLE)
        FROM _parts GROUP BY metric"""
    ).fetchall()
    sums = {str(m): (int(n), w) for m, n, w in counts_rows}
    if records.files:
        accepted: dict[str, int] = {}
        for f in records.files:
            accepted[f.metric] = accepted.get(f.metric, 0) + f.rows_accepted
    else:
        accepted = dict(
            con.execute("SELECT metric, count(*) FROM records GROUP BY metric").fetchall()
        )
    con.execute("DROP TABLE _parts")
    con.unregister("_win")
    counts: dict[str, Any] = {}
    for metric in (m for m in windows if accepted.get(m)):
        rows = accepted[metric]
        in_window, weight = sums.get(metric, (0, None))
        counts[str(metric)] = {
            "window": list(windows[metric]),
            "records": int(rows),
            "records_in_window": int(in_window),
            "records_outside_window": int(rows) - int(in_window),
            "weight_in_window": float(weight or 0.0),
        }
    return locations, counts


def locations_from_parts(con: duckdb.DuckDBPyConnection, *, rounding: float) -> pd.DataFrame:
    """The locations table from ``_parts``, the exact weight per grid cell and place.

    ``_parts`` (``metric, li, lo, country, city, w, n``: grid cell indices of
    :func:`grid_index_sql`, the ``DECIMAL(38, 18)`` sum of the weights and the number of
    records per cell, country and city, in the window) is made by :func:`build_locations`
    here or by the Spark engine (:mod:`innoclusters.engines.spark`); both engines turn it
    into the table with this one query, so their locations are identical.

    Parameters
    ----------
    con
        A DuckDB connection holding ``_parts``.
    rounding
        Grid step in degrees.

    Returns
    -------
    pandas.DataFrame
        :data:`LOCATION_COLUMNS`, sorted by metric, lat, lon.
    """
    # The dominant value is the one holding most weight, ties to the alphabetically first.
    # Where a location has one value (min = max, NULLs ignored as in the rule) that value
    # is the answer; only the other locations (a border, several cities: a small part of
    # them) need the weighted rule: the maximum weight per location, then the smallest
    # value reaching it (hash aggregates only; ordered aggregates would sort every group).
    dominant = """{col}_w AS (
             SELECT p.metric, p.li, p.lo, p.{col}, sum(p.w) AS cw
             FROM _parts AS p SEMI JOIN base AS b
               ON p.metric = b.metric AND p.li = b.li AND p.lo = b.lo
                 AND b.{col}_lo <> b.{col}_hi
             WHERE p.{col} IS NOT NULL GROUP BY ALL),
           {col}_m AS (SELECT metric, li, lo, max(cw) AS m FROM {col}_w GROUP BY ALL),
           {col}_d AS (
             SELECT metric, li, lo, min({col}) AS {col}
             FROM {col}_w JOIN {col}_m USING (metric, li, lo) WHERE cw = m GROUP BY ALL)"""
    table = con.sql(
        f"""WITH base AS (
             SELECT metric, li, lo, CAST(sum(w) AS DOUBLE) AS weight,
               CAST(sum(n) AS BIGINT) AS records,
               min(country) AS country_lo, max(country) AS country_hi,
               min(city) AS city_lo, max(city) AS city_hi
             FROM _parts GROUP BY metric, li, lo),
           {dominant.format(col="country")},
           {dominant.format(col="city")}
        SELECT b.metric, {grid_degrees_sql("b.li", rounding=rounding)} AS lat,
          {grid_degrees_sql("b.lo", rounding=rounding)} AS lon, b.weight, b.records,
          CASE WHEN b.country_lo = b.country_hi OR b.country_lo IS NULL
            THEN b.country_lo ELSE c.country END AS country,
          CASE WHEN b.city_lo = b.city_hi OR b.city_lo IS NULL
            THEN b.city_lo ELSE t.city END AS city
        FROM base AS b
        LEFT JOIN country_d AS c USING (metric, li, lo)
        LEFT JOIN city_d AS t USING (metric, li, lo)
        ORDER BY b.metric, b.li, b.lo"""
    ).to_arrow_table()
    # Each Arrow column is freed once converted: the table is not held twice.
    return table.to_pandas(self_destruct=True, split_blocks=True)[list(LOCATION_COLUMNS)]
