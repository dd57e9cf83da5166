"""Changes between two editions: matched clusters, entrants, exits, movers, growth.

Growth
------
Growth is measured on a fixed area, the current one: the previous run's locations are put
into the current areas with the current run's own membership rule (a location belongs to
the area of the nearest current member location within ``eps_km / 2``, ties by the
member's latitude, then longitude: :func:`innoclusters.areas.nearest_members`), so the
growth of a cluster compares the same ground in both windows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from innoclusters.areas import nearest_members
from innoclusters.compare.matching import MIN_SHARED, match_clusters
from innoclusters.compare.runs import RunView
from innoclusters.config import METRICS

__all__ = [
    "TOP_BY_METRIC",
    "Comparison",
    "compare_runs",
    "emerging_clusters",
    "growth_by_area",
    "ordinal",
]

#: Length of the top lists by metric.
TOP_BY_METRIC = 10


def _known(value: Any) -> bool:
    return bool(pd.notna(value))


def ordinal(n: Any) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``21st`` ..."""
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def growth_by_area(
    current: RunView, previous_locations: pd.DataFrame, *, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Activity of each current cluster's area in both windows, per metric.

    Previous locations join the current area of the nearest current member location within
    ``eps_km / 2`` (the current run's own membership rule), so both counts are on the same
    ground.

    Parameters
    ----------
    current
        The current run.
    previous_locations
        The previous run's locations (``metric, lat, lon, weight``).
    metrics
        Metrics to measure (default: the current run's ranking metrics present in both).

    Returns
    -------
    pandas.DataFrame
        One row per cluster and metric, in rank order: ``rank, cluster_id, name, metric,
        before, now, growth_pct`` (``100 * (now / before - 1)``, empty when ``before`` is 0).
    """
    loc = current.locations
    have_prev = set(previous_locations["metric"].unique())
    use = [m for m in (metrics or current.metrics) if m in have_prev]
    members = loc[(loc["metric_cluster"] >= 0) & loc["cluster_id"].notna()]
    prev = previous_locations[previous_locations["metric"].isin(use)]
    area = np.full(len(prev), None, dtype=object)
    if len(members) and len(prev):
        eps_km = float(current.settings.get("eps_km", 13.0))
        nearest = nearest_members(
            members["lat"].to_numpy(),
            members["lon"].to_numpy(),
            prev["lat"].to_numpy(),
            prev["lon"].to_numpy(),
            max_km=eps_km / 2,
        )
        hit = nearest >= 0
        area[hit] = members["cluster_id"].to_numpy()[nearest[hit]]
    before = (
        pd.DataFrame({"cluster_id": area, "metric": prev["metric"].to_numpy(), "w": prev["weight"]})
        .dropna(subset=["cluster_id"])
        .groupby(["cluster_id", "metric"])["w"]
        .sum()
    )
    inside = loc[loc["cluster_id"].notna() & loc["metric"].isin(use)]
    now = inside.groupby(["cluster_id", "metric"])["weight"].sum()
    clusters = current.clusters[["rank", "cluster_id", "name"]]
    grid = pd.MultiIndex.from_product([clusters["cluster_id"], use], names=["cluster_id", "metric"])
    table = pd.DataFrame(
        {
            "before": before.reindex(grid).fillna(0.0).to_numpy(),
            "now": now.reindex(grid).fillna(0.0).to_numpy(),
        },
        index=grid,
    ).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = 100.0 * (table["now"] / table["before"] - 1.0)
    table["growth_pct"] = growth.where(table["before"] > 0)
    table = clusters.merge(table, on="cluster_id", how="right")
    order = {m: i for i, m in enumerate(METRICS)}
    table = table.sort_values(
        ["rank", "metric"], key=lambda s: s.map(order) if s.name == "metric" else s
    )
    return table[
        ["rank", "cluster_id", "name", "metric", "before", "now", "growth_pct"]
    ].reset_index(drop=True)


# --- comparison of two runs -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A run compared with a previous one (an earlier edition or another method).

    Attributes
    ----------
    label, previous_label
        Names of the two runs in texts (edition years, else windows).
    top
        Size of the headline ranking compared (``N``).
    clusters
        One row per current cluster in rank order: ``rank, cluster_id, name, economies,
        previous_rank, rank_change, previous_cluster_id, previous_name, shared, change,
        merged_from, split_with, split_from`` (``split_from``: the name of the previous
        cluster a piece of a split came from, empty for clusters that are no such piece).
    previous
        One row per previous cluster in previous rank order: ``previous_rank,
        previous_cluster_id, previous_name, successor_cluster_id, successor_name,
        successor_rank, shared, fate, continued_by``.
    entrants
        Current top-``N`` clusters that enter it: ``rank, cluster_id, name, economies,
        previous_rank, change, text``.
    exits
        Previous top-``N`` clusters that leave it: ``previous_rank, previous_cluster_id,
        previous_name, previous_economies, successor_rank, successor_cluster_id,
        successor_name, fate, text``.
    movers
        Biggest moves within the top ``N`` (in it both times): ``direction`` (``up`` or
        ``down``), ``rank, previous_rank, rank_change, cluster_id, name, economies,
        split_from``; at most 10 each way, biggest first. Only clusters that continue
        their predecessor move: a piece of a split that is not its predecessor's successor
        broke off rather than moved and is not a mover; the piece that is carries
        ``split_from``.
    economies
        Clusters per economy in the top ``N``: ``economy, clusters, previous_clusters,
        change`` (a cross-border cluster counts for each economy it lists).
    top_by_metric
        The top 10 by each metric in both runs: ``run`` (``current`` or ``previous``),
        ``label, metric, position, rank, cluster_id, name, economies, count, share_pct``.
    growth
        :func:`growth_by_area`: ``rank, cluster_id, name, metric, before, now,
        growth_pct``.
    """

    label: str
    previous_label: str
    top: int
    clusters: pd.DataFrame
    previous: pd.DataFrame
    entrants: pd.DataFrame
    exits: pd.DataFrame
    movers: pd.DataFrame
    economies: pd.DataFrame
    top_by_metric: pd.DataFrame
    growth: pd.DataFrame

    def summary(self) -> list[str]:
        """Sentences on what changed, in the GII's manner."""
        n = self.top
        lines = []
        if len(self.entrants):
            names = ", ".join(
                f"{r.name} ({ordinal(r.rank)})" for r in self.entrants.itertuples(index=False)
            )
            lines.append(
                f"{len(self.entrants)} cluster{'s' if len(self.entrants) != 1 else ''} "
                f"{'enter' if len(self.entrants) != 1 else 'enters'} the top {n}: {names}."
            )
        else:
            lines.append(f"No cluster enters the top {n}.")
        if len(self.exits):
            names = ", ".join(str(r.previous_name) for r in self.exits.itertuples(index=False))
            lines.append(
                f"{len(self.exits)} cluster{'s' if len(self.exits) != 1 else ''} "
                f"{'drop' if len(self.exits) != 1 else 'drops'} out of the top {n}: {names}."
            )
        for direction, word in (("up", "rise"), ("down", "fall")):
            m = self.movers[self.movers["direction"] == direction]
            if len(m):
                r = m.iloc[0]
                lines.append(
                    f"Biggest {word}: {r['name']}, from {ordinal(r['previous_rank'])} to "
                    f"{ordinal(r['rank'])} ({int(r['rank_change']):+d})."
                )
        if len(self.economies):
            top = self.economies.head(5)
            parts = [
                f"{e} {int(c)} ({int(d):+d})"
                for e, c, d in zip(top["economy"], top["clusters"], top["change"], strict=True)
            ]
            lines.append(f"Clusters per economy in the top {n}: {', '.join(parts)}.")
        return lines


def _economy_counts(clusters: pd.DataFrame, top: int) -> pd.Series:
    head = clusters[clusters["rank"] <= top]
    codes = head["economies"].fillna("").astype(str).str.split("/").explode()
    codes = codes[codes != ""]
    return codes.value_counts()


def _top_by_metric(view: RunView, run: str, count: int) -> pd.DataFrame:
    frames = []
    clusters = view.clusters
    for metric in view.metrics:
        if metric not in clusters.columns or clusters[metric].isna().all():
            continue
        part = clusters.assign(_c=pd.to_numeric(clusters[metric], errors="coerce"))
        part = part.sort_values(["_c", "cluster_id"], ascending=[False, True], kind="stable")
        part = part.head(count)
        frames.append(
            pd.DataFrame(
                {
                    "run": run,
                    "label": view.label,
                    "metric": metric,
                    "position": np.arange(1, len(part) + 1, dtype=np.int64),
                    "rank": part["rank"].to_numpy(dtype=np.int64),
                    "cluster_id": part["cluster_id"].to_numpy(),
                    "name": part["name"].to_numpy(),
                    "economies": part["economies"].to_numpy(),
                    "count": part["_c"].to_numpy(dtype=float),
                    "share_pct": pd.to_numeric(part[f"{metric}_share"], errors="coerce").to_numpy(),
                }
            )
        )
    columns = ["run", "label", "metric", "position", "rank", "cluster_id", "name", "economies"]
    if not frames:
        return pd.DataFrame(columns=[*columns, "count", "share_pct"])
    return pd.concat(frames, ignore_index=True)


def _related(row: pd.Series, id_column: str, list_column: str) -> list[str]:
    """The cluster in ``id_column`` (if any) and the ``;``-separated ids in ``list_column``."""
    ids = [str(row[id_column])] if pd.notna(row[id_column]) else []
    ids += [i for i in str(row[list_column] or "").split(";") if i]
    return ids


def compare_runs(
    current: RunView,
    previous: RunView,
    *,
    top: int | None = None,
    min_shared: float = MIN_SHARED,
) -> Comparison:
    """Compare a run with a previous one: ranks, entrants, exits, economies, top lists, growth.

    Parameters
    ----------
    current, previous
        The two runs (:func:`read_run` or :func:`view_of`).
    top
        Size ``N`` of the headline ranking compared (default: the current run's ``top``).
    min_shared
        See :func:`match_clusters`.

    Returns
    -------
    Comparison
    """
    n = int(top if top is not None else current.top)
    cur = current.clusters
    prev = previous.clusters
    cur_rank = dict(zip(cur["cluster_id"], cur["rank"].astype(int), strict=True))
    prev_rank = dict(zip(prev["cluster_id"], prev["rank"].astype(int), strict=True))
    cur_name = dict(zip(cur["cluster_id"], cur["name"], strict=True))
    prev_name = dict(zip(prev["cluster_id"], prev["name"], strict=True))
    links, fates = match_clusters(
        current.locations,
        previous.locations,
        current_rank=cur_rank,
        previous_rank=prev_rank,
        min_shared=min_shared,
    )
    links = links.set_index("cluster_id")
    fates = fates.set_index("previous_cluster_id")

    table = cur[["rank", "cluster_id", "name", "economies"]].copy()
    pid = table["cluster_id"].map(links["previous_cluster_id"])
    table["previous_rank"] = pid.map(prev_rank).astype("Int64")
    table["rank_change"] = table["previous_rank"] - table["rank"].astype("Int64")
    table["previous_cluster_id"] = pid
    table["previous_name"] = pid.map(prev_name)
    for col in ("shared", "change", "merged_from", "split_with"):
        table[col] = table["cluster_id"].map(links[col])
    # A piece of a split carries the name of the cluster it split from; only the piece that
    # is that cluster's successor (its largest part) continues it.
    piece = table["split_with"].fillna("").astype(str) != ""
    table["split_from"] = table["previous_name"].where(piece, "").fillna("")
    principal = pid.map(fates["successor_cluster_id"]) == table["cluster_id"]
    table = table.reset_index(drop=True)

    back = prev[["rank", "cluster_id", "name", "economies"]].rename(
        columns={
            "rank": "previous_rank",
            "cluster_id": "previous_cluster_id",
            "name": "previous_name",
            "economies": "previous_economies",
        }
    )
    sid = back["previous_cluster_id"].map(fates["successor_cluster_id"])
    back["successor_cluster_id"] = sid
    back["successor_name"] = sid.map(cur_name)
    back["successor_rank"] = sid.map(cur_rank).astype("Int64")
    for col in ("shared", "fate", "continued_by"):
        back[col] = back["previous_cluster_id"].map(fates[col])
    back = back.reset_index(drop=True)

    # Entrants: no previous cluster behind them (predecessor or merged in) was in the top N.
    in_top = table[table["rank"] <= n]
    enter = [
        i
        for i, row in in_top.iterrows()
        if all(
            prev_rank.get(a, math.inf) > n
            for a in _related(row, "previous_cluster_id", "merged_from")
        )
    ]
    entrants = table.loc[
        enter, ["rank", "cluster_id", "name", "economies", "previous_rank", "change"]
    ]
    entrants = entrants.reset_index(drop=True)
    entrants["text"] = [
        f"{r.name} ({ordinal(r.rank)}) enters the top {n}"
        + (
            f", up from {ordinal(r.previous_rank)} in {previous.label}."
            if _known(r.previous_rank)
            else " as a new cluster."
        )
        for r in entrants.itertuples(index=False)
    ]

    was_top = back[back["previous_rank"] <= n]
    leave = [
        i
        for i, row in was_top.iterrows()
        if all(
            cur_rank.get(b, math.inf) > n
            for b in _related(row, "successor_cluster_id", "continued_by")
        )
    ]
    exits = back.loc[
        leave,
        [
            "previous_rank",
            "previous_cluster_id",
            "previous_name",
            "previous_economies",
            "successor_rank",
            "successor_cluster_id",
            "successor_name",
            "fate",
        ],
    ].reset_index(drop=True)
    exits["text"] = [_exit_text(r, n, previous.label) for r in exits.itertuples(index=False)]

    # Movers: clusters in the top N both times that continue their previous cluster; a
    # piece that broke off a split cluster did not move from the cluster's rank.
    both = table[(table["rank"] <= n) & table["previous_rank"].notna() & principal.to_numpy()]
    both = both[both["previous_rank"] <= n]
    cols = ["rank", "previous_rank", "rank_change", "cluster_id", "name", "economies", "split_from"]
    ups = both[both["rank_change"] > 0].sort_values(
        ["rank_change", "rank"], ascending=[False, True], kind="stable"
    )
    downs = both[both["rank_change"] < 0].sort_values(
        ["rank_change", "rank"], ascending=[True, True], kind="stable"
    )
    movers = pd.concat(
        [ups.head(10)[cols].assign(direction="up"), downs.head(10)[cols].assign(direction="down")],
        ignore_index=True,
    )[["direction", *cols]]

    now_e = _economy_counts(cur, n)
    before_e = _economy_counts(prev, n)
    codes = sorted(set(now_e.index) | set(before_e.index))
    economies = pd.DataFrame(
        {
            "economy": codes,
            "clusters": [int(now_e.get(c, 0)) for c in codes],
            "previous_clusters": [int(before_e.get(c, 0)) for c in codes],
        }
    )
    economies["change"] = economies["clusters"] - economies["previous_clusters"]
    economies = economies.sort_values(
        ["clusters", "previous_clusters", "economy"], ascending=[False, False, True]
    ).reset_index(drop=True)

    top_lists = pd.concat(
        [
            _top_by_metric(current, "current", TOP_BY_METRIC),
            _top_by_metric(previous, "previous", TOP_BY_METRIC),
        ],
        ignore_index=True,
    )
    growth = growth_by_area(current, previous.locations)
    return Comparison(
        label=current.label,
        previous_label=previous.label,
        top=n,
        clusters=table,
        previous=back,
        entrants=entrants,
        exits=exits,
        movers=movers.reset_index(drop=True),
        economies=economies,
        top_by_metric=top_lists,
        growth=growth,
    )


def _exit_text(r: Any, n: int, previous_label: str) -> str:
    head = (
        f"{r.previous_name} ({ordinal(r.previous_rank)} in {previous_label}) "
        f"drops out of the top {n}"
    )
    if r.fate == "vanished":
        return f"{head}; it is no longer a cluster."
    if r.fate == "merged":
        return f"{head}; it merged into {r.successor_name} ({ordinal(r.successor_rank)})."
    if r.fate == "split":
        return f"{head}; it split, its largest part now {ordinal(r.successor_rank)}."
    return f"{head}; now {ordinal(r.successor_rank)}."


# --- emerging clusters ------------------------------------------------------------------


def emerging_clusters(
    clusters: pd.DataFrame,
    *,
    top: int,
    count: int,
    growth: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``count`` clusters ranked just below the top ``top``, with their growth.

    Parameters
    ----------
    clusters
        Ranked clusters (with ``previous_rank`` and ``rank_change`` when compared).
    top
        Size of the headline ranking.
    count
        How many clusters below it to list.
    growth
        :func:`growth_by_area` output, when a previous run is known.

    Returns
    -------
    pandas.DataFrame
        ``rank, cluster_id, name, economies, score, previous_rank, rank_change`` and
        ``<metric>_growth_pct`` per metric of ``growth`` (empty without a previous run).
    """
    rows = clusters[(clusters["rank"] > top) & (clusters["rank"] <= top + count)]
    table = rows[["rank", "cluster_id", "name", "economies", "score"]].copy()
    for col in ("previous_rank", "rank_change"):
        table[col] = (
            rows[col].astype("Int64") if col in rows else pd.array([pd.NA] * len(rows), "Int64")
        )
    if growth is not None and len(growth):
        wide = growth.pivot(index="cluster_id", columns="metric", values="growth_pct")
        for m in METRICS:
            if m in wide.columns:
                table[f"{m}_growth_pct"] = table["cluster_id"].map(wide[m]).astype(float)
    return table.reset_index(drop=True)
