"""Ranking: per-cluster counts and shares of world activity, the score, and the rank.

For each cluster (area) and ranking metric: the count is the summed fractional weight of the
metric's locations in the area; the share is that count in percent of the metric's world
total (noise included). The score is the sum of the shares times the metric weights (equal by
default, as the GII does: Tokyo-Yokohama 2023 = 10.1 + 1.5 = 11.7). Clusters rank by score,
ties broken by ``cluster_id``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from innoclusters.config import METRICS, Settings
from innoclusters.result import CLUSTER_COLUMNS

__all__ = ["coordinate_label", "economies_of", "names_from_cities", "rank_clusters"]


def coordinate_label(lat: float, lon: float) -> str:
    """A readable label for a place with no name: ``35.69°N 139.69°E``."""
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.2f}°{ns} {abs(lon):.2f}°{ew}"


def _shares_by(located: pd.DataFrame, column: str) -> pd.DataFrame:
    """Activity of each value of ``column`` per cluster, as a share of the cluster's activity."""
    sub = located[located[column].notna()]
    by = sub.groupby(["cluster_id", column], sort=True)["activity"].sum().reset_index()
    total = by.groupby("cluster_id")["activity"].transform("sum")
    by["share"] = np.where(total > 0, by["activity"] / total, 0.0)
    return by.sort_values(["cluster_id", "share", column], ascending=[True, False, True])


def economies_of(located: pd.DataFrame, *, min_share: float) -> pd.Series:
    """ISO codes of the economies holding at least ``min_share`` of each cluster's activity.

    The largest economy is always listed; codes are joined with ``/``, largest first.
    """
    by = _shares_by(located, "country")
    first = by.groupby("cluster_id").cumcount() == 0
    keep = by[first | (by["share"] >= min_share)]
    return keep.groupby("cluster_id", sort=True)["country"].agg("/".join)


def names_from_cities(located: pd.DataFrame, *, max_places: int, min_share: float) -> pd.Series:
    """Name clusters after their most active ``city`` values, joined with an en dash.

    A city joins the name when it holds at least ``min_share`` of the cluster's activity
    (the most active always does), at most ``max_places``; clusters without any city get a
    coordinate label from :func:`coordinate_label` (filled in by the caller).
    """
    by = _shares_by(located, "city")
    pos = by.groupby("cluster_id").cumcount()
    keep = by[(pos == 0) | ((by["share"] >= min_share) & (pos < max_places))]
    return keep.groupby("cluster_id", sort=True)["city"].agg("–".join)


def unique_names(names: pd.Series, economies: pd.Series) -> pd.Series:
    """Make names unique: a repeated name gets its economies, then a number, appended."""
    out = names.copy()
    dup = out.duplicated(keep=False)
    out[dup] = [f"{n} ({economies.get(i, '')})" for i, n in out[dup].items()]
    count: dict[str, int] = {}
    final = []
    for name in out:
        count[name] = count.get(name, 0) + 1
        final.append(name if count[name] == 1 else f"{name} #{count[name]}")
    return pd.Series(final, index=out.index)


def rank_clusters(
    located: pd.DataFrame,
    *,
    totals: Mapping[str, float],
    metrics: Sequence[str],
    settings: Settings,
    centres: pd.DataFrame,
) -> pd.DataFrame:
    """Counts, shares, score and rank of every cluster.

    Parameters
    ----------
    located
        Locations with ``cluster_id`` and ``activity`` (from :func:`areas.assign_areas`).
    totals
        World total weight per metric.
    metrics
        The ranking metrics; other metrics' columns are left empty.
    settings
        Supplies metric weights and the thresholds for economies and names.
    centres
        ``centre_lat, centre_lon`` indexed by ``cluster_id``.

    Returns
    -------
    pandas.DataFrame
        One row per cluster in rank order with :data:`CLUSTER_COLUMNS`.
    """
    inside = located[located["cluster_id"].notna()]
    ids = pd.Index(sorted(inside["cluster_id"].unique()), name="cluster_id")
    counts = (
        inside.groupby(["cluster_id", "metric"], sort=True)["weight"]
        .sum()
        .unstack("metric")
        .reindex(index=ids, columns=list(METRICS))
        .fillna(0.0)
    )
    table = pd.DataFrame(index=ids)
    score = np.zeros(len(ids))
    for m in METRICS:
        if m in metrics:
            table[m] = counts[m].to_numpy()
            total = float(totals.get(m, 0.0))
            share = 100.0 * counts[m].to_numpy() / total if total > 0 else np.zeros(len(ids))
            table[f"{m}_share"] = share
            score = score + settings.weight_of(m) * share
        else:
            table[m] = np.nan
            table[f"{m}_share"] = np.nan
    table["score"] = score
    economies = economies_of(inside, min_share=settings.economy_min_share).reindex(ids)
    table["economies"] = economies.fillna("")
    names = names_from_cities(
        inside, max_places=settings.name_max_places, min_share=settings.name_min_share
    ).reindex(ids)
    lat = centres["centre_lat"].reindex(ids)
    lon = centres["centre_lon"].reindex(ids)
    fallback = pd.Series([coordinate_label(a, b) for a, b in zip(lat, lon, strict=True)], index=ids)
    table["name"] = unique_names(names.fillna(fallback), table["economies"])
    table["population"] = np.nan
    table["intensity"] = np.nan
    table["intensity_rank"] = pd.array([pd.NA] * len(ids), dtype="Int64")
    table["lat"] = lat
    table["lon"] = lon
    table = table.reset_index()
    table = table.sort_values(["score", "cluster_id"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1, dtype=np.int64))
    return table[list(CLUSTER_COLUMNS)].reset_index(drop=True)
