"""innoclusters: find and rank science-and-technology innovation clusters.

Everything the command line does is a public function first:

>>> import innoclusters  # doctest: +SKIP
>>> result = innoclusters.run({"patents": ["pct.parquet"]})  # doctest: +SKIP
>>> innoclusters.write_outputs(result, "results/")  # doctest: +SKIP
"""

from __future__ import annotations

from innoclusters._version import __version__
from innoclusters.compare import compare_runs, read_run
from innoclusters.config import METRICS, Settings, load_settings
from innoclusters.demo import generate_world, run_demo
from innoclusters.density import weighted_dbscan
from innoclusters.errors import InnoclustersError, InputError, SettingsError
from innoclusters.locations import build_locations
from innoclusters.pipeline import cluster_locations, run
from innoclusters.places import geocode_file, geocode_places, load_gazetteer
from innoclusters.profiles import cluster_profiles
from innoclusters.publish import write_outputs
from innoclusters.records import read_records
from innoclusters.result import CLUSTER_COLUMNS, RunResult

__all__ = [
    "CLUSTER_COLUMNS",
    "METRICS",
    "InnoclustersError",
    "InputError",
    "RunResult",
    "Settings",
    "SettingsError",
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
    "weighted_dbscan",
    "write_outputs",
]
