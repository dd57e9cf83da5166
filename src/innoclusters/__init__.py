"""innoclusters: find and rank science-and-technology innovation clusters."""

from __future__ import annotations

from innoclusters._version import __version__
from innoclusters.config import METRICS, Settings, load_settings
from innoclusters.density import weighted_dbscan
from innoclusters.errors import InnoclustersError, InputError, SettingsError
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
    "load_settings",
    "weighted_dbscan",
]
