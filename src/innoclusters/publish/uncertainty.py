"""Uncertainty tables: ``uncertainty.csv``, ``sensitivity.csv`` and ``whatif.csv``.

Written when the run has rank uncertainty (``--uncertainty N``); see
:mod:`innoclusters.uncertainty` for what the columns mean.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from innoclusters.publish._atomic import atomic_write_text
from innoclusters.publish.tables import SYNTHETIC_NOTICE
from innoclusters.result import RunResult

__all__ = ["uncertainty_csv_text", "write_uncertainty"]


def uncertainty_csv_text(frame: pd.DataFrame, *, synthetic: bool = False) -> str:
    """CSV text with fixed decimals (4) and empty cells for missing values."""
    body = frame.to_csv(index=False, lineterminator="\n", float_format="%.4f", na_rep="")
    return (SYNTHETIC_NOTICE + "\n" + body) if synthetic else body


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
