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
from innoclusters.places.economies import economies_of
from innoclusters.places.names import name_clusters
from innoclusters.result import CLUSTER_COLUMNS

__all__ = ["rank_clusters"]


def rank_clusters(
    located: pd.DataFrame,
    *,
    totals: Mapping[str, float],
    metrics: Sequence[str],
    settings: Settings,
    centres: pd.DataFrame,
    gazetteer: bool = True,
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
    gazetteer
        Name clusters after gazetteer places (:func:`~innoclusters.places.name_clusters`);
        False names them from the records' ``city`` column and coordinates only (faster,
        for calibration).

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
    lat = centres["centre_lat"].reindex(ids)
    lon = centres["centre_lon"].reindex(ids)
    table["name"] = name_clusters(
        inside,
        centres=pd.DataFrame({"centre_lat": lat, "centre_lon": lon}),
        max_places=settings.name_max_places,
        min_share=settings.name_min_share,
        max_km=settings.name_max_km,
        min_population_ratio=settings.name_min_population_ratio,
        gazetteer=gazetteer,
    )
    table["population"] = np.nan
    table["intensity"] = np.nan
    table["intensity_rank"] = pd.array([pd.NA] * len(ids), dtype="Int64")
    table["lat"] = lat
    table["lon"] = lon
    table = table.reset_index()
    table = table.sort_values(["score", "cluster_id"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1, dtype=np.int64))
    return table[list(CLUSTER_COLUMNS)].reset_index(drop=True)
