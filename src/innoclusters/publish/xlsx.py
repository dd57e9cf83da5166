"""``clusters.xlsx``: the ranking and its published views as an Excel workbook.

Sheets: *Ranking* (every cluster, the ``clusters.csv`` columns), *Top 10 per metric*,
*Clusters per economy*, *Intensity* and *Settings* (from the manifest); a run compared with
a previous one or another method also gets, before *Settings*, one sheet per table of
:func:`innoclusters.publish.comparison.report_sections` (entrants, exits, movers, economies, growth,
previous top 10, method comparison, emerging clusters). Numbers are stored
as numbers with formats that match the CSV's decimals, header rows are frozen and filtered,
and missing values are left as empty cells.

Text is always written as text, never as a formula: a text cell that a spreadsheet would
read as a formula (the rule of :func:`innoclusters.publish.tables.is_formula_like`) keeps
its exact value and gets Excel's quote prefix, so it stays text even when edited. The
workbook is the same bytes for the same run: its creation date is fixed
(:data:`CREATED`) and run timings are left to ``manifest.json``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from innoclusters._io import atomic_path
from innoclusters.publish._views import (
    clusters_per_economy,
    flatten,
    intensity_ranking,
    ranking_table,
    top_by_metric,
    top_n,
)
from innoclusters.publish.comparison import report_sections
from innoclusters.publish.tables import DECIMALS, is_formula_like, scalar
from innoclusters.result import RunResult

__all__ = ["CREATED", "SHEETS", "write_xlsx"]

#: Creation date stored in the workbook's properties: fixed, so that identical runs give
#: byte-identical workbooks (XlsxWriter would store the time of writing).
CREATED = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)

#: Sheet names, in workbook order.
SHEETS: tuple[str, ...] = (
    "Ranking",
    "Top 10 per metric",
    "Clusters per economy",
    "Intensity",
    "Settings",
)

#: Excel number format per column; columns not listed are text or whole numbers.
_FORMATS: dict[str, str] = {
    "patents": "#,##0.000",
    "publications": "#,##0.000",
    "vc": "#,##0.000",
    "count": "#,##0.000",
    "patents_share": "0.0000",
    "publications_share": "0.0000",
    "vc_share": "0.0000",
    "share": "0.0000",
    "score": "0.0000",
    "population": "#,##0",
    "intensity": "#,##0.000",
    "patents_per_million": "#,##0.000",
    "publications_per_million": "#,##0.000",
    "vc_per_million": "#,##0.000",
    "lat": "0.0000",
    "lon": "0.0000",
    "rank": "0",
    "intensity_rank": "0",
    "position": "0",
    "top_clusters": "0",
    "all_clusters": "0",
}

_WIDTHS: dict[str, int] = {"name": 36, "economy_names": 30, "economy_name": 28, "cluster_id": 16}


def _cell(value: Any) -> Any:
    """A value XlsxWriter writes as a number, a string, a boolean or an empty cell."""
    value = scalar(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str)
    return str(value)


class _Book:
    """Thin helper over an XlsxWriter workbook with cached formats."""

    def __init__(self, path: Path) -> None:
        import xlsxwriter

        self.book = xlsxwriter.Workbook(
            str(path), {"strings_to_numbers": False, "strings_to_formulas": False}
        )
        self.header = self.book.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1})
        self.bold = self.book.add_format({"bold": True})
        self.warn = self.book.add_format({"bold": True, "font_color": "#9C0006"})
        self.quoted = self.book.add_format({"quote_prefix": True})
        self._formats: dict[str, Any] = {}

    def fmt(self, column: str) -> Any:
        spec = _FORMATS.get(column)
        if spec is None and column.endswith("_clusters"):
            spec = "0"
        if spec is None:
            return None
        if spec not in self._formats:
            self._formats[spec] = self.book.add_format({"num_format": spec})
        return self._formats[spec]

    def table(self, name: str, frame: pd.DataFrame, *, start_row: int = 0) -> Any:
        """Write ``frame`` with a frozen, filtered header row at ``start_row``."""
        sheet = self.book.add_worksheet(name)
        columns = [str(c) for c in frame.columns]
        for j, col in enumerate(columns):
            sheet.write_string(start_row, j, col, self.header)
            width = _WIDTHS.get(col, max(10, min(24, len(col) + 2)))
            sheet.set_column(j, j, width)
        for j, col in enumerate(columns):
            fmt = self.fmt(col)
            for i, value in enumerate(frame.iloc[:, j].tolist()):
                v = _cell(value)
                row = start_row + 1 + i
                if v is None:
                    sheet.write_blank(row, j, None, fmt)
                elif isinstance(v, bool):
                    sheet.write_boolean(row, j, v)
                elif isinstance(v, int | float):
                    sheet.write_number(row, j, v, fmt)
                elif is_formula_like(v):
                    sheet.write_string(row, j, v, self.quoted)
                else:
                    sheet.write_string(row, j, v)
        sheet.freeze_panes(start_row + 1, 0)
        if columns:
            sheet.autofilter(start_row, 0, start_row + max(len(frame), 1), len(columns) - 1)
        return sheet

    def close(self) -> None:
        self.book.close()


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Round the figures to the decimals of ``clusters.csv``, so both files agree."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(DECIMALS.get(col, 4))
    return out


def _top_sheet(per_metric: dict[str, pd.DataFrame]) -> pd.DataFrame:
    frames = [f.assign(metric=m)[["metric", *f.columns]] for m, f in per_metric.items()]
    if not frames:
        return pd.DataFrame(
            columns=["metric", "position", "rank", "cluster_id", "name", "economies"]
        )
    return pd.concat(frames, ignore_index=True)


def _sheet_name(title: str, used: set[str]) -> str:
    """A valid, unused sheet name (at most 31 characters, none of ``[]:*?/\\``)."""
    base = "".join(ch for ch in title if ch not in "[]:*?/\\").strip()[:31] or "Sheet"
    name, k = base, 2
    while name.lower() in {u.lower() for u in used}:
        suffix = f" ({k})"
        name, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(name)
    return name


def _settings_rows(result: RunResult) -> list[tuple[str, Any]]:
    manifest = result.manifest
    rows: list[tuple[str, Any]] = []
    if manifest.get("synthetic"):
        rows.append(("synthetic", True))
        if manifest.get("notice"):
            rows.append(("notice", manifest["notice"]))
    rows.append(("metrics", ", ".join(result.metrics)))
    for section in (
        "settings",
        "rows",
        "documents",
        "totals",
        "windows",
        "min_weight_used",
        "clusters",
        "inputs",
        "geocoding",
        "versions",
    ):
        if section in manifest:
            rows.extend(flatten(manifest[section], section))
    return rows


def write_xlsx(result: RunResult, path: str | Path) -> Path:
    """Write ``clusters.xlsx`` atomically.

    Parameters
    ----------
    result
        The run to publish.
    path
        The workbook to write.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    The *Ranking* sheet holds the figures of ``clusters.csv`` (same decimals); the
    other sheets keep full precision and show it with the same formats. A cluster
    spanning several economies counts once for each in *Clusters per economy*.
    """
    clusters = result.clusters
    metrics: Sequence[str] = result.metrics
    top = top_n(clusters, top=result.settings.top)
    with atomic_path(path) as tmp:
        book = _Book(tmp)
        try:
            book.book.set_properties(
                {
                    "title": "innoclusters ranking",
                    "created": CREATED,
                    "comments": str(result.manifest.get("notice", "")),
                }
            )
            ranking = book.table("Ranking", _rounded(ranking_table(clusters)))
            ranking.set_column(0, 0, 7)
            book.table("Top 10 per metric", _top_sheet(top_by_metric(clusters, metrics, n=10)))
            per_economy = clusters_per_economy(clusters, top=top).rename(
                columns={"top_clusters": f"top_{top}_clusters"}
            )
            book.table("Clusters per economy", per_economy)
            book.table("Intensity", intensity_ranking(clusters, metrics))
            used = set(SHEETS)
            for section in report_sections(result):
                for _, title, frame in section.tables:
                    book.table(_sheet_name(title, used), frame)
            settings = pd.DataFrame(
                [
                    (k, _cell(v) if not isinstance(v, list) else ", ".join(map(str, v)))
                    for k, v in _settings_rows(result)
                ],
                columns=["setting", "value"],
            )
            sheet = book.table("Settings", settings)
            sheet.set_column(0, 0, 44)
            sheet.set_column(1, 1, 60)
        finally:
            book.close()
    return Path(path)
