"""Publish: write a run's output folder.

Files: ``clusters.csv``, ``clusters.xlsx``, ``clusters.geojson``, ``locations.parquet``,
``rejects.csv``, ``manifest.json`` and ``report.html``, each written atomically.
"""

from __future__ import annotations

import time
from pathlib import Path

from innoclusters.publish.comparison import write_comparison
from innoclusters.publish.geojson import write_geojson
from innoclusters.publish.links import write_links
from innoclusters.publish.report import write_report
from innoclusters.publish.tables import (
    write_clusters_csv,
    write_locations,
    write_manifest,
    write_rejects,
)
from innoclusters.publish.uncertainty import write_uncertainty
from innoclusters.publish.xlsx import write_xlsx
from innoclusters.result import RunResult

__all__ = ["write_outputs"]


def write_outputs(result: RunResult, out_dir: str | Path) -> list[Path]:
    """Write every output file of ``result`` into ``out_dir`` (created if missing).

    Parameters
    ----------
    result
        What :func:`innoclusters.run` returned.
    out_dir
        The output folder.

    Returns
    -------
    list of Path
        The files written, ``manifest.json`` last (it records the time of the others).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    written = [
        write_clusters_csv(result, out / "clusters.csv"),
        write_locations(result, out / "locations.parquet"),
        write_rejects(result, out / "rejects.csv"),
    ]
    written += _optional_writers(result, out)
    written += write_comparison(result, out)
    written += write_uncertainty(result, out)
    result.manifest.setdefault("timings_s", {})["publish"] = round(time.perf_counter() - start, 3)
    result.manifest["outputs"] = sorted(p.name for p in [*written, out / "manifest.json"])
    written.append(write_manifest(result, out / "manifest.json"))
    return written


def _optional_writers(result: RunResult, out: Path) -> list[Path]:
    write_geojson(result.clusters, out / "clusters.geojson")
    return [
        out / "clusters.geojson",
        write_xlsx(result, out / "clusters.xlsx"),
        write_report(result, out / "report.html"),
        write_links(result, out / "links.csv"),
    ]
