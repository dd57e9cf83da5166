"""Profiles: each cluster's top organisations and fields per metric, with their shares.

The GII's cluster profiles name the top patent applicant, the top scientific organisation
and the top technology fields of each cluster. Here, when the records have ``org`` and
``field``, every cluster gets, per metric and per kind (``org`` or ``field``), its
``top`` values by fractional weight, then one ``(other)`` row for the remaining named values
and one ``(not given)`` row for records without a value. The shares of one cluster, metric
and kind therefore add up to 1: the denominator is the cluster's count of the metric, the
same number as in ``clusters.csv``.

Records are put in clusters through their rounded location, rounded exactly as in
:func:`innoclusters.locations.build_locations`, and only records inside their metric's
window count. Sums are exact (DuckDB ``DECIMAL(38, 18)``), so shares do not depend on the
order of the input rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import duckdb
import numpy as np
import pandas as pd

from innoclusters.config import METRICS
from innoclusters.locations import grid_index_sql
from innoclusters.records import RecordSet

__all__ = [
    "KINDS",
    "NOT_GIVEN",
    "OTHER",
    "PROFILE_COLUMNS",
    "PROFILE_TOP",
    "cluster_profiles",
    "order_profiles",
    "prepare_profiles",
]

#: What a profile lists: organisations and fields.
KINDS: tuple[str, ...] = ("org", "field")

#: Number of named values per cluster, metric and kind.
PROFILE_TOP = 5

#: ``value`` of the row gathering the named values below the top.
OTHER = "(other)"

#: ``value`` of the row gathering the records without a value.
NOT_GIVEN = "(not given)"

#: Columns of the profiles table, in order.
PROFILE_COLUMNS: tuple[str, ...] = (
    "cluster_id",
    "metric",
    "kind",
    "rank",
    "value",
    "weight",
    "share",
)


def prepare_profiles(
    connection: duckdb.DuckDBPyConnection,
    *,
    rounding: float,
    windows: Mapping[str, tuple[int, int]],
) -> None:
    """Pre-aggregate the records for the profiles: weight per grid cell and value.

    Leaves the tables ``_prof_org`` and ``_prof_field`` (``metric, li, lo, value, w``, the
    exact summed weight of the window's records per rounded location and value, ``NULL``
    value for records without one) in the connection, for
    :func:`cluster_profiles` with ``prepared=True``. The Spark engine leaves the same tables
    (computed on Spark); on the DuckDB engine :func:`cluster_profiles` reads the records
    straight, which costs a third of this pre-aggregation over every location and value
    (it sums only the records in the clusters' cells, per cluster).

    Parameters
    ----------
    connection
        The run's DuckDB connection (or a cursor of it) holding the ``records`` table.
    rounding
        The run's coordinate rounding in degrees.
    windows
        Year window per metric.
    """
    win = pd.DataFrame(
        [(m, a, b) for m, (a, b) in windows.items()], columns=["metric", "first", "last"]
    )
    # The one rounding rule of the locations (+180 is the cell of -180).
    li = grid_index_sql("r.lat", rounding=rounding)
    lo = grid_index_sql("r.lon", rounding=rounding, longitude=True)
    connection.register("_prof_win", win)
    try:
        for kind in KINDS:
            connection.execute(
                f"""CREATE OR REPLACE TABLE _prof_{kind} AS
                SELECT r.metric, {li} AS li, {lo} AS lo, r.{kind} AS value,
                  sum(CAST(r.weight AS DECIMAL(38, 18))) AS w
                FROM records AS r JOIN _prof_win AS w ON r.metric = w.metric
                WHERE r.year BETWEEN w.first AND w.last
                GROUP BY ALL"""
            )
    finally:
        connection.unregister("_prof_win")


def cluster_profiles(
    records: RecordSet,
    located: pd.DataFrame,
    *,
    rounding: float,
    windows: Mapping[str, tuple[int, int]],
    cluster_order: pd.Series | None = None,
    top: int = PROFILE_TOP,
    prepared: bool = False,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Top organisations and fields of every cluster and metric, with their shares.

    Parameters
    ----------
    records
        The run's records (its DuckDB connection must still be open).
    located
        The run's locations with ``metric, lat, lon, cluster_id``.
    rounding
        The run's coordinate rounding in degrees.
    windows
        Year window per metric.
    cluster_order
        Cluster ids in rank order, to sort the table (default: by id).
    top
        Named values kept per cluster, metric and kind.
    prepared
        Read the pre-aggregates ``_prof_org`` and ``_prof_field`` that
        :func:`prepare_profiles` (or the Spark engine) left in the connection with the same
        ``rounding`` and ``windows``, instead of the ``records`` table. Same result.
    connection
        Where to run the queries: the records' connection (default) or a cursor of it
        (``records.connection.cursor()``), so that the profiles can run on a thread of their
        own beside other work (a DuckDB connection is not safe across threads; its cursors
        are, one per thread).

    Returns
    -------
    pandas.DataFrame
        :data:`PROFILE_COLUMNS`: ``rank`` is 1..``top`` for named values and empty for the
        :data:`OTHER` and :data:`NOT_GIVEN` rows; ``weight`` is the summed fractional weight
        and ``share`` its fraction of the cluster's count of the metric. A metric and kind
        with no value in any record of the window has no rows.
    """
    con = records.connection if connection is None else connection
    inside = located["cluster_id"].notna().to_numpy()
    lat = located["lat"].to_numpy(dtype=float)[inside]
    lon = located["lon"].to_numpy(dtype=float)[inside]
    codes, ids = pd.factorize(located["cluster_id"].to_numpy()[inside])
    metric_codes, metrics = pd.factorize(located["metric"])
    # The locations' rounded coordinates back to their grid cells (-180 is the cell of 180),
    # each with its metric and cluster as small integers (the metric joins through the
    # windows, the cluster ids join back at the end): numbers only, which DuckDB scans
    # without Python's GIL while other threads work.
    areas = pd.DataFrame(
        {
            "m": metric_codes.astype(np.int64)[inside],
            "li": np.rint(lat / rounding).astype(np.int64),
            "lo": np.rint(lon / rounding).astype(np.int64),
            "c": codes.astype(np.int64),
        }
    )
    names = pd.DataFrame({"c": np.arange(len(ids), dtype=np.int64), "cluster_id": ids})
    win = pd.DataFrame(
        [(m, a, b) for m, (a, b) in windows.items()], columns=["metric", "first", "last"]
    )
    win["m"] = pd.Index(metrics).get_indexer(win["metric"]).astype(np.int64)
    li = grid_index_sql("r.lat", rounding=rounding)
    lo = grid_index_sql("r.lon", rounding=rounding, longitude=True)
    con.register("_prof_areas", areas)
    con.register("_prof_names", names)
    con.register("_prof_win", win)
    try:
        if not prepared:
            # Straight from the records in the clusters' cells, every kind in one pass over
            # the records (one grouping set per kind; _kind tells them apart).
            sets = ", ".join(f"(a.c, r.metric, r.{kind})" for kind in KINDS)
            values = ", ".join(f"r.{kind}" for kind in KINDS)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _prof_gs AS
                SELECT a.c, r.metric, {values}, GROUPING({values}) AS _kind,
                  sum(CAST(r.weight AS DECIMAL(38, 18))) AS w
                FROM records AS r JOIN _prof_win AS w ON r.metric = w.metric
                JOIN _prof_areas AS a ON w.m = a.m AND {li} = a.li AND {lo} = a.lo
                WHERE r.year BETWEEN w.first AND w.last
                GROUP BY GROUPING SETS ({sets})"""
            )
        frames = []
        for i, kind in enumerate(KINDS):
            # Exact weight per cluster, metric and value (DECIMAL sums, so the grouping does
            # not change them): from the pre-aggregates per grid cell when prepared (the
            # Spark engine's), else from the grouping set of the kind (GROUPING() has a bit
            # set for every other kind: the kinds' columns that the set leaves out).
            others = sum(1 << (len(KINDS) - 1 - j) for j in range(len(KINDS)) if j != i)
            source = (
                f"""SELECT a.c, p.metric, p.value, sum(p.w) AS w FROM _prof_{kind} AS p
                JOIN _prof_win AS w ON p.metric = w.metric
                JOIN _prof_areas AS a ON w.m = a.m AND p.li = a.li AND p.lo = a.lo
                GROUP BY ALL"""
                if prepared
                else f"""SELECT c, metric, {kind} AS value, w FROM _prof_gs
                WHERE _kind = {others}"""
            )
            con.execute(f"CREATE OR REPLACE TEMP TABLE _prof_g AS {source}")
            frames.append(
                con.execute(
                    f"""WITH has AS (
                      SELECT metric FROM _prof_g GROUP BY metric HAVING count(value) > 0),
                    g AS (
                      SELECT n.cluster_id, g.metric, g.value, g.w FROM _prof_g AS g
                      JOIN _prof_names AS n USING (c)
                      WHERE g.metric IN (SELECT metric FROM has)),
                    t AS (SELECT cluster_id, metric, sum(w) AS total FROM g GROUP BY ALL),
                    ranked AS (
                      SELECT *, row_number() OVER (
                        PARTITION BY cluster_id, metric, value IS NULL
                        ORDER BY w DESC, value) AS rk
                      FROM g)
                    SELECT cluster_id, metric, '{kind}' AS kind,
                      CASE WHEN value IS NOT NULL AND rk <= ? THEN rk END AS rank,
                      CASE WHEN value IS NULL THEN '{NOT_GIVEN}'
                           WHEN rk <= ? THEN value ELSE '{OTHER}' END AS value,
                      CAST(sum(w) AS DOUBLE) AS weight,
                      CAST(sum(w) AS DOUBLE) / CAST(any_value(total) AS DOUBLE) AS share
                    FROM ranked JOIN t USING (cluster_id, metric)
                    GROUP BY ALL""",
                    [top, top],
                ).df()
            )
        con.execute("DROP TABLE IF EXISTS _prof_g")
        con.execute("DROP TABLE IF EXISTS _prof_gs")
        for kind in KINDS:
            con.execute(f"DROP TABLE IF EXISTS _prof_{kind}")
    finally:
        for name in ("_prof_areas", "_prof_names", "_prof_win"):
            con.unregister(name)
    table = pd.concat(frames, ignore_index=True)
    return order_profiles(table, sorted(ids) if cluster_order is None else cluster_order)


def order_profiles(table: pd.DataFrame, cluster_order: Iterable[object]) -> pd.DataFrame:
    """The profiles' rows in their published order, whatever their order in ``table``.

    Clusters in ``cluster_order`` (rank order; any other cluster after them, by id), then
    metric (:data:`~innoclusters.config.METRICS`), kind (:data:`KINDS`), rank, and the
    :data:`OTHER` then :data:`NOT_GIVEN` rows. These keys are unique in a profiles table, so
    the order is total: a table ordered once (by id, say) and ordered again by rank gives
    the same frame as one ordered by rank straight away.

    Parameters
    ----------
    table
        Rows of :func:`cluster_profiles` (:data:`PROFILE_COLUMNS`), in any order.
    cluster_order
        Cluster ids in the order wanted.

    Returns
    -------
    pandas.DataFrame
        :data:`PROFILE_COLUMNS` with ``rank`` as nullable integers and a fresh index.
    """
    order = {c: i for i, c in enumerate(cluster_order)}
    metric_order = {m: i for i, m in enumerate(METRICS)}
    kind_order = {k: i for i, k in enumerate(KINDS)}
    tail = (
        np.select([table["value"] == OTHER, table["value"] == NOT_GIVEN], [1.0, 2.0], 0.0) * 1e9
        + pd.to_numeric(table["rank"], errors="coerce").fillna(0).to_numpy()
    )
    table = table.assign(
        _c=table["cluster_id"].map(order),
        _m=table["metric"].map(metric_order),
        _k=table["kind"].map(kind_order),
        _t=tail,
    ).sort_values(["_c", "cluster_id", "_m", "_k", "_t"], kind="stable")
    table["rank"] = table["rank"].astype("Int64")
    return table[list(PROFILE_COLUMNS)].reset_index(drop=True)
