"""Publish: write a run's output folder, complete as a set.

Files: ``clusters.csv``, ``clusters.xlsx``, ``clusters.geojson``, ``locations.parquet``,
``rejects.csv``, ``manifest.json`` and ``report.html``, plus the profile and comparison
tables. The whole set is written into a hidden folder beside the output folder, flushed to
disk, and swapped in (:func:`innoclusters._io.atomic_folder`): a run that fails or
is killed leaves the previous set as it was, never a mixture of two runs nor a stale file of
an earlier one. Because the swap replaces the whole folder, a folder that holds files
innoclusters did not write is refused rather than emptied, and so is a folder holding an
input of the run. Two runs into one folder at the same time: the second is refused.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from innoclusters._io import MANIFEST, atomic_folder, prepare_folder
from innoclusters.errors import OutputError
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

__all__ = ["output_folder", "write_files", "write_outputs"]

#: Files of an output folder that record what the folder holds (``outputs``).
_MARKERS = (MANIFEST, "comparison.json")


def write_outputs(result: RunResult, out_dir: str | Path) -> list[Path]:
    """Write every output file of ``result`` into ``out_dir``, replacing it as a set.

    Parameters
    ----------
    result
        What :func:`innoclusters.run` returned.
    out_dir
        The output folder (created if missing; an earlier output folder is replaced).

    Returns
    -------
    list of Path
        The files written, ``manifest.json`` last (it records the time of the others).

    Raises
    ------
    OutputError
        ``out_dir`` is a file, cannot be written, is being written by another run, or
        holds files innoclusters did not write.
    """
    out = Path(out_dir)
    with output_folder(out) as folder:
        written = write_files(result, folder)
    return [out / p.relative_to(folder) for p in written]


def write_files(result: RunResult, folder: str | Path) -> list[Path]:
    """Write every output file of ``result`` into ``folder`` (a folder of
    :func:`output_folder`, or any folder when atomicity is not needed).

    Returns
    -------
    list of Path
        The files written, ``manifest.json`` last; the manifest's ``outputs`` lists every
        entry of ``folder``.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # The report (most of the work, in Python) is drawn on a second thread while the
    # tables are written here (Parquet, Shapely and file writes release the GIL); each
    # writer only reads the result and writes its own file.
    with ThreadPoolExecutor(max_workers=1) as pool:
        report = pool.submit(write_report, result, out / "report.html")
        written = [
            write_clusters_csv(result, out / "clusters.csv"),
            write_locations(result, out / "locations.parquet"),
            write_rejects(result, out / "rejects.csv"),
            write_geojson(result.clusters, out / "clusters.geojson"),
            write_xlsx(result, out / "clusters.xlsx"),
            report.result(),
            write_links(result, out / "links.csv"),
        ]
    written += write_comparison(result, out)
    written += write_uncertainty(result, out)
    result.manifest.setdefault("timings_s", {})["publish"] = round(time.perf_counter() - start, 3)
    entries = {p.name for p in out.iterdir()} | {p.name for p in written} | {MANIFEST}
    result.manifest["outputs"] = sorted(entries)
    written.append(write_manifest(result, out / MANIFEST))
    return written


@contextlib.contextmanager
def output_folder(
    out_dir: str | Path, *, inputs: Iterable[str | Path] = (), keep: Iterable[str] = ()
) -> Iterator[Path]:
    """Check ``out_dir``, lock it, and yield an empty folder that replaces it at the end.

    Everything is checked before the block runs, so a run fails before its heavy work when
    its output folder cannot take the results: ``out_dir`` is a file, cannot be written,
    is being written by another run, is (or holds) the current folder, holds one of
    ``inputs``, or holds files that innoclusters did not write. When the block succeeds the
    yielded folder is flushed to disk and swapped in for ``out_dir``; when it fails,
    ``out_dir`` is left as it was.

    Parameters
    ----------
    out_dir
        The output folder (created if missing).
    inputs
        Files and folders the run reads, which must not lie inside ``out_dir``.
    keep
        Entries of the existing ``out_dir`` carried into the new set (hard links), such as
        the demo's ``data`` when a run re-reads it.

    Raises
    ------
    OutputError
        With a one-line message that says how to fix it.
    """
    out = Path(out_dir)
    prepare_folder(out)
    full = out.resolve()
    cwd = Path.cwd().resolve()
    if full == cwd or full in cwd.parents:
        raise OutputError(
            f"output folder '{out_dir}' is the current folder or holds it, and a run replaces "
            "its whole output folder; name a subfolder such as results/"
        )
    for path in inputs:
        source = Path(path).resolve()
        if source == full or full in source.parents:
            raise OutputError(
                f"input '{path}' is inside the output folder '{out_dir}', which the run "
                "replaces as a whole; move the input or choose another output folder"
            )

    def replaceable(folder: Path) -> None:
        foreign = _foreign_entries(folder)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise OutputError(
                f"output folder '{out_dir}' holds files innoclusters did not write ({shown}), "
                "and a run replaces the whole folder; choose a new or empty folder, or move "
                "those files out"
            )

    with atomic_folder(out, check=replaceable, keep=keep) as folder:
        yield folder


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that no earlier innoclusters output lists (sorted)."""
    if not folder.is_dir():
        return []
    entries = sorted(p.name for p in folder.iterdir())
    listed: set[str] = set()
    for marker in _MARKERS:
        path = folder / marker
        if not path.is_file():
            continue
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict):
            continue
        listed.add(marker)
        outputs = info.get("outputs")
        if isinstance(outputs, list):
            listed.update(str(o) for o in outputs)
        else:  # written before folders listed their outputs: tables only
            listed.update(e for e in entries if e.endswith((".csv", ".json")))
        if info.get("demo"):
            listed.add("data")
    # Hidden temporary files of versions that wrote file by file.
    return [
        e for e in entries if e not in listed and not (e.startswith(".") and e.endswith(".tmp"))
    ]
