"""Attaching the comparisons its settings ask for to a finished run."""

from __future__ import annotations

import dataclasses

import pandas as pd

from innoclusters.compare.changes import compare_runs, emerging_clusters
from innoclusters.compare.matching import MIN_SHARED
from innoclusters.compare.method import method_comparison
from innoclusters.compare.runs import RunView, view_of
from innoclusters.config import METRICS
from innoclusters.result import RunResult

__all__ = ["add_comparisons"]


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
