"""The result of one run: every table the pipeline produced, in memory."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from innoclusters.config import Settings

__all__ = ["CLUSTER_COLUMNS", "RunResult"]

#: Columns of ``clusters.csv``, in order (DESIGN.md section 4). Later features append columns.
CLUSTER_COLUMNS: tuple[str, ...] = (
    "rank",
    "cluster_id",
    "name",
    "economies",
    "patents",
    "publications",
    "vc",
    "patents_share",
    "publications_share",
    "vc_share",
    "score",
    "population",
    "intensity",
    "intensity_rank",
    "lat",
    "lon",
)


@dataclasses.dataclass
class RunResult:
    """Everything one run produced.

    Attributes
    ----------
    settings
        The validated settings of the run.
    metrics
        The metrics that rank, in output order.
    clusters
        GeoDataFrame, one row per cluster (area) in rank order: the :data:`CLUSTER_COLUMNS`,
        then ``economy_names`` and any later columns, and ``geometry`` (the footprint in
        longitude/latitude; an area crossing the antimeridian has longitudes unwrapped around
        its centre, so they may pass 180).
    locations
        One row per metric and rounded location: ``metric, lat, lon, weight, records,
        country, city, metric_cluster`` (-1 for noise), ``core``, ``cluster_id``
        (the area, ``None`` outside every area).
    totals
        World total weight per metric (noise included): the denominators of the shares.
    rejects
        Rejected input rows: ``file, line, metric, reason`` and the raw values.
    manifest
        JSON-ready description of the run (settings, inputs, counts, totals, timings,
        versions, ``synthetic``).
    """

    settings: Settings
    metrics: tuple[str, ...]
    clusters: Any
    locations: pd.DataFrame
    totals: dict[str, float]
    rejects: pd.DataFrame
    manifest: dict[str, Any]
    extras: dict[str, Any] = dataclasses.field(default_factory=dict)
