"""Country outlines, and the country of a point (:func:`country_at`).

The outlines are Natural Earth's 1:10m *Admin 0 - Countries* (public domain), shipped as
``data/country_borders.parquet`` (rebuilt by ``python -m innoclusters.data.build_borders``):
one row per piece of a country, each piece with at most 200 vertices, so that a
point-in-polygon test only meets small polygons. docs/places.md states the rule.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import shapely

from innoclusters.geo import haversine_km

__all__ = ["COUNTRY_AT_MAX_KM", "country_at", "country_outlines"]

#: A point outside every outline takes the country of the nearest outline within this
#: distance: 12 nautical miles, the breadth of the territorial sea (UNCLOS article 3).
COUNTRY_AT_MAX_KM = 22.224


@functools.lru_cache(maxsize=1)
def country_outlines() -> tuple[np.ndarray, np.ndarray, Any]:
    """``(codes, pieces, tree)``: the ISO alpha-2 code and polygon of each piece, an STRtree.

    Shared and read-only; the pieces are prepared for fast predicates.
    """
    path = resources.files("innoclusters").joinpath("data/country_borders.parquet")
    with resources.as_file(path) as file:
        table = pq.read_table(file)
    codes = np.asarray(table.column("country").to_pylist(), dtype=object)
    pieces = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    shapely.prepare(pieces)
    return codes, pieces, shapely.STRtree(pieces)


def country_at(
    lat: np.ndarray | Sequence[float],
    lon: np.ndarray | Sequence[float],
    *,
    max_km: float = COUNTRY_AT_MAX_KM,
) -> np.ndarray:
    """ISO alpha-2 country of each point, from country outlines.

    A point inside (or on the edge of) a country's outline takes that country. A point
    outside every outline (at sea, or on a coast the 1:10m outlines smooth away) takes the
    country of the nearest outline within ``max_km`` (default 22.2 km, the 12 nautical
    miles of the territorial sea), else ``""``. Outlines are Natural Earth 1:10m, accurate
    to a few hundred metres: a point that close to a border can fall on either side.

    Parameters
    ----------
    lat, lon
        Coordinates in degrees (any longitude; it is wrapped to [-180, 180)).
    max_km
        Reach of the sea rule, km (0 turns it off).

    Returns
    -------
    numpy.ndarray
        Object array of codes, ``""`` where no country is within reach or the point is not
        finite. Disputed areas that Natural Earth gives no ISO code (Siachen Glacier, the
        Spratly Islands) count as outside every outline.

    Examples
    --------
    >>> list(country_at([47.56, 47.59, 22.28, 22.55], [7.59, 7.62, 114.17, 114.06]))
    ['CH', 'DE', 'HK', 'CN']
    """
    la = np.asarray(lat, dtype=float).ravel()
    lo = np.asarray(lon, dtype=float).ravel()
    out = np.full(la.shape, "", dtype=object)
    ok = np.flatnonzero(np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90))
    if not len(ok):
        return out.reshape(np.shape(lat))
    codes, pieces, tree = country_outlines()
    x = (lo[ok] + 180.0) % 360.0 - 180.0
    y = la[ok]
    points = shapely.points(x, y)
    # Candidates by bounding box, then the exact test on the (prepared, small) pieces.
    p_idx, g_idx = tree.query(points)
    inside = shapely.intersects(pieces[g_idx], points[p_idx])
    p_idx, g_idx = p_idx[inside], g_idx[inside]
    # A point on a shared border touches two pieces: the first in (point, piece) order wins.
    order = np.lexsort((g_idx, p_idx))
    p_idx, g_idx = p_idx[order], g_idx[order]
    first = np.r_[True, p_idx[1:] != p_idx[:-1]] if len(p_idx) else np.zeros(0, dtype=bool)
    found = np.full(len(ok), -1, dtype=np.int64)
    found[p_idx[first]] = g_idx[first]
    sea = np.flatnonzero(found < 0)
    if len(sea) and max_km > 0:
        found[sea] = _nearest_within(points[sea], y[sea], pieces, tree, max_km)
    hit = found >= 0
    out[ok[hit]] = codes[found[hit]]
    return out.reshape(np.shape(lat))


def _nearest_within(
    points: np.ndarray, lat: np.ndarray, pieces: np.ndarray, tree: Any, max_km: float
) -> np.ndarray:
    """Piece nearest to each point within ``max_km`` (great-circle), or -1."""
    # A search box in degrees that holds every point within max_km (longitude widened by
    # 1 / cos(latitude)), then exact great-circle distances to the nearest point of each piece.
    deg = max_km / 111.0 / np.maximum(np.cos(np.radians(np.minimum(np.abs(lat) + 1.0, 89.0))), 0.02)
    p_idx, g_idx = tree.query(points, predicate="dwithin", distance=deg)
    out = np.full(len(points), -1, dtype=np.int64)
    if not len(p_idx):
        return out
    ends = shapely.get_coordinates(shapely.shortest_line(pieces[g_idx], points[p_idx]))
    km = haversine_km(ends[0::2, 1], ends[0::2, 0], ends[1::2, 1], ends[1::2, 0])
    keep = km <= max_km
    p_idx, g_idx, km = p_idx[keep], g_idx[keep], km[keep]
    order = np.lexsort((g_idx, km, p_idx))
    p_idx, g_idx = p_idx[order], g_idx[order]
    first = np.r_[True, p_idx[1:] != p_idx[:-1]] if len(p_idx) else np.zeros(0, dtype=bool)
    out[p_idx[first]] = g_idx[first]
    return out
