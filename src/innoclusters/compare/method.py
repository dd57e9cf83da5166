"""Method comparison
-----------------
``also_method`` re-ranks the run's own areas with another set of metrics or weights, as
the GII's 2025 Appendix IV Table 2 ranks the 2025 clusters with the two-metric method of
2024. It isolates the effect of the score; a separate run with other settings compared with
:func:`compare_runs` measures the whole method change, areas included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from innoclusters.config import METRICS
from innoclusters.errors import SettingsError

__all__ = ["MethodComparison", "method_comparison"]


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
