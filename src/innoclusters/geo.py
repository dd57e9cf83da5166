"""Sphere geometry: the one copy of the Earth radius, unit vectors and distances.

Every module that measures distance on the Earth uses these. Points are latitude and
longitude in degrees; distances are great-circle kilometres on a sphere of radius
:data:`EARTH_RADIUS_KM`. On the unit sphere the chord between two points is a monotone
function of their great-circle distance, so a k-d tree over :func:`unit_vectors` answers
"within ``km``" queries with radius :func:`chord` (``km``), with no special case at the
antimeridian or the poles.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["EARTH_RADIUS_KM", "chord", "coordinate_label", "haversine_km", "unit_vectors"]

#: Mean Earth radius (IUGG), as in scikit-learn's haversine examples; ``eps_km / 6371.0088``
#: is the radius in radians that scikit-learn's ``DBSCAN(metric="haversine")`` takes.
EARTH_RADIUS_KM = 6371.0088


def unit_vectors(lat: npt.ArrayLike, lon: npt.ArrayLike) -> np.ndarray:
    """3-D unit vectors of latitudes and longitudes in degrees, shape ``(n, 3)``."""
    la = np.radians(np.asarray(lat, dtype=float))
    lo = np.radians(np.asarray(lon, dtype=float))
    c = np.cos(la)
    return np.column_stack((c * np.cos(lo), c * np.sin(lo), np.sin(la)))


def chord(km: npt.ArrayLike) -> np.ndarray:
    """Chord length on the unit sphere of a great-circle distance in km (capped at half a turn).

    Returns a NumPy scalar or array; ``float(chord(13.0))`` gives a plain float.
    """
    angle = np.minimum(np.asarray(km, dtype=float) / EARTH_RADIUS_KM, np.pi)
    return 2.0 * np.sin(angle / 2.0)


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasting)."""
    p1, p2 = np.radians(np.asarray(lat1, dtype=float)), np.radians(np.asarray(lat2, dtype=float))
    dlat = p2 - p1
    dlon = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    h = np.sin(dlat / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def coordinate_label(lat: float, lon: float) -> str:
    """A readable label for a point with no place name: ``35.69°N 139.69°E``."""
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.2f}°{ns} {abs(lon):.2f}°{ew}"
