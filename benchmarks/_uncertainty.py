"""What the rank uncertainty benchmarks share: a demo world, its run and its records.

Used by ``benchmarks/bench_uncertainty.py`` (speed) and ``benchmarks/calibrate_uncertainty.py``
(coverage of the intervals); run them as modules from the repository's root, e.g.
``python -m benchmarks.bench_uncertainty``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from innoclusters.config import METRICS, Settings
from innoclusters.demo import generate_world
from innoclusters.locations import edition_windows
from innoclusters.records import RecordSet, read_records

__all__ = ["demo_files", "records_and_windows", "run_settings"]


def demo_files(folder: Path, *, scale: float, seed: int) -> dict[str, list[Path]]:
    """The demo world's input files in ``folder``, generated unless they are there."""
    if not (folder / "patents.parquet").is_file():
        generate_world(folder, scale=scale, seed=seed)
    return {m: [folder / f"{m}.parquet"] for m in METRICS}


def run_settings(**changes: Any) -> Settings:
    """The run's settings, without rank uncertainty of its own (the benchmarks ask for it)."""
    return Settings(uncertainty=0, **changes)


def records_and_windows(
    files: Mapping[str, list[Path]], settings: Settings
) -> tuple[RecordSet, dict[str, tuple[int, int]]]:
    """The run's records (the bootstrap resamples documents) and its window per metric."""
    records = read_records(files)
    return records, edition_windows(records, settings)
