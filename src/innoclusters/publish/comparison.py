"""The comparison views of a run: report sections, workbook sheets and comparison CSVs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd

from innoclusters._io import atomic_write_text
from innoclusters.compare import MIN_SHARED, Comparison, MethodComparison
from innoclusters.config import METRICS
from innoclusters.publish.tables import csv_text
from innoclusters.result import RunResult

__all__ = ["Section", "report_sections", "write_comparison"]


@dataclasses.dataclass(frozen=True)
class Section:
    """A report section (and workbook sheets) made from a run's comparisons.

    Attributes
    ----------
    id
        HTML id of the section (``changes``, ``method-comparison``, ``emerging``).
    nav
        Short label for the page's navigation.
    title
        Heading of the section.
    paragraphs
        Sentences shown before the tables.
    tables
        ``(id, title, frame)`` per table; ``title`` also names the workbook sheet.
    """

    id: str
    nav: str
    title: str
    paragraphs: list[str]
    tables: list[tuple[str, str, pd.DataFrame]]


def _growth_wide(comp: Comparison) -> pd.DataFrame:
    head = comp.clusters[comp.clusters["rank"] <= comp.top][["rank", "name", "economies"]]
    growth = comp.growth[comp.growth["rank"] <= comp.top]
    if not len(growth):
        return head.reset_index(drop=True)
    wide = growth.pivot(index="rank", columns="metric", values="growth_pct")
    for m in METRICS:
        if m in wide.columns:
            head = head.assign(**{f"{m}_growth_pct": head["rank"].map(wide[m]).astype(float)})
    return head.reset_index(drop=True)


def report_sections(result: RunResult) -> list[Section]:
    """The sections a run's comparisons add to the report and the workbook.

    *What changed* (with a previous run): the summary sentences, entrants to and exits from
    the top ``N`` in the GII's wording, the biggest movers, clusters per economy now and
    before, the growth of the top ``N`` and the previous top 10 by each metric. *Method
    comparison* (with ``also_method``): the top ``N`` ranked by both methods side by side.
    *Emerging clusters* (with ``emerging``): the clusters just below the top ``N``.

    Parameters
    ----------
    result
        A run that went through :func:`add_comparisons`.

    Returns
    -------
    list of Section
        Empty when the run has no comparisons.
    """
    sections: list[Section] = []
    extras = result.extras or {}
    comp = extras.get("comparison")
    if isinstance(comp, Comparison):
        n, before = comp.top, comp.previous_label
        entrants = comp.entrants.rename(columns={"previous_rank": f"rank_{before}"})
        exits = comp.exits[
            [
                "previous_rank",
                "previous_name",
                "previous_economies",
                "successor_rank",
                "fate",
                "text",
            ]
        ].rename(
            columns={
                "previous_rank": f"rank_{before}",
                "previous_name": "name",
                "previous_economies": "economies",
                "successor_rank": "rank_now",
            }
        )
        movers = comp.movers[
            ["direction", "name", "economies", "previous_rank", "rank", "rank_change", "split_from"]
        ].rename(columns={"previous_rank": f"rank_{before}"})
        economies = comp.economies.rename(
            columns={"clusters": f"top_{n}_clusters", "previous_clusters": f"top_{n}_{before}"}
        )
        previous_top = comp.top_by_metric[comp.top_by_metric["run"] == "previous"][
            ["metric", "position", "name", "economies", "count", "share_pct"]
        ]
        sections.append(
            Section(
                id="changes",
                nav="What changed",
                title=f"What changed since {before}",
                paragraphs=[
                    f"Compared with {before}; clusters are matched across the two runs "
                    "through the locations they share (see docs/editions.md), so a cluster "
                    "that split or merged is not counted as an entrant or an exit.",
                    *comp.summary(),
                ],
                tables=[
                    ("entrants-table", f"Entrants to the top {n}", entrants),
                    ("exits-table", f"Exits from the top {n}", exits),
                    ("movers-table", "Biggest movers", movers),
                    ("economies-change-table", "Clusters per economy, now and before", economies),
                    ("growth-table", f"Growth of the top {n} (%)", _growth_wide(comp)),
                    ("previous-top10-table", f"Top 10 by each metric in {before}", previous_top),
                ],
            )
        )
    mc = extras.get("method_comparison")
    if isinstance(mc, MethodComparison):
        top = int(result.settings.top)
        table = mc.table[mc.table["rank"] <= top].rename(
            columns={
                "rank": f"rank ({mc.label})",
                "score": f"score ({mc.label})",
                "alt_rank": f"rank ({mc.alt_label})",
                "alt_score": f"score ({mc.alt_label})",
            }
        )
        sections.append(
            Section(
                id="method-comparison",
                nav="Method comparison",
                title=f"Method comparison: {mc.label} and {mc.alt_label}",
                paragraphs=[
                    f"The same clusters ranked by {mc.label} (this run) and by {mc.alt_label}, "
                    "as the GII's 2025 Appendix IV Table 2 ranks its clusters with the "
                    "two-metric method of 2024. rank_difference is the other method's rank "
                    "minus this run's: positive when the cluster ranks higher here."
                ],
                tables=[("method-table", "Method comparison", table.reset_index(drop=True))],
            )
        )
    emerging = extras.get("emerging")
    if isinstance(emerging, pd.DataFrame):
        top = int(result.settings.top)
        sections.append(
            Section(
                id="emerging",
                nav="Emerging clusters",
                title="Emerging clusters",
                paragraphs=[
                    f"The {len(emerging)} clusters ranked just below the top {top}"
                    + (
                        ", with their growth."
                        if any(str(c).endswith("_growth_pct") for c in emerging.columns)
                        else "."
                    )
                ],
                tables=[("emerging-table", "Emerging clusters", emerging)],
            )
        )
    return sections


# --- writing ----------------------------------------------------------------------------


def _csv(frame: pd.DataFrame, path: Path, synthetic: bool) -> Path:
    atomic_write_text(path, csv_text(frame, synthetic=synthetic, float_format="%.4f"))
    return path


def _comparison_files(comp: Comparison) -> dict[str, pd.DataFrame]:
    return {
        "changes.csv": comp.clusters,
        "previous_clusters.csv": comp.previous,
        "entrants.csv": comp.entrants,
        "exits.csv": comp.exits,
        "movers.csv": comp.movers,
        "economies.csv": comp.economies,
        "top_by_metric.csv": comp.top_by_metric,
        "growth.csv": comp.growth,
    }


def write_comparison(
    result_or_comparison: RunResult | Comparison, out_dir: str | Path, *, synthetic: bool = False
) -> list[Path]:
    """Write the comparison tables of a run (or of a :class:`Comparison`) as CSV files.

    Files, each written only when its table exists: ``changes.csv``,
    ``previous_clusters.csv``, ``entrants.csv``, ``exits.csv``, ``movers.csv``,
    ``economies.csv``, ``top_by_metric.csv``, ``growth.csv`` (see :class:`Comparison`),
    ``method_comparison.csv``, ``emerging.csv`` and ``profiles.csv``; a :class:`Comparison`
    alone also gets ``comparison.json`` (labels, counts and the summary sentences).

    Parameters
    ----------
    result_or_comparison
        A run whose ``extras`` hold the tables, or a comparison of two run folders.
    out_dir
        The output folder (created if missing).
    synthetic
        Mark the files as made from synthetic data (a run's own manifest decides for a run).

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if isinstance(result_or_comparison, Comparison):
        comp = result_or_comparison
        for name, frame in _comparison_files(comp).items():
            written.append(_csv(frame, out / name, synthetic))
        info = {
            "label": comp.label,
            "previous_label": comp.previous_label,
            "top": comp.top,
            "entrants": len(comp.entrants),
            "exits": len(comp.exits),
            "min_shared": MIN_SHARED,
            "synthetic": synthetic,
            "summary": comp.summary(),
            # What the folder holds, so that a later run may replace it as a whole.
            "outputs": sorted([p.name for p in written] + ["comparison.json"]),
        }
        atomic_write_text(out / "comparison.json", json.dumps(info, indent=2) + "\n")
        written.append(out / "comparison.json")
        return written
    result = result_or_comparison
    synthetic = synthetic or bool(result.manifest.get("synthetic"))
    extras = result.extras
    comparison = extras.get("comparison")
    if isinstance(comparison, Comparison):
        for name, frame in _comparison_files(comparison).items():
            written.append(_csv(frame, out / name, synthetic))
    mc = extras.get("method_comparison")
    if isinstance(mc, MethodComparison):
        table = mc.table.rename(
            columns={
                "rank": f"rank ({mc.label})",
                "score": f"score ({mc.label})",
                "alt_rank": f"rank ({mc.alt_label})",
                "alt_score": f"score ({mc.alt_label})",
            }
        )
        written.append(_csv(table, out / "method_comparison.csv", synthetic))
    for key in ("emerging", "profiles"):
        extra = extras.get(key)
        if isinstance(extra, pd.DataFrame):
            written.append(_csv(extra, out / f"{key}.csv", synthetic))
    return written
