"""``links.csv``: why each cluster is one cluster, so anyone can check a merge.

One row per pair of overlapping metric clusters of an area (see
:func:`innoclusters.areas.merge_links`): the two metric clusters (``metric`` and its
``metric_cluster`` label, as in ``locations.parquet``), the closest pair of their member
locations and its great-circle distance in km, which is at most the run's ``eps_km``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from innoclusters._io import atomic_write_text
from innoclusters.areas import LINK_COLUMNS, merge_links
from innoclusters.publish.tables import csv_text
from innoclusters.result import RunResult

__all__ = ["links_of", "write_links"]


def links_of(result: RunResult) -> pd.DataFrame:
    """The run's merge links: ``extras["links"]``, else computed from its locations."""
    links = result.extras.get("links") if result.extras else None
    if isinstance(links, pd.DataFrame):
        return links
    needed = {"metric", "lat", "lon", "metric_cluster", "cluster_id"}
    if result.locations is None or not needed <= set(result.locations.columns):
        return pd.DataFrame(columns=list(LINK_COLUMNS))
    return merge_links(result.locations, eps_km=result.settings.eps_km)


def write_links(result: RunResult, path: str | Path) -> Path:
    """Write ``links.csv`` atomically (distances in km with 3 decimals)."""
    frame = links_of(result).copy()
    frame["distance_km"] = [f"{float(v):.3f}" for v in frame["distance_km"]]
    synthetic = bool(result.manifest.get("synthetic"))
    atomic_write_text(path, csv_text(frame, synthetic=synthetic))
    return Path(path)
