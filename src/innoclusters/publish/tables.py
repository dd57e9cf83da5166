"""Tables: ``clusters.csv``, ``locations.parquet``, ``rejects.csv`` and ``manifest.json``.

Numbers are written with fixed decimals so that the same inputs and settings give
byte-identical files, whatever the row order of the input or the thread count.

Every CSV file of an output folder is written through :func:`csv_text`, which applies the
one rule against spreadsheet formula injection (OWASP, "CSV Injection"): a text cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single
quote (``'=HYPERLINK(...)``), so that a spreadsheet shows it as text instead of running it.
Numbers stay numbers: numeric columns are never touched, and a text cell that is a plain
decimal number (``-12``, ``+3.5``, ``1e-3``) is left as it is, since a spreadsheet reads it
as that number and runs nothing. The workbook marks the same cells as text with Excel's
quote prefix instead (:mod:`innoclusters.publish.xlsx`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from innoclusters._io import atomic_path, atomic_write_text
from innoclusters.result import CLUSTER_COLUMNS, RunResult

__all__ = [
    "DECIMALS",
    "FORMULA_PREFIXES",
    "SYNTHETIC_NOTICE",
    "clusters_csv_text",
    "csv_text",
    "is_formula_like",
    "neutralise_formulas",
    "scalar",
    "write_clusters_csv",
    "write_locations",
    "write_manifest",
    "write_rejects",
]

#: First line of every CSV made from synthetic data (read with ``comment="#"``).
SYNTHETIC_NOTICE = "# SYNTHETIC DATA: made by the innoclusters demo generator, not real activity"

#: Decimals of the numeric columns of ``clusters.csv``; the workbook, GeoJSON and report
#: show the same figures.
DECIMALS: dict[str, int] = {
    "patents": 3,
    "publications": 3,
    "vc": 3,
    "patents_share": 4,
    "publications_share": 4,
    "vc_share": 4,
    "score": 4,
    "population": 0,
    "intensity": 3,
    "lat": 4,
    "lon": 4,
}


#: First characters that make a spreadsheet read a text cell as a formula (OWASP).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def is_formula_like(value: Any) -> bool:
    """Whether ``value`` is text that a spreadsheet would run as a formula.

    True for a string starting with one of :data:`FORMULA_PREFIXES`, unless the whole
    string is a plain decimal number such as ``-12`` or ``+3.5e2``.

    Examples
    --------
    >>> is_formula_like('=HYPERLINK("http://x", "y")'), is_formula_like("-12.5")
    (True, False)
    """
    return (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and _PLAIN_NUMBER.fullmatch(value) is None
    )


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose formula-like text cells (and column names) start with ``'``.

    Only cells for which :func:`is_formula_like` holds change; numeric columns and every
    other value are kept as they are.
    """
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        cells = values.to_numpy(dtype=object)
        mask = np.fromiter((is_formula_like(v) for v in cells), dtype=bool, count=len(cells))
        if mask.any():
            cells = cells.copy()
            cells[mask] = ["'" + v for v in cells[mask]]
            out[col] = cells
    out.columns = [("'" + str(c)) if is_formula_like(c) else c for c in out.columns]
    return out


def csv_text(
    frame: pd.DataFrame, *, synthetic: bool = False, float_format: str | None = None
) -> str:
    """The CSV text of ``frame`` (no index, ``\\n`` line ends) with formula cells neutralised.

    Parameters
    ----------
    frame
        The table.
    synthetic
        Start with :data:`SYNTHETIC_NOTICE`.
    float_format
        ``printf`` format of float columns (pandas' default when ``None``).
    """
    body = neutralise_formulas(frame).to_csv(
        index=False, lineterminator="\n", float_format=float_format
    )
    return (SYNTHETIC_NOTICE + "\n" + body) if synthetic else body


def scalar(value: Any) -> Any:
    """A plain Python value for one cell: NaN, NA and NaT become ``None``, NumPy scalars
    become ``bool``, ``int`` or ``float``; anything else is returned as it is."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if np.isfinite(v) else None
    return value


def _fmt(values: pd.Series, decimals: int) -> list[str]:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return ["" if not np.isfinite(v) else f"{v:.{decimals}f}" for v in arr]


def clusters_csv_text(clusters: pd.DataFrame, *, synthetic: bool = False) -> str:
    """The text of ``clusters.csv``: :data:`CLUSTER_COLUMNS` first, later columns after.

    Parameters
    ----------
    clusters
        Ranked clusters (a geometry column, if any, is left out).
    synthetic
        Start with :data:`SYNTHETIC_NOTICE`.
    """
    extra = [
        c
        for c in clusters.columns
        if c not in CLUSTER_COLUMNS and c != "geometry" and not c.startswith("_")
    ]
    frame = pd.DataFrame(index=clusters.index)
    for col in [*CLUSTER_COLUMNS, *extra]:
        values = clusters[col]
        if col in DECIMALS:
            frame[col] = _fmt(values, DECIMALS[col])
        elif pd.api.types.is_float_dtype(values):
            frame[col] = _fmt(values, 4)
        else:
            text = neutralise_formulas(pd.DataFrame({col: values}))[col]
            frame[col] = text.astype("object").where(values.notna(), "")
    body = frame.to_csv(index=False, lineterminator="\n")
    return (SYNTHETIC_NOTICE + "\n" + body) if synthetic else body


def write_clusters_csv(result: RunResult, path: str | Path) -> Path:
    """Write ``clusters.csv`` atomically."""
    atomic_write_text(path, clusters_csv_text(result.clusters, synthetic=_synthetic(result)))
    return Path(path)


def write_locations(result: RunResult, path: str | Path) -> Path:
    """Write every location with its metric cluster and area to Parquet, atomically."""
    with atomic_path(path) as tmp:
        result.locations.reset_index(drop=True).to_parquet(tmp, index=False)
    return Path(path)


def write_rejects(result: RunResult, path: str | Path) -> Path:
    """Write the rejected rows (file, line, metric, doc_id, reason) atomically."""
    atomic_write_text(path, csv_text(result.rejects, synthetic=_synthetic(result)))
    return Path(path)


def _default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_manifest(result: RunResult, path: str | Path) -> Path:
    """Write ``manifest.json`` (settings, inputs, counts, totals, timings) atomically."""
    atomic_write_text(path, json.dumps(result.manifest, indent=2, default=_default) + "\n")
    return Path(path)


def _synthetic(result: RunResult) -> bool:
    return bool(result.manifest.get("synthetic"))
