"""innoclusters: find and rank science-and-technology innovation clusters.

Everything the command line does is a public function first. Importing the package loads the
method (records to ranking and comparisons) but not :mod:`innoclusters.publish` (the writers,
with Jinja2 and the Excel writer) nor the demo world: ``write_outputs``, ``run_demo`` and
``generate_world`` are loaded on first use (PEP 562 module ``__getattr__``).

>>> import innoclusters  # doctest: +SKIP
>>> result = innoclusters.run({"patents": ["pct.parquet"]})  # doctest: +SKIP
>>> innoclusters.write_outputs(result, "results/")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from innoclusters._version import __version__
from innoclusters.compare import compare_runs, read_run
from innoclusters.config import METRICS, Settings, load_settings
from innoclusters.density import weighted_dbscan
from innoclusters.errors import InnoclustersError, InputError, SettingsError
from innoclusters.locations import build_locations
from innoclusters.pipeline import cluster_locations, run
from innoclusters.places import geocode_file, geocode_places, load_gazetteer
from innoclusters.profiles import cluster_profiles
from innoclusters.records import read_records
from innoclusters.result import CLUSTER_COLUMNS, RunResult
from innoclusters.uncertainty import Uncertainty, uncertainty

__all__ = [
    "CLUSTER_COLUMNS",
    "METRICS",
    "InnoclustersError",
    "InputError",
    "RunResult",
    "Settings",
    "SettingsError",
    "Uncertainty",
    "__version__",
    "build_locations",
    "cluster_locations",
    "cluster_profiles",
    "compare_runs",
    "generate_world",
    "geocode_file",
    "geocode_places",
    "load_gazetteer",
    "load_settings",
    "read_records",
    "read_run",
    "run",
    "run_demo",
    "uncertainty",
    "weighted_dbscan",
    "write_outputs",
]

#: Public names served on first use, and the module each comes from.
_LAZY = {
    "write_outputs": "innoclusters.publish",
    "run_demo": "innoclusters.demo",
    "generate_world": "innoclusters.demo",
}


def __getattr__(name: str) -> Any:
    """Load the writers and the demo world on first use (keeps ``import innoclusters`` light)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'innoclusters' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
