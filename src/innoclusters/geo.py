"""Sphere geometry: the one copy of the Earth radius, unit vectors and distances.

Every module that measures distance on the Earth uses these. Points are latitude and
longitude in degrees; distances are great-circle kilometres on a sphere of radius
:data:`EARTH_RADIUS_KM`. On the unit sphere the chord between two points is a monotone
function of their great-circle distance, so a k-d tree over :func:`unit_vectors` answers
"within ``km``" queries with radius :func:`chord` (``km``), with no special case at the
antimeridian or the poles.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

__all__ = ["EARTH_RADIUS_KM", "chord", "coordinate_label", "haversine_km", "unit_vectors"]

#: Mean Earth radius (IUGG), as in scikit-learn's haversine examples; ``eps_km / 6371.0088``
#: is the radius in radians that scikit-learn's ``DBSCAN(metric="haversine")`` takes.
EARTH_RADIUS_KM = 6371.0088


#: Rows from which :func:`unit_vectors` works on all cores, and rows per block of its loop
#: (temporaries of a block stay in cache).
_PARALLEL_ROWS = 200_000
_BLOCK_ROWS = 1 << 15


def unit_vectors(lat: npt.ArrayLike, lon: npt.ArrayLike) -> np.ndarray:
    """3-D unit vectors of latitudes and longitudes in degrees, shape ``(n, 3)``.

    ``column_stack((cos(la) * cos(lo), cos(la) * sin(lo), sin(la)))`` of the radians ``la``,
    ``lo`` (``np.radians``), bit for bit: the same NumPy functions, element by element,
    written into one array block by block, the blocks of a large input on all cores
    (NumPy's functions release the GIL).
    """
    la = np.asarray(lat, dtype=float)
    lo = np.asarray(lon, dtype=float)
    if la.ndim != 1 or lo.shape != la.shape:  # scalars, broadcasting: the formula as is
        la, lo = np.radians(la), np.radians(lo)
        c = np.cos(la)
        return np.column_stack((c * np.cos(lo), c * np.sin(lo), np.sin(la)))
    n = la.shape[0]
    out = np.empty((n, 3))

    def fill(rows: range) -> None:
        for a in range(rows.start, rows.stop, _BLOCK_ROWS):
            b = min(a + _BLOCK_ROWS, rows.stop)
            rla = np.radians(la[a:b])
            rlo = np.radians(lo[a:b])
            c = np.cos(rla)
            np.multiply(c, np.cos(rlo), out=out[a:b, 0])
            np.multiply(c, np.sin(rlo), out=out[a:b, 1])
            np.sin(rla, out=out[a:b, 2])

    workers = min(os.cpu_count() or 1, n // _PARALLEL_ROWS)
    if workers > 1:
        cuts = [k * n // workers for k in range(workers + 1)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(fill, [range(a, b) for a, b in itertools.pairwise(cuts)]))
    else:
        fill(range(n))
    return out


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
