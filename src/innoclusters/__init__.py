"""innoclusters: find and rank science-and-technology innovation clusters.

Everything the command line does is a public function first. Importing the package is
cheap: it loads the version, the errors and the settings, and every other public name
(the method from records to ranking, the clustering kernel with Numba, the comparisons, the
writers, the demo world) on first use (PEP 562 module ``__getattr__``), so that a command
that only reads files (``innoclusters inspect``) does not pay for the rest.

>>> import innoclusters  # doctest: +SKIP
>>> result = innoclusters.run({"patents": ["pct.parquet"]})  # doctest: +SKIP
>>> innoclusters.write_outputs(result, "results/")  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from innoclusters._lazy import lazy_names
from innoclusters._version import __version__
from innoclusters.config import METRICS, Settings, load_settings
from innoclusters.errors import InnoclustersError, InputError, SettingsError

if TYPE_CHECKING:  # the lazy names below, as type checkers and readers see them
    from innoclusters.compare import compare_runs, read_run
    from innoclusters.demo import generate_world, run_demo
    from innoclusters.density import weighted_dbscan
    from innoclusters.locations import build_locations
    from innoclusters.pipeline import cluster_locations, run
    from innoclusters.places import geocode_file, geocode_places, load_gazetteer
    from innoclusters.profiles import cluster_profiles
    from innoclusters.publish import write_outputs
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

#: Public names served on first use, and the module each comes from (the same as the
#: ``TYPE_CHECKING`` imports above; tests/test_architecture.py checks that they agree).
_LAZY = {
    "CLUSTER_COLUMNS": "innoclusters.result",
    "RunResult": "innoclusters.result",
    "Uncertainty": "innoclusters.uncertainty",
    "build_locations": "innoclusters.locations",
    "cluster_locations": "innoclusters.pipeline",
    "cluster_profiles": "innoclusters.profiles",
    "compare_runs": "innoclusters.compare",
    "generate_world": "innoclusters.demo",
    "geocode_file": "innoclusters.places",
    "geocode_places": "innoclusters.places",
    "load_gazetteer": "innoclusters.places",
    "read_records": "innoclusters.records",
    "read_run": "innoclusters.compare",
    "run": "innoclusters.pipeline",
    "run_demo": "innoclusters.demo",
    "uncertainty": "innoclusters.uncertainty",
    "weighted_dbscan": "innoclusters.density",
    "write_outputs": "innoclusters.publish",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)


class _Package(types.ModuleType):
    """The package module: a public function keeps its name when its submodule loads.

    ``innoclusters.uncertainty`` is the function, as the package has always served it;
    loading the submodule of the same name (the pipeline does) would otherwise rebind the
    package's attribute to the submodule. The submodule stays in ``sys.modules``.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
