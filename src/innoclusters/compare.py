"""Comparisons: between two runs (editions) and between two methods on the same areas.

Matching clusters across runs
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

Growth
------
Growth is measured on a fixed area, the current one: the previous run's locations are put
into the current areas with the current run's own membership rule (a location belongs to
the area of the nearest current member location within ``eps_km / 2``), so the growth of
a cluster compares the same ground in both windows.

Method comparison
-----------------
``also_method`` re-ranks the run's own areas with another set of metrics or weights, as
the GII's 2025 Appendix IV Table 2 ranks the 2025 clusters with the two-metric method of
2024. It isolates the effect of the score; a separate run with other settings compared with
:func:`compare_runs` measures the whole method change, areas included.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from innoclusters.config import METRICS
from innoclusters.editions import window_label
from innoclusters.errors import InputError, SettingsError
from innoclusters.result import RunResult

__all__ = [
    "MIN_SHARED",
    "RUN_FILES",
    "TOP_BY_METRIC",
    "Comparison",
    "MethodComparison",
    "RunView",
    "Section",
    "add_comparisons",
    "compare_runs",
    "emerging_clusters",
    "growth_by_area",
    "match_clusters",
    "method_comparison",
    "ordinal",
    "read_run",
    "report_sections",
    "view_of",
    "write_comparison",
]

#: Files an output folder must have to be compared.
RUN_FILES: tuple[str, ...] = ("clusters.csv", "locations.parquet", "manifest.json")

#: Minimum part of a cluster's activity that its predecessor or successor must hold.
MIN_SHARED = 0.25

#: Length of the top lists by metric.
TOP_BY_METRIC = 10

_LOCATION_NEEDS = ("metric", "lat", "lon", "weight", "metric_cluster", "cluster_id")


@dataclasses.dataclass(frozen=True)
class RunView:
    """What a comparison needs of one run: its clusters, locations and manifest.

    Attributes
    ----------
    label
        How the run is named in texts: the edition year, else its windows.
    clusters
        ``clusters.csv`` as a frame, in rank order (no geometry).
    locations
        Every location with ``metric, lat, lon, weight, metric_cluster, cluster_id,
        activity``.
    manifest
        The run's ``manifest.json``.
    """

    label: str
    clusters: pd.DataFrame
    locations: pd.DataFrame
    manifest: dict[str, Any]

    @property
    def settings(self) -> dict[str, Any]:
        """The settings recorded in the manifest."""
        return dict(self.manifest.get("settings", {}))

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics that ranked, in output order."""
        named = set(self.manifest.get("metrics", ()))
        return tuple(m for m in METRICS if m in named)

    @property
    def top(self) -> int:
        """Size of the run's headline ranking."""
        return int(self.settings.get("top", 100))


def _label(manifest: Mapping[str, Any], fallback: str) -> str:
    edition = manifest.get("settings", {}).get("edition")
    if edition is not None:
        return str(edition)
    windows = {m: w["window"] for m, w in manifest.get("windows", {}).items() if "window" in w}
    return window_label(windows) if windows else fallback


def _with_activity(locations: pd.DataFrame, manifest: Mapping[str, Any]) -> pd.DataFrame:
    if "activity" in locations.columns:
        return locations
    out = locations.copy()
    metrics = set(manifest.get("metrics", METRICS))
    weights = manifest.get("settings", {}).get("metric_weights", {})
    totals = out.groupby("metric")["weight"].sum()
    scale = {
        m: 100.0 * float(weights.get(m, 1.0)) / float(t) if m in metrics and t > 0 else 0.0
        for m, t in totals.items()
    }
    out["activity"] = out["weight"] * out["metric"].map(scale).fillna(0.0)
    return out


def read_run(folder: str | Path) -> RunView:
    """Read an output folder of an earlier run for comparison.

    Parameters
    ----------
    folder
        A folder written by ``innoclusters run`` (``clusters.csv``, ``locations.parquet``,
        ``manifest.json``).

    Returns
    -------
    RunView

    Raises
    ------
    InputError
        When the folder or one of its files is missing or unreadable.
    """
    path = Path(folder)
    if not path.is_dir():
        raise InputError(
            f"{path}: no such run folder; pass the --out folder of an earlier innoclusters run"
        )
    missing = [name for name in RUN_FILES if not (path / name).is_file()]
    if missing:
        raise InputError(
            f"{path}: not an innoclusters output folder (missing {', '.join(missing)}); pass "
            "the --out folder of an earlier innoclusters run"
        )
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        clusters = pd.read_csv(
            path / "clusters.csv", comment="#", dtype={"cluster_id": str, "name": str}
        )
        locations = pd.read_parquet(path / "locations.parquet")
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot read the run ({first}); run it again") from None
    lacking = [c for c in ("rank", "cluster_id", "name") if c not in clusters.columns]
    lacking += [c for c in _LOCATION_NEEDS if c not in locations.columns]
    if lacking or not isinstance(manifest, dict):
        raise InputError(
            f"{path}: clusters.csv or locations.parquet lacks column(s) "
            f"{', '.join(lacking) or '(manifest)'}; run it again with this version"
        )
    clusters["economies"] = clusters.get("economies", pd.Series("", index=clusters.index))
    clusters["economies"] = clusters["economies"].fillna("").astype(str)
    clusters = clusters.sort_values("rank", kind="stable").reset_index(drop=True)
    return RunView(
        label=_label(manifest, path.name),
        clusters=clusters,
        locations=_with_activity(locations, manifest),
        manifest=manifest,
    )


def view_of(result: RunResult, label: str | None = None) -> RunView:
    """A :class:`RunView` of an in-memory run."""
    clusters = pd.DataFrame(result.clusters.drop(columns="geometry", errors="ignore"))
    return RunView(
        label=label or _label(result.manifest, "current"),
        clusters=clusters.reset_index(drop=True),
        locations=_with_activity(result.locations, result.manifest),
        manifest=result.manifest,
    )


def _known(value: Any) -> bool:
    return bool(pd.notna(value))


def ordinal(n: Any) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``21st`` ..."""
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# --- matching ---------------------------------------------------------------------------


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


# --- growth ---------------------------------------------------------------------------


def _chord(km: float) -> float:
    from innoclusters.areas import EARTH_RADIUS_KM

    return 2.0 * math.sin(min(km / EARTH_RADIUS_KM, math.pi) / 2.0)


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
    from scipy.spatial import cKDTree

    from innoclusters.areas import unit_vectors

    loc = current.locations
    have_prev = set(previous_locations["metric"].unique())
    use = [m for m in (metrics or current.metrics) if m in have_prev]
    members = loc[(loc["metric_cluster"] >= 0) & loc["cluster_id"].notna()]
    prev = previous_locations[previous_locations["metric"].isin(use)]
    area = np.full(len(prev), None, dtype=object)
    if len(members) and len(prev):
        eps_km = float(current.settings.get("eps_km", 13.0))
        tree = cKDTree(unit_vectors(members["lat"].to_numpy(), members["lon"].to_numpy()))
        dist, nearest = tree.query(
            unit_vectors(prev["lat"].to_numpy(), prev["lon"].to_numpy()),
            k=1,
            distance_upper_bound=_chord(eps_km / 2) * (1 + 1e-12),
        )
        hit = np.isfinite(dist)
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
        merged_from, split_with``.
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
        ``down``), ``rank, previous_rank, rank_change, cluster_id, name, economies``; at
        most 10 each way, biggest first.
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

    both = table[(table["rank"] <= n) & table["previous_rank"].notna()]
    both = both[both["previous_rank"] <= n]
    cols = ["rank", "previous_rank", "rank_change", "cluster_id", "name", "economies"]
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


# --- method comparison ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MethodComparison:
    """The run's areas ranked by two methods side by side (GII 2025 Appendix IV Table 2).

    Attributes
    ----------
    method, alt_method
        ``metric -> weight`` of the run's method and of the other one.
    label, alt_label
        Short names of the methods (``patents+publications+vc``).
    table
        One row per cluster in the run's rank order: ``rank, cluster_id, name, economies,
        score, alt_rank, alt_score, rank_difference`` (``alt_rank - rank``: positive when the
        cluster ranks higher under the run's method than under the other).
    """

    method: dict[str, float]
    alt_method: dict[str, float]
    label: str
    alt_label: str
    table: pd.DataFrame


def _method_label(method: Mapping[str, float]) -> str:
    return "+".join(
        m if float(w) == 1.0 else f"{m}×{float(w):g}"
        for m in METRICS
        if m in method and (w := method[m]) > 0
    )


def method_comparison(
    clusters: pd.DataFrame,
    locations: pd.DataFrame,
    *,
    method: Mapping[str, float],
    alt_method: Mapping[str, float],
) -> MethodComparison:
    """Rank the same areas with another set of metrics or weights.

    Parameters
    ----------
    clusters
        The run's ranked clusters (``rank, cluster_id, name, economies, score``).
    locations
        The run's locations with ``metric, weight, cluster_id`` (noise included: the world
        totals are the sums over every location of a metric).
    method
        ``metric -> weight`` of the run's method.
    alt_method
        ``metric -> weight`` of the other method; shares of metrics not named weigh 0.

    Returns
    -------
    MethodComparison

    Raises
    ------
    SettingsError
        When ``alt_method`` names a metric with no locations in the run's windows.
    """
    totals = locations.groupby("metric")["weight"].sum()
    absent = [m for m, w in alt_method.items() if w > 0 and float(totals.get(m, 0.0)) <= 0]
    if absent:
        raise SettingsError(
            f"setting 'also_method' uses {', '.join(absent)}, but the run has no such records "
            "in its windows; pass those files or drop the metric from also_method"
        )
    inside = locations[locations["cluster_id"].notna()]
    counts = inside.groupby(["cluster_id", "metric"])["weight"].sum().unstack("metric")
    ids = clusters["cluster_id"]
    alt = np.zeros(len(ids))
    for m, w in alt_method.items():
        if w > 0:
            got = counts[m].reindex(ids).fillna(0.0) if m in counts else pd.Series(0.0, index=ids)
            alt = alt + float(w) * 100.0 * got.to_numpy(dtype=float) / float(totals[m])
    table = clusters[["rank", "cluster_id", "name", "economies", "score"]].copy()
    table["alt_score"] = alt
    order = table.sort_values(["alt_score", "cluster_id"], ascending=[False, True], kind="stable")
    alt_rank = pd.Series(np.arange(1, len(order) + 1, dtype=np.int64), index=order.index)
    table["alt_rank"] = alt_rank.reindex(table.index).to_numpy()
    table["rank_difference"] = table["alt_rank"] - table["rank"].astype(np.int64)
    table = table[
        [
            "rank",
            "cluster_id",
            "name",
            "economies",
            "score",
            "alt_rank",
            "alt_score",
            "rank_difference",
        ]
    ].reset_index(drop=True)
    return MethodComparison(
        method=dict(method),
        alt_method=dict(alt_method),
        label=_method_label(method),
        alt_label=_method_label(alt_method),
        table=table,
    )


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


# --- attaching to a run ----------------------------------------------------------------


def add_comparisons(result: RunResult, previous: RunView | None = None) -> RunResult:
    """Add the comparisons its settings ask for to a run, as a new :class:`RunResult`.

    Fills ``extras["comparison"]`` (:class:`Comparison`, when ``previous`` is given),
    ``extras["method_comparison"]`` (:class:`MethodComparison`, when ``also_method`` is set)
    and ``extras["emerging"]`` (when ``emerging`` > 0), and appends to the clusters the
    columns ``previous_rank, rank_change, change, previous_cluster_id`` and
    ``<metric>_growth_pct`` (with a previous run) and ``alt_rank, alt_score,
    alt_rank_difference`` (with ``also_method``).

    Parameters
    ----------
    result
        The run.
    previous
        A previous run (:func:`read_run`), or ``None``.

    Returns
    -------
    RunResult
    """
    settings = result.settings
    clusters = result.clusters.copy()
    extras = dict(result.extras)
    manifest = dict(result.manifest)
    growth = None
    if previous is not None:
        comp = compare_runs(view_of(result), previous, top=settings.top)
        extras["comparison"] = comp
        by_id = comp.clusters.set_index("cluster_id")
        for col in ("previous_rank", "rank_change"):
            clusters[col] = pd.array(clusters["cluster_id"].map(by_id[col]), dtype="Int64")
        clusters["change"] = clusters["cluster_id"].map(by_id["change"])
        clusters["previous_cluster_id"] = clusters["cluster_id"].map(by_id["previous_cluster_id"])
        growth = comp.growth
        if len(growth):
            wide = growth.pivot(index="cluster_id", columns="metric", values="growth_pct")
            for m in METRICS:
                if m in wide.columns:
                    clusters[f"{m}_growth_pct"] = clusters["cluster_id"].map(wide[m]).astype(float)
        manifest["comparison"] = {
            "previous": previous.label,
            "previous_windows": previous.manifest.get("windows", {}),
            "top": comp.top,
            "matched": int(comp.clusters["previous_cluster_id"].notna().sum()),
            "new": int((comp.clusters["change"] == "new").sum()),
            "vanished": int((comp.previous["fate"] == "vanished").sum()),
            "entrants": len(comp.entrants),
            "exits": len(comp.exits),
            "min_shared": MIN_SHARED,
        }
    if settings.also_method:
        method = {m: settings.weight_of(m) for m in result.metrics}
        mc = method_comparison(
            clusters, result.locations, method=method, alt_method=dict(settings.also_method)
        )
        extras["method_comparison"] = mc
        by_id = mc.table.set_index("cluster_id")
        clusters["alt_rank"] = clusters["cluster_id"].map(by_id["alt_rank"]).astype("Int64")
        clusters["alt_score"] = clusters["cluster_id"].map(by_id["alt_score"]).astype(float)
        clusters["alt_rank_difference"] = (
            clusters["cluster_id"].map(by_id["rank_difference"]).astype("Int64")
        )
        manifest["method_comparison"] = {"method": mc.label, "also_method": mc.alt_label}
    if settings.emerging:
        extras["emerging"] = emerging_clusters(
            clusters, top=settings.top, count=settings.emerging, growth=growth
        )
    return dataclasses.replace(result, clusters=clusters, extras=extras, manifest=manifest)


# --- published views -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Section:
    """A report section (and workbook sheets) made from a run's comparisons.

    Attributes
    ----------
    id
        HTML id of the section (``changes``, ``method-comparison``, ``emerging``).
    nav
        Short label for the page's navigation.
    title
        Heading of the section.
    paragraphs
        Sentences shown before the tables.
    tables
        ``(id, title, frame)`` per table; ``title`` also names the workbook sheet.
    """

    id: str
    nav: str
    title: str
    paragraphs: list[str]
    tables: list[tuple[str, str, pd.DataFrame]]


def _growth_wide(comp: Comparison) -> pd.DataFrame:
    head = comp.clusters[comp.clusters["rank"] <= comp.top][["rank", "name", "economies"]]
    growth = comp.growth[comp.growth["rank"] <= comp.top]
    if not len(growth):
        return head.reset_index(drop=True)
    wide = growth.pivot(index="rank", columns="metric", values="growth_pct")
    for m in METRICS:
        if m in wide.columns:
            head = head.assign(**{f"{m}_growth_pct": head["rank"].map(wide[m]).astype(float)})
    return head.reset_index(drop=True)


def report_sections(result: RunResult) -> list[Section]:
    """The sections a run's comparisons add to the report and the workbook.

    *What changed* (with a previous run): the summary sentences, entrants to and exits from
    the top ``N`` in the GII's wording, the biggest movers, clusters per economy now and
    before, the growth of the top ``N`` and the previous top 10 by each metric. *Method
    comparison* (with ``also_method``): the top ``N`` ranked by both methods side by side.
    *Emerging clusters* (with ``emerging``): the clusters just below the top ``N``.

    Parameters
    ----------
    result
        A run that went through :func:`add_comparisons`.

    Returns
    -------
    list of Section
        Empty when the run has no comparisons.
    """
    sections: list[Section] = []
    extras = result.extras or {}
    comp = extras.get("comparison")
    if isinstance(comp, Comparison):
        n, before = comp.top, comp.previous_label
        entrants = comp.entrants.rename(columns={"previous_rank": f"rank_{before}"})
        exits = comp.exits[
            [
                "previous_rank",
                "previous_name",
                "previous_economies",
                "successor_rank",
                "fate",
                "text",
            ]
        ].rename(
            columns={
                "previous_rank": f"rank_{before}",
                "previous_name": "name",
                "previous_economies": "economies",
                "successor_rank": "rank_now",
            }
        )
        movers = comp.movers[
            ["direction", "name", "economies", "previous_rank", "rank", "rank_change"]
        ].rename(columns={"previous_rank": f"rank_{before}"})
        economies = comp.economies.rename(
            columns={"clusters": f"top_{n}_clusters", "previous_clusters": f"top_{n}_{before}"}
        )
        previous_top = comp.top_by_metric[comp.top_by_metric["run"] == "previous"][
            ["metric", "position", "name", "economies", "count", "share_pct"]
        ]
        sections.append(
            Section(
                id="changes",
                nav="What changed",
                title=f"What changed since {before}",
                paragraphs=[
                    f"Compared with {before}; clusters are matched across the two runs "
                    "through the locations they share (see docs/editions.md), so a cluster "
                    "that split or merged is not counted as an entrant or an exit.",
                    *comp.summary(),
                ],
                tables=[
                    ("entrants-table", f"Entrants to the top {n}", entrants),
                    ("exits-table", f"Exits from the top {n}", exits),
                    ("movers-table", "Biggest movers", movers),
                    ("economies-change-table", "Clusters per economy, now and before", economies),
                    ("growth-table", f"Growth of the top {n} (%)", _growth_wide(comp)),
                    ("previous-top10-table", f"Top 10 by each metric in {before}", previous_top),
                ],
            )
        )
    mc = extras.get("method_comparison")
    if isinstance(mc, MethodComparison):
        top = int(result.settings.top)
        table = mc.table[mc.table["rank"] <= top].rename(
            columns={
                "rank": f"rank ({mc.label})",
                "score": f"score ({mc.label})",
                "alt_rank": f"rank ({mc.alt_label})",
                "alt_score": f"score ({mc.alt_label})",
            }
        )
        sections.append(
            Section(
                id="method-comparison",
                nav="Method comparison",
                title=f"Method comparison: {mc.label} and {mc.alt_label}",
                paragraphs=[
                    f"The same clusters ranked by {mc.label} (this run) and by {mc.alt_label}, "
                    "as the GII's 2025 Appendix IV Table 2 ranks its clusters with the "
                    "two-metric method of 2024. rank_difference is the other method's rank "
                    "minus this run's: positive when the cluster ranks higher here."
                ],
                tables=[("method-table", "Method comparison", table.reset_index(drop=True))],
            )
        )
    emerging = extras.get("emerging")
    if isinstance(emerging, pd.DataFrame):
        top = int(result.settings.top)
        sections.append(
            Section(
                id="emerging",
                nav="Emerging clusters",
                title="Emerging clusters",
                paragraphs=[
                    f"The {len(emerging)} clusters ranked just below the top {top}"
                    + (
                        ", with their growth."
                        if any(str(c).endswith("_growth_pct") for c in emerging.columns)
                        else "."
                    )
                ],
                tables=[("emerging-table", "Emerging clusters", emerging)],
            )
        )
    return sections


# --- writing ----------------------------------------------------------------------------


def _csv(frame: pd.DataFrame, path: Path, synthetic: bool) -> Path:
    from innoclusters.publish._atomic import atomic_write_text
    from innoclusters.publish.tables import SYNTHETIC_NOTICE

    text = frame.to_csv(index=False, lineterminator="\n", float_format="%.4f")
    atomic_write_text(path, (SYNTHETIC_NOTICE + "\n" + text) if synthetic else text)
    return path


def _comparison_files(comp: Comparison) -> dict[str, pd.DataFrame]:
    return {
        "changes.csv": comp.clusters,
        "previous_clusters.csv": comp.previous,
        "entrants.csv": comp.entrants,
        "exits.csv": comp.exits,
        "movers.csv": comp.movers,
        "economies.csv": comp.economies,
        "top_by_metric.csv": comp.top_by_metric,
        "growth.csv": comp.growth,
    }


def write_comparison(
    result_or_comparison: RunResult | Comparison, out_dir: str | Path, *, synthetic: bool = False
) -> list[Path]:
    """Write the comparison tables of a run (or of a :class:`Comparison`) as CSV files.

    Files, each written only when its table exists: ``changes.csv``,
    ``previous_clusters.csv``, ``entrants.csv``, ``exits.csv``, ``movers.csv``,
    ``economies.csv``, ``top_by_metric.csv``, ``growth.csv`` (see :class:`Comparison`),
    ``method_comparison.csv``, ``emerging.csv`` and ``profiles.csv``; a :class:`Comparison`
    alone also gets ``comparison.json`` (labels, counts and the summary sentences).

    Parameters
    ----------
    result_or_comparison
        A run whose ``extras`` hold the tables, or a comparison of two run folders.
    out_dir
        The output folder (created if missing).
    synthetic
        Mark the files as made from synthetic data (a run's own manifest decides for a run).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if isinstance(result_or_comparison, Comparison):
        comp = result_or_comparison
        for name, frame in _comparison_files(comp).items():
            written.append(_csv(frame, out / name, synthetic))
        from innoclusters.publish._atomic import atomic_write_text

        info = {
            "label": comp.label,
            "previous_label": comp.previous_label,
            "top": comp.top,
            "entrants": len(comp.entrants),
            "exits": len(comp.exits),
            "min_shared": MIN_SHARED,
            "synthetic": synthetic,
            "summary": comp.summary(),
        }
        atomic_write_text(out / "comparison.json", json.dumps(info, indent=2) + "\n")
        written.append(out / "comparison.json")
        return written
    result = result_or_comparison
    synthetic = synthetic or bool(result.manifest.get("synthetic"))
    extras = result.extras
    comparison = extras.get("comparison")
    if isinstance(comparison, Comparison):
        for name, frame in _comparison_files(comparison).items():
            written.append(_csv(frame, out / name, synthetic))
    mc = extras.get("method_comparison")
    if isinstance(mc, MethodComparison):
        table = mc.table.rename(
            columns={
                "rank": f"rank ({mc.label})",
                "score": f"score ({mc.label})",
                "alt_rank": f"rank ({mc.alt_label})",
                "alt_score": f"score ({mc.alt_label})",
            }
        )
        written.append(_csv(table, out / "method_comparison.csv", synthetic))
    for key in ("emerging", "profiles"):
        extra = extras.get(key)
        if isinstance(extra, pd.DataFrame):
            written.append(_csv(extra, out / f"{key}.csv", synthetic))
    return written
