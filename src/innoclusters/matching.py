"""The shared-activity matching rule: which cluster of one run continues which of another.

Areas move between editions, methods and replicates, so cluster ids are not enough.
Clusters are matched through the activity they share: a location (``metric, lat, lon``) of
one run and the same location of the other run each belong to one area or none, and a
cluster's *activity* at a location is the location's contribution to its score.

* The **predecessor** of a current cluster ``b`` is the previous cluster holding the largest
  part of ``b``'s activity at shared locations, provided that part is at least
  ``min_shared`` (:data:`MIN_SHARED`, a quarter) of ``b``'s activity; otherwise ``b`` is
  **new**. Ties go to the better-ranked cluster, then to the smaller id.
* The **successor** of a previous cluster ``a`` is, symmetrically, the current cluster
  holding the largest part of ``a``'s previous activity, at least ``min_shared`` of it;
  otherwise ``a`` has **vanished**.
* The links are the same seen from both runs: a cluster ``b`` that no previous cluster
  holds a quarter of (it grew) but that is the successor of a previous cluster takes that
  cluster as predecessor (of several, the one holding most of ``b``); a previous cluster
  with no successor but that is the predecessor of a current cluster takes it as successor.
* A previous cluster that is the predecessor of two or more current clusters has **split**.
  A previous cluster whose successor has another predecessor has **merged** into it. Any
  other cluster with a predecessor is **continuing** (its previous cluster **continues**).

:func:`match_parts` applies the rule to the shared parts, however they were computed:
:mod:`innoclusters.compare` from two runs' location tables, :mod:`innoclusters.uncertainty`
from arrays over the locations of a replicate. This module is the one copy of the rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["MIN_SHARED", "match_parts"]

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


def _linked(
    pred: Mapping[str, str],
    succ: Mapping[str, str],
    *,
    up_part: Mapping[tuple[str, str], float],
    down_part: Mapping[tuple[str, str], float],
    current_rank: Mapping[str, int],
    previous_rank: Mapping[str, int],
) -> tuple[dict[str, str], dict[str, str]]:
    """Predecessors and successors completed so that a link seen from one run is seen from both.

    A current cluster ``b`` with no predecessor by the ``min_shared`` rule (it grew so much
    that no previous cluster holds a quarter of it) takes as predecessor the previous cluster
    whose successor it is (of several, the one holding the largest part of ``b``'s activity,
    then the better rank, then the smaller id). Symmetrically, a previous cluster with no
    successor takes the current cluster whose predecessor it is (the one holding the largest
    part of its activity). Without this, a grown cluster would be new while its previous
    cluster had "merged" into it: an entrant with no exit.
    """
    done_pred = dict(pred)
    heirs: dict[str, list[str]] = {}
    for a, b in succ.items():
        if b not in pred:
            heirs.setdefault(b, []).append(a)
    for b, candidates in heirs.items():
        done_pred[b] = min(
            candidates,
            key=lambda a: (-up_part.get((b, a), 0.0), previous_rank.get(a, math.inf), a),
        )
    done_succ = dict(succ)
    sources: dict[str, list[str]] = {}
    for b, a in pred.items():
        if a not in succ:
            sources.setdefault(a, []).append(b)
    for a, candidates in sources.items():
        done_succ[a] = min(
            candidates,
            key=lambda b: (-down_part.get((a, b), 0.0), current_rank.get(b, math.inf), b),
        )
    return done_pred, done_succ


def match_parts(
    up: pd.DataFrame,
    down: pd.DataFrame,
    *,
    current_ids: Sequence[str],
    previous_ids: Sequence[str],
    current_rank: Mapping[str, int] | None = None,
    previous_rank: Mapping[str, int] | None = None,
    min_shared: float = MIN_SHARED,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the matching rule to the parts of activity two runs' clusters share.

    Parameters
    ----------
    up
        One row per pair of a current and a previous cluster sharing locations:
        ``cluster_id, previous_cluster_id, part`` where ``part`` is the part (0-1) of the
        current cluster's activity at locations of the previous cluster.
    down
        The same pairs seen from the previous run: ``previous_cluster_id, cluster_id, part``
        where ``part`` is the part of the previous cluster's activity at locations of the
        current one.
    current_ids, previous_ids
        Every cluster of each run (clusters sharing nothing are new or vanished).
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
        One row per previous cluster (sorted by id): ``previous_cluster_id,
        successor_cluster_id``, ``shared`` (the part of its activity in the successor),
        ``fate`` (``continues``, ``split``, ``merged`` or ``vanished``) and ``continued_by``
        (every current cluster whose predecessor it is).
    """
    cur_rank = dict(current_rank or {})
    prev_rank = dict(previous_rank or {})
    up_part = {
        (str(b), str(a)): float(p)
        for b, a, p in zip(up["cluster_id"], up["previous_cluster_id"], up["part"], strict=True)
    }
    down_part = {
        (str(a), str(b)): float(p)
        for a, b, p in zip(
            down["previous_cluster_id"], down["cluster_id"], down["part"], strict=True
        )
    }
    pred, succ = _linked(
        _best(up, "cluster_id", "previous_cluster_id", prev_rank, min_shared),
        _best(down, "previous_cluster_id", "cluster_id", cur_rank, min_shared),
        up_part=up_part,
        down_part=down_part,
        current_rank=cur_rank,
        previous_rank=prev_rank,
    )

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
    for cid in sorted(str(c) for c in current_ids):
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
                up_part.get((cid, prv), 0.0) if prv else 0.0,
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
    for pid in sorted(str(p) for p in previous_ids):
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
        part = down_part.get((pid, nxt), 0.0) if nxt else 0.0
        fate_rows.append((pid, nxt, part, fate, ";".join(kids)))
    previous = pd.DataFrame(
        fate_rows,
        columns=["previous_cluster_id", "successor_cluster_id", "shared", "fate", "continued_by"],
    )
    return current, previous
