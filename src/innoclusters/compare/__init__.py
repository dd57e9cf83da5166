"""Comparisons: between two runs (editions) and between two methods on the same areas.

Frames only: nothing here renders or writes files (see :mod:`innoclusters.publish`).

* :mod:`~innoclusters.compare.runs`: a run as comparisons see it (:func:`read_run`).
* :mod:`~innoclusters.compare.matching`: matching clusters through shared locations.
* :mod:`~innoclusters.compare.changes`: changes between editions, growth, emerging clusters.
* :mod:`~innoclusters.compare.method`: the same areas ranked by another method.
* :mod:`~innoclusters.compare.attach`: all of these added to a run, as its settings ask.
"""

from __future__ import annotations

from innoclusters.compare.attach import add_comparisons
from innoclusters.compare.changes import (
    TOP_BY_METRIC,
    Comparison,
    compare_runs,
    emerging_clusters,
    growth_by_area,
    ordinal,
)
from innoclusters.compare.matching import MIN_SHARED, match_clusters
from innoclusters.compare.method import MethodComparison, method_comparison
from innoclusters.compare.runs import RUN_FILES, RunView, read_run, view_of

__all__ = [
    "MIN_SHARED",
    "RUN_FILES",
    "TOP_BY_METRIC",
    "Comparison",
    "MethodComparison",
    "RunView",
    "add_comparisons",
    "compare_runs",
    "emerging_clusters",
    "growth_by_area",
    "match_clusters",
    "method_comparison",
    "ordinal",
    "read_run",
    "view_of",
]
