"""Matching clusters across runs
-----------------------------
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

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["MIN_SHARED", "match_clusters"]

#: Minimum part of a cluster's activity that its predecessor or successor must hold.
MIN_SHARED = 0.25


def _best(
    overlap: pd.DataFrame, key: str, other: str, rank_of: Mapping[str, int], min_shared: float
) -> dict[str, str]:
    """For each ``key`` cluster, the ``other`` cluster with the largest part (>= min_shared)."""
    frame = overlap[overlap["part"] >= min_shared].copy()
    frame["_rank"] = frame[other].map(rank_of).fillna(np.inf)
    frame = frame.sort_values(
        [key, "part", "_rank", other], ascending=[True, False, True, True], kind="stable"
    )
    first = frame.drop_duplicates(key)
    return {str(k): str(v) for k, v in zip(first[key], first[other], strict=True)}


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
    current : pandas.DataFrame
        One row per current cluster (sorted by id): ``cluster_id, previous_cluster_id``
        (``None`` when new), ``shared`` (the part of its activity at locations of its
        predecessor, 0-1), ``change`` (``continuing``, ``split``, ``merged`` or ``new``),
        ``merged_from`` (previous ids merged into it, predecessor first, ``;``-joined) and
        ``split_with`` (other current clusters with the same predecessor).
    previous : pandas.DataFrame
        One row per previous cluster: ``previous_cluster_id, successor_cluster_id``,
        ``shared`` (the part of its activity in the successor), ``fate`` (``continues``,
        ``split``, ``merged`` or ``vanished``) and ``continued_by`` (every current cluster
        whose predecessor it is).
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
    pred = _best(up, "cluster_id", "previous_cluster_id", prev_rank, min_shared)
    succ = _best(down, "previous_cluster_id", "cluster_id", cur_rank, min_shared)
    up_part = {
        (b, a): p
        for b, a, p in zip(up["cluster_id"], up["previous_cluster_id"], up["part"], strict=True)
    }
    down_part = {
        (a, b): p
        for a, b, p in zip(
            down["previous_cluster_id"], down["cluster_id"], down["part"], strict=True
        )
    }

    def by_prev_rank(ids: Sequence[str]) -> list[str]:
        return sorted(ids, key=lambda a: (prev_rank.get(a, math.inf), a))

    def by_cur_rank(ids: Sequence[str]) -> list[str]:
        return sorted(ids, key=lambda b: (cur_rank.get(b, math.inf), b))

    children: dict[str, list[str]] = {}
    for b, a in pred.items():
        children.setdefault(str(a), []).append(str(b))
    absorbed: dict[str, list[str]] = {}
    for pa, sb in succ.items():
        if pred.get(sb) != pa:
            absorbed.setdefault(str(sb), []).append(str(pa))

    rows: list[tuple[str, str | None, float, str, str, str]] = []
    for cid in sorted(cur_total.index.astype(str)):
        prv = pred.get(cid)
        merged = ([prv] if prv is not None else []) + by_prev_rank(absorbed.get(cid, []))
        siblings = [c for c in by_cur_rank(children.get(prv, [])) if c != cid] if prv else []
        if prv is None:
            change = "new"
        elif len(merged) >= 2:
            change = "merged"
        elif siblings:
            change = "split"
        else:
            change = "continuing"
        rows.append(
            (
                cid,
                prv,
                float(up_part.get((cid, prv), 0.0)) if prv else 0.0,
                change,
                ";".join(merged) if len(merged) >= 2 else "",
                ";".join(siblings),
            )
        )
    current = pd.DataFrame(
        rows,
        columns=[
            "cluster_id",
            "previous_cluster_id",
            "shared",
            "change",
            "merged_from",
            "split_with",
        ],
    )
    fate_rows: list[tuple[str, str | None, float, str, str]] = []
    for pid in sorted(prev_total.index.astype(str)):
        nxt = succ.get(pid)
        kids = by_cur_rank(children.get(pid, []))
        if nxt is None and not kids:
            fate = "vanished"
        elif len(kids) >= 2:
            fate = "split"
        elif nxt is not None and pred.get(nxt) != pid:
            fate = "merged"
        else:
            fate = "continues"
        part = float(down_part.get((pid, nxt), 0.0)) if nxt else 0.0
        fate_rows.append((pid, nxt, part, fate, ";".join(kids)))
    previous = pd.DataFrame(
        fate_rows,
        columns=["previous_cluster_id", "successor_cluster_id", "shared", "fate", "continued_by"],
    )
    return current, previous
