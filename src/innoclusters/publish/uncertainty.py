"""Uncertainty outputs: ``uncertainty.csv``, ``sensitivity.csv``, ``whatif.csv`` and the
report's pieces (rank intervals in the ranking table and on the card, the what-if panel).

Written when the run has rank uncertainty (``--uncertainty N``); see
:mod:`innoclusters.uncertainty` for what the columns mean. The report's pieces live in their
own template partial (``templates/uncertainty.html.j2``) and script (``static/whatif.js``);
:func:`uncertainty_view` gives the partial its data.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from innoclusters._io import atomic_write_text
from innoclusters.publish.tables import csv_text
from innoclusters.result import RunResult

__all__ = ["uncertainty_csv_text", "uncertainty_view", "write_uncertainty"]


def uncertainty_csv_text(frame: pd.DataFrame, *, synthetic: bool = False) -> str:
    """CSV text with fixed decimals (4), empty cells for missing values, and formula-like
    text cells (a cluster name from the data starting with ``=``, ``+``, ``-``, ``@``, ...)
    neutralised by the rule of every other CSV (:func:`innoclusters.publish.tables.csv_text`).
    """
    return csv_text(frame, synthetic=synthetic, float_format="%.4f")


def write_uncertainty(result: RunResult, out: str | Path) -> list[Path]:
    """Write the uncertainty tables of ``result`` into ``out`` (none without uncertainty).

    Returns
    -------
    list of Path
        ``uncertainty.csv`` (one row per cluster), ``sensitivity.csv`` (one row per
        cluster and choice) and ``whatif.csv`` (one row per cluster of each what-if run).
    """
    found = result.extras.get("uncertainty")
    if found is None:
        return []
    synthetic = bool(result.manifest.get("synthetic"))
    folder = Path(out)
    written = []
    for name, frame in (
        ("uncertainty.csv", found.clusters),
        ("sensitivity.csv", found.sensitivity),
        ("whatif.csv", found.whatif),
    ):
        path = folder / name
        atomic_write_text(path, uncertainty_csv_text(frame, synthetic=synthetic))
        written.append(path)
    return written


def _int(value: Any) -> int | None:
    if value is None or value is pd.NA:
        return None
    v = float(value)
    return None if math.isnan(v) else int(v)


def _p(value: Any) -> float | None:
    v = float(value)
    return None if math.isnan(v) else round(v, 3)


def uncertainty_view(result: RunResult) -> dict[str, Any] | None:
    """What ``templates/uncertainty.html.j2`` shows, or ``None`` without uncertainty.

    Returns
    -------
    dict or None
        ``data`` (JSON-ready: per cluster its intervals and probabilities, the what-if
        runs with each cluster's shares per metric), ``js`` (``static/whatif.js``),
        ``settings`` (ranges and counts), ``runs`` (number of what-if runs), and
        ``sensitivity`` (the choices that move the top clusters most).
    """
    found = result.extras.get("uncertainty")
    if found is None:
        return None
    table = found.clusters
    metrics = list(result.metrics)
    top = result.settings.top
    clusters = {
        str(r.cluster_id): {
            "rank": int(r.rank),
            "name": str(r.name),
            "both": [_int(r.rank_lo), _int(r.rank_hi), _p(r.both_p_top)],
            "data": [_int(r.data_rank_lo), _int(r.data_rank_hi), _p(r.data_p_top)],
            "method": [_int(r.method_rank_p5), _int(r.method_rank_p95), _p(r.method_p_top)],
            "exists": _p(r.both_p_exists),
            "uncertain": bool(r.top_uncertain),
        }
        for r in table.itertuples(index=False)
    }
    runs: dict[str, dict[str, list[Any]]] = {}
    what = found.whatif
    for (eps, dens, vc), grp in what.groupby(["eps_km", "density", "vc"], sort=True):
        key = f"{float(eps):g}|{float(dens):g}|{int(bool(vc))}"
        runs[key] = {
            "id": [str(c) for c in grp["nominal_id"]],
            "name": [str(n) for n in grp["name"]],
            **{m: [round(float(v), 5) for v in grp[f"{m}_share"]] for m in metrics},
        }
    eps_values = sorted({float(v) for v in what["eps_km"]}) if len(what) else []
    density_values = sorted({float(v) for v in what["density"]}) if len(what) else []
    data = {
        "top": top,
        "metrics": metrics,
        "weights": {m: result.settings.weight_of(m) for m in metrics},
        "eps": eps_values,
        "density": density_values,
        "nominal": {"eps": float(result.settings.eps_km), "density": 1.0},
        "vc_variants": sorted({bool(v) for v in what["vc"]}) if len(what) else [],
        "order": [str(c) for c in table["cluster_id"]],
        "clusters": clusters,
        "runs": runs,
    }
    sens = found.sensitivity
    drivers: list[dict[str, Any]] = []
    if len(sens):
        head = sens[sens["rank"] <= min(top, 10)]
        for choice, grp in head.groupby("choice", sort=True):
            swing = pd.to_numeric(grp["swing"], errors="coerce")
            drivers.append(
                {
                    "choice": str(choice),
                    "values": str(grp["values"].iloc[0]),
                    "median_swing": float(swing.median()) if swing.notna().any() else 0.0,
                    "max_swing": int(swing.max()) if swing.notna().any() else 0,
                    "vanish": int(grp["vanishes"].sum()),
                }
            )
    js = resources.files("innoclusters.publish").joinpath("static", "whatif.js")
    return {
        "data": data,
        "js": js.read_text(encoding="utf-8").replace("</script", "<\\/script"),
        "settings": found.settings,
        "runs": len(runs),
        "drivers": drivers,
        "replicates": int(found.settings.get("replicates_per_source", 0)),
    }
