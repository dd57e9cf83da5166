"""Locations: records rounded to a coordinate grid, with weights summed per metric and place.

Clustering works on unique rounded locations with summed weights, never on raw rows. Sums
are computed in exact fixed-point arithmetic (DuckDB ``DECIMAL(38, 18)``), so they do not
depend on the order of the rows: shuffling the input gives bit-identical weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from innoclusters.config import Settings
from innoclusters.editions import resolve_windows
from innoclusters.records import RecordSet

__all__ = ["LOCATION_COLUMNS", "build_locations", "edition_windows"]

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


def edition_windows(records: RecordSet, settings: Settings) -> dict[str, tuple[int, int]]:
    """Year window of each metric present: ``years``, else the ``edition``'s, else the latest.

    See :func:`innoclusters.editions.resolve_windows` for the order of precedence.

    Parameters
    ----------
    records
        The accepted records.
    settings
        Supplies ``years``, ``edition``, ``edition_offsets`` and ``window_years``.

    Returns
    -------
    dict
        ``metric -> (first, last)`` inclusive.
    """
    spans = {
        str(m): (int(lo), int(hi))
        for m, lo, hi in records.connection.execute(
            "SELECT metric, min(year), max(year) FROM records GROUP BY metric"
        ).fetchall()
    }
    return resolve_windows(spans, settings, metrics=records.metrics())


def _decimals(rounding: float) -> int:
    return max(0, math.ceil(-math.log10(rounding))) + 3


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
    dec = _decimals(rounding)
    win = pd.DataFrame(
        [(m, a, b) for m, (a, b) in windows.items()], columns=["metric", "first", "last"]
    )
    con.register("_win", win)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _inwin AS
        SELECT r.metric,
          round(round(r.lat / {rounding!r}) * {rounding!r}, {dec}) AS lat,
          round(round(r.lon / {rounding!r}) * {rounding!r}, {dec}) AS lon,
          CAST(r.weight AS DECIMAL(38, 18)) AS w, r.country, r.city
        FROM records AS r JOIN _win AS w ON r.metric = w.metric
        WHERE r.year BETWEEN w.first AND w.last"""
    )
    # The antimeridian: -180 and 180 are one meridian.
    con.execute("UPDATE _inwin SET lon = -180.0 WHERE lon >= 180.0")
    # One pass over the records: weight per location, country and city; then the small
    # aggregate gives the totals and the dominant country and city of each location.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _parts AS
        SELECT metric, lat, lon, country, city, sum(w) AS w, count(*) AS n
        FROM _inwin GROUP BY ALL"""
    )
    locations = con.execute(
        """WITH base AS (
             SELECT metric, lat, lon, CAST(sum(w) AS DOUBLE) AS weight, sum(n) AS records
             FROM _parts GROUP BY metric, lat, lon),
           cc AS (
             SELECT metric, lat, lon, first(country ORDER BY cw DESC, country) AS country
             FROM (SELECT metric, lat, lon, country, sum(w) AS cw FROM _parts
                   WHERE country IS NOT NULL GROUP BY ALL) GROUP BY ALL),
           ct AS (
             SELECT metric, lat, lon, first(city ORDER BY cw DESC, city) AS city
             FROM (SELECT metric, lat, lon, city, sum(w) AS cw FROM _parts
                   WHERE city IS NOT NULL GROUP BY ALL) GROUP BY ALL)
        SELECT b.metric, b.lat, b.lon, b.weight, b.records, cc.country, ct.city
        FROM base AS b
        LEFT JOIN cc USING (metric, lat, lon)
        LEFT JOIN ct USING (metric, lat, lon)
        ORDER BY b.metric, b.lat, b.lon"""
    ).df()
    con.execute("DROP TABLE _parts")
    counts_rows = con.execute(
        """SELECT r.metric, count(*) AS rows,
          count(*) FILTER (WHERE r.year BETWEEN w.first AND w.last) AS in_window,
          CAST(sum(CAST(r.weight AS DECIMAL(38, 18)))
            FILTER (WHERE r.year BETWEEN w.first AND w.last) AS DOUBLE) AS weight_in_window
        FROM records AS r JOIN _win AS w ON r.metric = w.metric GROUP BY r.metric"""
    ).fetchall()
    con.execute("DROP TABLE _inwin")
    con.unregister("_win")
    counts: dict[str, Any] = {}
    for metric, rows, in_window, weight in counts_rows:
        counts[str(metric)] = {
            "window": list(windows[metric]),
            "records": int(rows),
            "records_in_window": int(in_window),
            "records_outside_window": int(rows) - int(in_window),
            "weight_in_window": float(weight or 0.0),
        }
    locations["records"] = locations["records"].astype("int64")
    return locations[list(LOCATION_COLUMNS)], counts
