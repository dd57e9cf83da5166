"""The published views of a ranking, shared by the workbook and the HTML report.

The GII publishes, besides the ranking itself, the top 10 clusters by each metric (Box 1),
the number of top clusters per economy and the intensity ranking. Each view here is a plain
frame built from ``RunResult.clusters``, so ``clusters.xlsx`` and ``report.html`` show the
same figures.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from innoclusters.publish.geojson import csv_fields

__all__ = [
    "clusters_per_economy",
    "economy_codes",
    "flatten",
    "intensity_ranking",
    "ranking_table",
    "top_by_metric",
    "top_n",
]

_SEPARATORS = re.compile(r"[/;,]")


def top_n(clusters: pd.DataFrame, *, top: int) -> int:
    """Size of the headline ranking: the ``top`` setting, at most the clusters found."""
    return max(0, min(int(top), len(clusters)))


def ranking_table(clusters: pd.DataFrame) -> pd.DataFrame:
    """Every cluster with exactly the ``clusters.csv`` columns, in rank order."""
    return pd.DataFrame(clusters[csv_fields(clusters)]).reset_index(drop=True)


def economy_codes(economies: object) -> list[str]:
    """Split an ``economies`` cell (``"CN/HK"``) into its codes."""
    if not isinstance(economies, str):
        return []
    return [code.strip() for code in _SEPARATORS.split(economies) if code.strip()]


def top_by_metric(
    clusters: pd.DataFrame, metrics: Sequence[str], *, n: int = 10
) -> dict[str, pd.DataFrame]:
    """The ``n`` clusters with the most activity of each metric (the GII's Box 1).

    Returns
    -------
    dict
        ``metric -> frame`` with ``position, rank, cluster_id, name, economies, count,
        share``; ties in count are broken by overall rank.
    """
    out: dict[str, pd.DataFrame] = {}
    for metric in metrics:
        if metric not in clusters.columns:
            continue
        frame = pd.DataFrame(
            {
                "rank": clusters["rank"].to_numpy(),
                "cluster_id": clusters["cluster_id"].to_numpy(),
                "name": clusters["name"].to_numpy(),
                "economies": clusters["economies"].to_numpy(),
                "count": pd.to_numeric(clusters[metric], errors="coerce").to_numpy(),
                "share": pd.to_numeric(clusters[f"{metric}_share"], errors="coerce").to_numpy(),
            }
        )
        frame = frame[frame["count"].notna() & (frame["count"] > 0)]
        frame = frame.sort_values(["count", "rank"], ascending=[False, True], kind="mergesort")
        frame = frame.head(n).reset_index(drop=True)
        frame.insert(0, "position", range(1, len(frame) + 1))
        out[metric] = frame
    return out


def clusters_per_economy(clusters: pd.DataFrame, *, top: int) -> pd.DataFrame:
    """How many of the top ``top`` clusters each economy has, and how many clusters in all.

    A cluster spanning several economies (``CN/HK``) counts once for each of them.

    Returns
    -------
    pandas.DataFrame
        ``economy, economy_name, top_clusters, all_clusters``, most top clusters first.
    """
    names: dict[str, str] = {}
    top_counts: dict[str, int] = {}
    all_counts: dict[str, int] = {}
    has_names = "economy_names" in clusters.columns
    for pos, (_, row) in enumerate(clusters.iterrows()):
        codes = economy_codes(row["economies"])
        labels = economy_codes(row["economy_names"]) if has_names else []
        if len(labels) != len(codes):
            labels = codes
        for code, label in zip(codes, labels, strict=True):
            names.setdefault(code, label)
            all_counts[code] = all_counts.get(code, 0) + 1
            if pos < top:
                top_counts[code] = top_counts.get(code, 0) + 1
    frame = pd.DataFrame(
        {
            "economy": list(all_counts),
            "economy_name": [names[c] for c in all_counts],
            "top_clusters": [top_counts.get(c, 0) for c in all_counts],
            "all_clusters": list(all_counts.values()),
        }
    )
    if frame.empty:
        return frame
    frame = frame.sort_values(
        ["top_clusters", "all_clusters", "economy"],
        ascending=[False, False, True],
        kind="mergesort",
    )
    return frame.reset_index(drop=True)


def intensity_ranking(clusters: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Clusters with a known population, by activity per million inhabitants.

    Returns
    -------
    pandas.DataFrame
        ``intensity_rank, rank, cluster_id, name, economies, population, intensity`` and
        ``<metric>_per_million`` for each metric; empty when no population is known.
    """
    population = pd.to_numeric(clusters["population"], errors="coerce")
    intensity = pd.to_numeric(clusters["intensity"], errors="coerce")
    known = (population > 0) & intensity.notna()
    base = clusters[known]
    frame = pd.DataFrame(
        {
            "intensity_rank": base["intensity_rank"].to_numpy(),
            "rank": base["rank"].to_numpy(),
            "cluster_id": base["cluster_id"].to_numpy(),
            "name": base["name"].to_numpy(),
            "economies": base["economies"].to_numpy(),
            "population": population[known].to_numpy(),
            "intensity": intensity[known].to_numpy(),
        }
    )
    for metric in metrics:
        if metric in base.columns:
            counts = pd.to_numeric(base[metric], errors="coerce").to_numpy()
            frame[f"{metric}_per_million"] = counts / frame["population"].to_numpy() * 1e6
    order = pd.to_numeric(frame["intensity_rank"], errors="coerce")
    frame = frame.assign(_order=order.fillna(float("inf")).to_numpy(), _i=-frame["intensity"])
    frame = frame.sort_values(["_order", "_i", "rank"], kind="mergesort")
    return frame.drop(columns=["_order", "_i"]).reset_index(drop=True)


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Flatten nested mappings into ``("a.b.c", value)`` pairs; lists of scalars stay lists."""
    if isinstance(value, Mapping):
        for key, sub in value.items():
            yield from flatten(sub, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
        for i, sub in enumerate(value):
            yield from flatten(sub, f"{prefix}[{i}]")
    else:
        yield prefix, value
