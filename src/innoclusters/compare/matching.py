"""Matching clusters across runs
-----------------------------
The rule itself lives in :mod:`innoclusters.matching` (one copy, also used by the rank
uncertainty); this module computes the shared parts from two runs' location tables.

Areas move between editions and methods, so cluster ids are not enough. Clusters are
matched through the locations they share: a location is a ``(metric, lat, lon)`` of the
locations table, and both runs assign it to an area or to none.

* The **predecessor** of a cluster ``b`` of the current run is the previous cluster ``a``
  holding the largest part of ``b``'s activity at shared locations (activity is the
  location's contribution to ``b``'s score, so metrics count by their share, as in the
  ranking), provided that part is at least ``min_shared`` (default a quarter) of ``b``'s
  activity. Otherwise ``b`` is **new**. Ties go to the better-ranked cluster, then the id.
* The **successor** of a previous cluster ``a`` is, symmetrically, the current cluster
  holding the largest part of ``a``'s previous activity, at least ``min_shared`` of it.
  Otherwise ``a`` has **vanished**.
* A previous cluster that is the predecessor of two or more current clusters has **split**;
  those current clusters are marked ``split``. A previous cluster whose successor has
  another predecessor has **merged** into it; that current cluster is marked ``merged``.
  Any other cluster with a predecessor is ``continuing`` (its previous cluster
  ``continues``).
* ``previous_rank`` is the predecessor's rank and ``rank_change = previous_rank - rank``
  (positive: moved up). Both are empty for new clusters.
* A current top-``N`` cluster **enters** the top ``N`` when neither its predecessor nor
  any previous cluster merged into it was in the previous top ``N``. A previous top-``N``
  cluster **exits** when neither its successor nor any cluster it split into is in the
  current top ``N``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from innoclusters.matching import MIN_SHARED, match_parts

__all__ = ["MIN_SHARED", "match_clusters"]


def match_clusters(
    current_locations: pd.DataFrame,
    previous_locations: pd.DataFrame,
    *,
    current_rank: Mapping[str, int] | None = None,
    previous_rank: Mapping[str, int] | None = None,
    min_shared: float = MIN_SHARED,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match the clusters of two runs through their shared locations (see the module text).

    Parameters
    ----------
    current_locations, previous_locations
        Locations tables with ``metric, lat, lon, cluster_id, activity``.
    current_rank, previous_rank
        Ranks of the clusters, to break ties (better rank first).
    min_shared
        Minimum part of a cluster's activity its predecessor or successor must hold.

    Returns
    -------
    current, previous : pandas.DataFrame
        The two tables of :func:`innoclusters.matching.match_parts`, which decides the
        matches from the shared parts computed here.
    """
    cols = ["metric", "lat", "lon", "cluster_id", "activity"]
    cur = current_locations.loc[current_locations["cluster_id"].notna(), cols]
    prev = previous_locations.loc[previous_locations["cluster_id"].notna(), cols]
    cur_rank = dict(current_rank or {})
    prev_rank = dict(previous_rank or {})
    shared = cur.merge(prev, on=["metric", "lat", "lon"], suffixes=("", "_prev"))
    shared = shared.rename(columns={"cluster_id_prev": "previous_cluster_id"})

    def parts(
        activity: str, key: str, other: str, totals: pd.Series
    ) -> pd.DataFrame:  # share of each key cluster's activity held by each other cluster
        by = shared.groupby([key, other], sort=True)[activity].sum().reset_index()
        total = by[key].map(totals).to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            by["part"] = np.where(total > 0, by[activity].to_numpy(dtype=float) / total, 0.0)
        return by

    cur_total = cur.groupby("cluster_id")["activity"].sum()
    prev_total = prev.groupby("cluster_id")["activity"].sum()
    up = parts("activity", "cluster_id", "previous_cluster_id", cur_total)
    down = parts("activity_prev", "previous_cluster_id", "cluster_id", prev_total)
    return match_parts(
        up,
        down,
        current_ids=[str(c) for c in cur_total.index],
        previous_ids=[str(c) for c in prev_total.index],
        current_rank=cur_rank,
        previous_rank=prev_rank,
        min_shared=min_shared,
    )
