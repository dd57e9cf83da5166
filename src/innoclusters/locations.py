"""Locations: records rounded to a coordinate grid, with weights summed per metric and place.

Clustering works on unique rounded locations with summed weights, never on raw rows. Sums
are computed in exact fixed-point arithmetic (DuckDB ``DECIMAL(38, 18)``), so they do not
depend on the order of the rows: shuffling the input gives bit-identical weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

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
    # One pass over the records: weight per grid cell (integer indices), country and city,
    # the metric as its position among the metrics in byte order (the order of the table);
    # the parts then give each location's total and its dominant country and city
    # (:func:`_locations_of_parts`). The antimeridian: -180 and 180 are one meridian.
    metrics = sorted(windows)
    quoted = [m.replace("'", "''") for m in metrics]
    code = " ".join(f"WHEN '{m}' THEN {i}" for i, m in enumerate(quoted))
    kept = " OR ".join(
        f"(r.metric = '{m}' AND r.year BETWEEN {int(first)} AND {int(last)})"
        for m, (first, last) in zip(quoted, (windows[m] for m in metrics), strict=True)
    )
    parts = con.sql(
        f"""SELECT CAST({f"CASE r.metric {code} END" if metrics else "0"} AS BIGINT) AS metric,
          {grid_index_sql("r.lat", rounding=rounding)} AS li,
          {grid_index_sql("r.lon", rounding=rounding, longitude=True)} AS lo,
          r.country, r.city, sum(CAST(r.weight AS DECIMAL(38, 18))) AS w,
          CAST(count(*) AS BIGINT) AS n
        FROM records AS r WHERE {kept or "false"}
        GROUP BY ALL"""
    )
    locations, in_window_records, in_window_weight = _locations_of_parts(
        con, parts.to_arrow_table(), pa.array(metrics, pa.string()), rounding=rounding
    )
    # Records and weight in the window from the parts (exact sums of the same values); the
    # records of each metric are the rows its files gave (read_records counted them), so
    # the records are not read again.
    sums = {
        m: (int(in_window_records[i]), float(in_window_weight[i])) for i, m in enumerate(metrics)
    }
    if records.files:
        accepted: dict[str, int] = {}
        for f in records.files:
            accepted[f.metric] = accepted.get(f.metric, 0) + f.rows_accepted
    else:
        accepted = dict(
            con.execute("SELECT metric, count(*) FROM records GROUP BY metric").fetchall()
        )
    counts: dict[str, Any] = {}
    for metric in (m for m in windows if accepted.get(m)):
        rows = accepted[metric]
        in_window, weight = sums[metric]
        counts[str(metric)] = {
            "window": list(windows[metric]),
            "records": int(rows),
            "records_in_window": int(in_window),
            "records_outside_window": int(rows) - int(in_window),
            "weight_in_window": weight,
        }
    return locations, counts


def locations_from_parts(con: duckdb.DuckDBPyConnection, *, rounding: float) -> pd.DataFrame:
    """The locations table from ``_parts``, the exact weight per grid cell and place.

    ``_parts`` (``metric, li, lo, country, city, w, n``: grid cell indices of
    :func:`grid_index_sql`, the ``DECIMAL(38, 18)`` sum of the weights and the number of
    records per cell, country and city, in the window) is made by the Spark engine
    (:mod:`innoclusters.engines.spark`); :func:`build_locations` makes the same parts in
    DuckDB, and both turn them into the table with the same code, so the two engines'
    locations are identical.

    Per location (metric and grid cell): ``weight`` is ``CAST(sum(w) AS DOUBLE)``, the
    exact sum converted by DuckDB; ``records`` the sum of ``n``; ``country`` and ``city``
    the non-null value holding the most weight (exact sums; ties go to the first value in
    byte order, as DuckDB's ``min``; NULL when the location has none). The parts are
    grouped by sorting them on integer codes, with 128-bit sums of the fixed-point
    weights (:func:`_run_sums`, :func:`_dominant_codes`), instead of hash aggregates of
    strings and a sort of the result.

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
    parts = con.sql("SELECT metric, li, lo, country, city, w, n FROM _parts")
    return _locations_of_parts(con, parts.to_arrow_table(), None, rounding=rounding)[0]


def _locations_of_parts(
    con: duckdb.DuckDBPyConnection,
    parts: pa.Table,
    metrics: pa.Array | None,
    *,
    rounding: float,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The locations table of parts (``metric, li, lo, country, city, w, n``; ``metric`` the
    name, or with ``metrics`` (names in byte order) its position there), and per metric of
    ``metrics`` the records and the weight (``CAST(sum(w) AS DOUBLE)``) of its parts. The
    caller hands ``parts`` over: its columns are freed here once read."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Work that releases the GIL (Arrow, NumPy's sort, Numba's nogil kernels, DuckDB on
        # a cursor of its own) is shared with a second thread; same values either way.
        places = pool.submit(_sorted_codes, parts["country"], parts["city"])
        if metrics is None:
            [(metric, metrics)] = _sorted_codes(parts["metric"])
        else:
            metric = parts["metric"].to_numpy()
        li = parts["li"].to_numpy()
        lo = parts["lo"].to_numpy()
        n = parts["n"].to_numpy()
        w_lo, w_hi = _decimal_words(parts["w"])
        order = _cell_order(metric, li, lo)
        (country, countries), (city, cities) = places.result()
        del parts, places
        sorted_places = pool.submit(_taken, order, country, city)
        metric, li, lo, n, w_lo, w_hi = _taken(order, metric, li, lo, n, w_lo, w_hi)
        country, city = sorted_places.result()
        del order, sorted_places
        new = np.ones(len(metric), dtype=bool)
        new[1:] = (metric[1:] != metric[:-1]) | (li[1:] != li[:-1]) | (lo[1:] != lo[:-1])
        starts = np.flatnonzero(new)
        top_city_run = pool.submit(_dominant_codes, starts, city, w_lo, w_hi)
        sum_lo, sum_hi, records = _run_sums(starts, w_lo, w_hi, n)
        top_country = _dominant_codes(starts, country, w_lo, w_hi)
        top_city = top_city_run.result()
        del country, city, w_lo, w_hi, n, top_city_run
        cursor = con.cursor()
        weight_run = pool.submit(_decimal_to_double, cursor, sum_lo, sum_hi)
        metric, li, lo = metric[starts], li[starts], lo[starts]
        # Per metric (the locations are sorted by it): its records and exact weight.
        present = np.flatnonzero(np.r_[True, metric[1:] != metric[:-1]]) if len(metric) else starts
        metric_lo, metric_hi, metric_records = _run_sums(present, sum_lo, sum_hi, records)
        by_metric_records = np.zeros(len(metrics), dtype=np.int64)
        by_metric_lo = np.zeros(len(metrics), dtype=np.uint64)
        by_metric_hi = np.zeros(len(metrics), dtype=np.int64)
        by_metric_records[metric[present]] = metric_records
        by_metric_lo[metric[present]] = metric_lo
        by_metric_hi[metric[present]] = metric_hi
        by_metric_weight = _decimal_to_double(con, by_metric_lo, by_metric_hi)
        lat = _grid_degrees(con, li, rounding=rounding)
        lon = _grid_degrees(con, lo, rounding=rounding)
        columns = {"metric": _decoded(metrics, metric), "lat": lat, "lon": lon}
        columns["country"] = _decoded(countries, top_country)
        columns["city"] = _decoded(cities, top_city)
        columns["weight"] = weight_run.result()
        cursor.close()
    columns["records"] = records
    table = pa.table({c: columns[c] for c in LOCATION_COLUMNS})
    # Each Arrow column is freed once converted: the table is not held twice.
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    return frame, by_metric_records, by_metric_weight


def _sorted_codes(*columns: pa.ChunkedArray) -> list[tuple[np.ndarray, pa.Array]]:
    """Per string column: codes numbered in byte order of its distinct values (-1: NULL),
    and those values; a smaller code is a smaller string, as in DuckDB's ``min``."""
    return [_column_codes(column) for column in columns]


def _column_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """:func:`_sorted_codes` of one column."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    values = encoded.dictionary
    order = pc.array_sort_indices(values).to_numpy()
    rank = np.empty(len(values) + 1, dtype=np.int64)
    rank[order] = np.arange(len(values))
    rank[len(values)] = -1
    index = encoded.indices.fill_null(len(values)).to_numpy()
    return rank[index], values.take(pa.array(order))


def _taken(order: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each array in ``order``."""
    return tuple(a[order] for a in arrays)


def _decoded(values: pa.Array, codes: np.ndarray) -> pa.Array:
    """The strings of :func:`_sorted_codes` codes (-1: NULL)."""
    return values.take(pa.array(codes, mask=codes < 0))


def _decimal_words(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The low (unsigned) and high (signed) 64-bit words of ``decimal128`` fixed-point values."""
    array = column.combine_chunks()
    if array.null_count:
        raise ValueError("_parts.w holds NULL weights")
    words = np.frombuffer(array.buffers()[1], dtype=np.int64)
    words = words[2 * array.offset : 2 * (array.offset + len(array))]
    return words[0::2].view(np.uint64), words[1::2]


def _cell_order(metric: np.ndarray, li: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Order of the parts by metric, then grid cell: one integer key when it fits."""
    if not len(metric):
        return np.zeros(0, dtype=np.int64)
    li0, lo0 = int(li.min()), int(lo.min())
    li_span, lo_span = int(li.max()) - li0 + 1, int(lo.max()) - lo0 + 1
    if (int(metric.max()) + 1) * li_span * lo_span < 2**62:
        key = (metric * li_span + (li - li0)) * lo_span + (lo - lo0)
        return np.argsort(key)
    return np.lexsort((lo, li, metric))


def _decimal_to_double(
    con: duckdb.DuckDBPyConnection, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """``CAST(w AS DOUBLE)`` of ``DECIMAL(38, 18)`` values given as words, by DuckDB itself."""
    words = np.empty(2 * len(lo), dtype=np.int64)
    words[0::2] = lo.view(np.int64)
    words[1::2] = hi
    values = pa.Array.from_buffers(pa.decimal128(38, 18), len(lo), [None, pa.py_buffer(words)])
    return _duckdb_map(con, values, "CAST(v AS DOUBLE)")


def _grid_degrees(
    con: duckdb.DuckDBPyConnection, index: np.ndarray, *, rounding: float
) -> np.ndarray:
    """:func:`grid_degrees_sql` of grid cell indices, by DuckDB once per distinct index."""
    if not len(index):
        return np.zeros(0, dtype=np.float64)
    first = int(index.min())
    span = int(index.max()) - first + 1
    if span <= max(len(index), 1 << 16):
        # Every index from the smallest to the largest (a degree of longitude is 100 cells
        # at 0.01): no sort needed.
        every = np.arange(first, first + span, dtype=np.int64)
        degrees = _duckdb_map(con, pa.array(every), grid_degrees_sql("v", rounding=rounding))
        return degrees[index - first]
    distinct, inverse = np.unique(index, return_inverse=True)
    degrees = _duckdb_map(con, pa.array(distinct), grid_degrees_sql("v", rounding=rounding))
    return degrees[inverse]


def _duckdb_map(con: duckdb.DuckDBPyConnection, values: pa.Array, sql: str) -> np.ndarray:
    """The DOUBLE expression ``sql`` of ``v`` evaluated by DuckDB for each of ``values``, in
    their order (the rows carry their position: DuckDB may return them in any order)."""
    chunk = 1 << 20
    table = (
        pa.Table.from_batches(
            pa.table({"i": np.arange(len(values)), "v": values}).to_batches(max_chunksize=chunk)
        )
        if len(values)
        else pa.table({"i": pa.array([], pa.int64()), "v": values})
    )
    con.register("_map_arrow", table)
    try:
        out = con.sql(f"SELECT i, {sql} AS x FROM _map_arrow").fetchnumpy()
    finally:
        con.unregister("_map_arrow")
    result = np.empty(len(values), dtype=np.float64)
    result[out["i"]] = out["x"]
    return result


@njit(cache=True, nogil=True)
def _run_sums(
    starts: np.ndarray, w_lo: np.ndarray, w_hi: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per run of rows (run ``g`` from ``starts[g]`` to the next start): the 128-bit sum of
    the weights' words and the sum of ``n``."""
    runs = len(starts)
    sum_lo = np.zeros(runs, dtype=np.uint64)
    sum_hi = np.zeros(runs, dtype=np.int64)
    total = np.zeros(runs, dtype=np.int64)
    for g in range(runs):
        b = starts[g + 1] if g + 1 < runs else len(n)
        acc_lo = np.uint64(0)
        acc_hi = np.int64(0)
        count = np.int64(0)
        for k in range(starts[g], b):
            acc_lo, acc_hi = _add128(acc_lo, acc_hi, w_lo[k], w_hi[k])
            count += n[k]
        sum_lo[g] = acc_lo
        sum_hi[g] = acc_hi
        total[g] = count
    return sum_lo, sum_hi, total


#: Parts of one location up to which the dominant value is found without sorting them.
_SMALL_GROUP = 16


@njit(cache=True, nogil=True)
def _dominant_codes(
    starts: np.ndarray, codes: np.ndarray, w_lo: np.ndarray, w_hi: np.ndarray
) -> np.ndarray:
    """Per run of parts (as in :func:`_run_sums`): the dominant code (:func:`_dominant`)."""
    runs = len(starts)
    top = np.empty(runs, dtype=np.int64)
    for g in range(runs):
        b = starts[g + 1] if g + 1 < runs else len(codes)
        top[g] = _dominant(starts[g], b, codes, w_lo, w_hi)
    return top


@njit(cache=True, nogil=True, inline="always")
def _add128(
    a_lo: np.uint64, a_hi: np.int64, b_lo: np.uint64, b_hi: np.int64
) -> tuple[np.uint64, np.int64]:
    """Two's-complement 128-bit sum of (low, high) word pairs."""
    lo = a_lo + b_lo
    carry = np.int64(1) if lo < a_lo else np.int64(0)
    return lo, a_hi + b_hi + carry


@njit(cache=True, nogil=True)
def _dominant(a: int, b: int, codes: np.ndarray, w_lo: np.ndarray, w_hi: np.ndarray) -> np.int64:
    """The non-negative code of parts ``a:b`` with the largest exact weight sum, ties to the
    smallest code; -1 when there is none (every value NULL)."""
    if b - a == 1:
        return codes[a]
    if b - a > _SMALL_GROUP:
        # Many parts: each code's parts in one run of the parts sorted by code.
        order = a + np.argsort(codes[a:b], kind="mergesort")
    else:
        order = np.empty(0, dtype=np.int64)
    best = np.int64(-1)
    best_lo = np.uint64(0)
    best_hi = np.int64(0)
    j = a
    while j < b:
        acc_lo = np.uint64(0)
        acc_hi = np.int64(0)
        if len(order):
            code = codes[order[j - a]]
            while j < b and codes[order[j - a]] == code:
                acc_lo, acc_hi = _add128(acc_lo, acc_hi, w_lo[order[j - a]], w_hi[order[j - a]])
                j += 1
        else:
            # Few parts: each code summed from its first part on, once.
            code = codes[j]
            first = True
            for k in range(a, j):
                if codes[k] == code:
                    first = False
                    break
            j += 1
            if not first:
                continue
            for k in range(j - 1, b):
                if codes[k] == code:
                    acc_lo, acc_hi = _add128(acc_lo, acc_hi, w_lo[k], w_hi[k])
        if code < 0:
            continue
        if (
            best < 0
            or acc_hi > best_hi
            or (acc_hi == best_hi and (acc_lo > best_lo or (acc_lo == best_lo and code < best)))
        ):
            best = code
            best_lo = acc_lo
            best_hi = acc_hi
    return best
