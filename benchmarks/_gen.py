"""Synthetic city-like weighted locations for the benchmarks.

The world is a few thousand urban centres with heavy-tailed (Pareto) sizes, placed on the
land-ish parts of the globe (rough continental boxes, weighted by how much activity they
hold). Each centre scatters records around itself with an exponential radial falloff whose
scale grows with the centre's size (about 2 to 25 km). Records carry dyadic fractional weights
(1, 1/2, 1/4 or 1/8: documents with 1, 2, 4 or 8 addresses) so that every sum of weights is
exact in binary and DBSCAN's core test has no rounding ties; coordinates are rounded to 0.01
degree and records at the same rounded place are merged into one location with the summed
weight, as the pipeline's locations stage does.
"""

from __future__ import annotations

import numpy as np

__all__ = ["city_locations"]

# (lat_min, lat_max, lon_min, lon_max, share of centres): rough land boxes.
_REGIONS: tuple[tuple[float, float, float, float, float], ...] = (
    (25.0, 50.0, -125.0, -67.0, 0.20),  # United States
    (43.0, 60.0, -130.0, -60.0, 0.02),  # Canada
    (14.0, 32.0, -110.0, -87.0, 0.03),  # Mexico
    (-35.0, 5.0, -75.0, -35.0, 0.04),  # South America
    (36.0, 60.0, -10.0, 30.0, 0.22),  # Europe
    (45.0, 62.0, 30.0, 60.0, 0.03),  # Eastern Europe
    (22.0, 42.0, 100.0, 123.0, 0.16),  # China
    (31.0, 45.0, 126.0, 145.0, 0.10),  # Korea and Japan
    (8.0, 30.0, 70.0, 90.0, 0.07),  # India
    (-10.0, 15.0, 95.0, 125.0, 0.04),  # South-East Asia
    (-38.0, -20.0, 115.0, 153.0, 0.02),  # Australia
    (-35.0, 35.0, -10.0, 40.0, 0.04),  # Africa
    (24.0, 40.0, 35.0, 60.0, 0.03),  # Middle East
)


def city_locations(
    n_locations: int, *, n_centres: int = 5000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exactly ``n_locations`` unique rounded locations around ``n_centres`` urban centres.

    Parameters
    ----------
    n_locations
        Number of distinct 0.01-degree locations wanted.
    n_centres
        Number of urban centres; their sizes follow a Pareto law (shape 1.1), so a few
        centres are megacities and most are small towns.
    seed
        Seed of the random generator; the same arguments give the same locations.

    Returns
    -------
    lat, lon, weight : numpy.ndarray
        Float64 arrays of length ``n_locations``: rounded coordinates in degrees and the
        summed (dyadic, hence exact) weight of the records at each location.
    """
    rng = np.random.default_rng(seed)
    boxes = np.array(_REGIONS)
    region = rng.choice(len(boxes), size=n_centres, p=boxes[:, 4] / boxes[:, 4].sum())
    c_lat = rng.uniform(boxes[region, 0], boxes[region, 1])
    c_lon = rng.uniform(boxes[region, 2], boxes[region, 3])
    size = rng.pareto(1.1, n_centres) + 1.0
    size = np.minimum(size, 2000.0)
    share = size / size.sum()
    scale_km = np.clip(2.0 * size**0.35, 2.0, 25.0)

    # Oversample records until there are enough distinct locations, then keep a random
    # subset of exactly n_locations of them.
    lat_parts: list[np.ndarray] = []
    lon_parts: list[np.ndarray] = []
    w_parts: list[np.ndarray] = []
    n_records = 3 * n_locations
    keys = np.empty(0, dtype=np.int64)
    while True:
        centre = rng.choice(n_centres, size=n_records, p=share)
        radius_km = rng.exponential(scale_km[centre])
        bearing = rng.uniform(0.0, 2.0 * np.pi, n_records)
        dlat = radius_km * np.cos(bearing) / 111.2
        lat = np.clip(c_lat[centre] + dlat, -89.99, 89.99)
        dlon = radius_km * np.sin(bearing) / (111.2 * np.cos(np.radians(lat)))
        lon = (c_lon[centre] + dlon + 180.0) % 360.0 - 180.0
        lat_parts.append(np.round(lat, 2))
        lon_parts.append(np.round(lon, 2))
        w_parts.append(1.0 / rng.choice([1.0, 2.0, 4.0, 8.0], size=n_records))
        lat_all = np.concatenate(lat_parts)
        lon_all = np.concatenate(lon_parts)
        keys = np.round(lat_all * 100).astype(np.int64) * 100_000 + np.round(
            (lon_all + 180.0) * 100
        ).astype(np.int64)
        uniq, inverse = np.unique(keys, return_inverse=True)
        if len(uniq) >= n_locations:
            break
        n_records = 2 * n_records
    w_all = np.concatenate(w_parts)
    weight = np.bincount(inverse, weights=w_all)
    first = np.full(len(uniq), len(keys), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(keys)))
    keep = np.sort(rng.choice(len(uniq), size=n_locations, replace=False))
    idx = first[keep]
    return (
        lat_all[idx].astype(np.float64),
        lon_all[idx].astype(np.float64),
        weight[keep].astype(np.float64),
    )
