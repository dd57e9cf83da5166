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

from collections.abc import Mapping

import numpy as np
import pandas as pd

from innoclusters.config import METRICS
from innoclusters.locations import rounding_decimals
from innoclusters.records import RecordSet

__all__ = ["KINDS", "NOT_GIVEN", "OTHER", "PROFILE_COLUMNS", "PROFILE_TOP", "cluster_profiles"]

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


def cluster_profiles(
    records: RecordSet,
    located: pd.DataFrame,
    *,
    rounding: float,
    windows: Mapping[str, tuple[int, int]],
    cluster_order: pd.Series | None = None,
    top: int = PROFILE_TOP,
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

    Returns
    -------
    pandas.DataFrame
        :data:`PROFILE_COLUMNS`: ``rank`` is 1..``top`` for named values and empty for the
        :data:`OTHER` and :data:`NOT_GIVEN` rows; ``weight`` is the summed fractional weight
        and ``share`` its fraction of the cluster's count of the metric. A metric and kind
        with no value in any record of the window has no rows.
    """
    con = records.connection
    areas = located.loc[located["cluster_id"].notna(), ["metric", "lat", "lon", "cluster_id"]]
    win = pd.DataFrame(
        [(m, a, b) for m, (a, b) in windows.items()], columns=["metric", "first", "last"]
    )
    dec = rounding_decimals(rounding)
    con.register("_prof_areas", areas)
    con.register("_prof_win", win)
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _prof AS
            WITH r AS (
              SELECT r.metric,
                round(round(r.lat / {rounding!r}) * {rounding!r}, {dec}) AS lat,
                round(round(r.lon / {rounding!r}) * {rounding!r}, {dec}) AS lon0,
                CASE WHEN lon0 >= 180.0 THEN -180.0 ELSE lon0 END AS lon,
                CAST(r.weight AS DECIMAL(38, 18)) AS w, r.org, r.field
              FROM records AS r JOIN _prof_win AS w ON r.metric = w.metric
              WHERE r.year BETWEEN w.first AND w.last)
            SELECT a.cluster_id, r.metric, r.w, r.org, r.field
            FROM r JOIN _prof_areas AS a ON r.metric = a.metric AND r.lat = a.lat
              AND r.lon = a.lon"""
        )
        frames = []
        for kind in KINDS:
            frames.append(
                con.execute(
                    f"""WITH has AS (
                      SELECT metric FROM _prof GROUP BY metric
                      HAVING count({kind}) > 0),
                    t AS (
                      SELECT cluster_id, metric, sum(w) AS total FROM _prof
                      WHERE metric IN (SELECT metric FROM has) GROUP BY ALL),
                    g AS (
                      SELECT cluster_id, metric, {kind} AS value, sum(w) AS w FROM _prof
                      WHERE metric IN (SELECT metric FROM has) GROUP BY ALL),
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
        con.execute("DROP TABLE _prof")
    finally:
        con.unregister("_prof_areas")
        con.unregister("_prof_win")
    table = pd.concat(frames, ignore_index=True)
    if cluster_order is None:
        order = {c: i for i, c in enumerate(sorted(areas["cluster_id"].unique()))}
    else:
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
