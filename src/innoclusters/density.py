"""Exact weighted DBSCAN on the sphere: the density kernel of the method.

:func:`weighted_dbscan` finds the density clusters of one metric's locations.

Definition
----------
Two locations are *neighbours* when their great-circle distance is at most ``eps_km``
(inclusive). A location is *core* when the total weight of its neighbours (itself included)
is at least ``min_weight``. Clusters are the connected components of core locations, two
cores being connected when they are neighbours. A non-core location with a core neighbour is
a *border* location of a cluster; any other location is *noise* (label ``-1``).

This is exactly scikit-learn's ``DBSCAN(eps=eps_km / 6371.0088, min_samples=min_weight,
metric="haversine")`` fitted on ``np.radians(np.c_[lat, lon])`` with ``sample_weight=weight``
(scikit-learn is the test oracle, never used here): same core mask, same partition of core
locations, and every border location in the cluster of a core neighbour.

How it agrees with scikit-learn at the boundary
-----------------------------------------------
scikit-learn decides "within ``eps``" for each pair with the reduced haversine distance::

    rdist = sin(0.5 * dlat) ** 2 + cos(lat1) * cos(lat2) * sin(0.5 * dlon) ** 2
    rdist <= sin(0.5 * eps) ** 2

(in radians, ``eps = eps_km / 6371.0088``). This module makes every decision with that very
expression, evaluated in the same order with the same C library functions, whenever a pair is
close to the boundary, so that pairs exactly at ``eps`` (common with coordinates rounded to
0.01 degree) are decided as scikit-learn decides them. Everywhere else a cheaper test on
3-D unit vectors decides: the chord between two points is a monotone function of their
great-circle distance, and a pair whose chord is farther than ``1e-13 + 1e-10 * chord(eps)``
from ``chord(eps)`` is decided by the chord alone (a margin about a hundred times the
rounding error of either formula).

Determinism
-----------
Results do not depend on the order of the input rows nor on the number of threads:

* Points are sorted into a canonical order (by grid cell, then latitude, longitude and
  weight) inside the kernel. The weight within ``eps_km`` of a location is summed in that
  order: per grid cell over the cell's points within reach, then over cells in cell order.
  So a location whose neighbours add up to exactly ``min_weight`` in exact arithmetic is
  decided the same way however the rows are shuffled (floating-point sums of fractions such
  as 0.1 or 1/3 depend on the order of addition in the last bit). With weights that add up
  exactly (integers, dyadic fractions) the sums are the exact sums.
* Clusters are numbered ``0..k-1`` by their smallest core location in (latitude, longitude,
  weight) order, so cluster 0 is the cluster with the southernmost core (ties: westernmost).
* A border location within ``eps_km`` of cores of several clusters joins the cluster of its
  nearest core (by 3-D chord distance, a monotone function of great-circle distance); ties
  go to the lowest label. scikit-learn instead gives it to whichever cluster reaches it first,
  so only core locations are compared label for label with the oracle.

Method
------
The fastest exact DBSCAN algorithms (grid-based, e.g. Gan & Tao 2015; Wang, Gu & Shun 2020)
put points in a uniform grid whose cells are small enough that any two points of one cell
are neighbours. Here the grid is 3-D, over unit vectors, with cell side
``chord(eps) / sqrt(3)``, so there is no special case at the antimeridian or the poles:

1. a cell whose own weight reaches ``min_weight`` makes all its points core with no distance
   test; a cell whose whole neighbourhood (the 5 x 5 x 5 cells around it) weighs less than
   ``min_weight`` has no core; for the other points, the cells wholly within reach and those
   partly within reach bound the weight from below and above, and only a point whose bounds
   straddle ``min_weight`` tests the points of partly reached cells one by one, stopping as
   soon as the sum reaches ``min_weight``;
2. cells holding cores are joined with union-find; two neighbouring cells are joined at the
   first pair of their cores found within ``eps``;
3. border points look for their nearest core in the neighbouring cells.

Neighbour lists are never stored: memory is linear in the number of locations. The loops are
compiled with Numba; steps 1 and 3 run in parallel over cells.

Calls from several threads
--------------------------
The compiled loops release the GIL (``nogil``), so several threads can run the kernel on
different inputs at once, e.g. the replicates of :mod:`innoclusters.uncertainty`, each with
``numba.set_num_threads(1)`` (a per-thread setting) so that the replicates, not the cells,
share the cores. That needs a thread-safe Numba threading layer (OpenMP or TBB; the
fallback ``workqueue`` layer aborts the process on concurrent launches):
:func:`concurrent_calls_safe` says whether the running process has one. Results do not
depend on the number of threads either way.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from innoclusters.errors import InputError, SettingsError
from innoclusters.geo import EARTH_RADIUS_KM

__all__ = [
    "MAX_EPS_KM",
    "concurrent_calls_safe",
    "find_root",
    "kernel_compiled",
    "weighted_dbscan",
]

#: Smallest and largest ``eps_km`` accepted: 1 metre, and half the Earth's circumference
#: (beyond it every pair of locations would be neighbours).
MIN_EPS_KM = 1e-3
MAX_EPS_KM = math.pi * EARTH_RADIUS_KM

# Margin (in chord units on the unit sphere) around chord(eps) inside which a pair is decided
# by scikit-learn's haversine expression rather than by the chord; both formulas err by
# less than about 1e-15 there.
_TOL_ABS = 1e-13
_TOL_REL = 1e-10

# Bound on the relative rounding error of a float sum of m non-negative terms, per term
# (2u / (1 - mu) with u = 2**-53, generously rounded up).
_SUM_ERR_PER_TERM = 4.5e-16


def weighted_dbscan(
    lat: Any,
    lon: Any,
    weight: Any,
    *,
    eps_km: float,
    min_weight: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact weighted DBSCAN of locations on the sphere.

    Parameters
    ----------
    lat, lon
        Coordinates in degrees (latitude in [-90, 90], longitude in [-180, 180]), one per
        location. Converted to float64; never modified.
    weight
        Non-negative weight of each location (e.g. the fractional count of documents there).
        A location of weight ``k`` counts like ``k`` locations of weight 1 at the same place.
    eps_km
        Neighbourhood radius in great-circle kilometres on a sphere of radius
        :data:`EARTH_RADIUS_KM`, inclusive. Between 0.001 (1 m) and half the Earth's
        circumference.
    min_weight
        A location is core when the total weight within ``eps_km`` of it, its own included,
        is at least ``min_weight`` (> 0).

    Returns
    -------
    labels : numpy.ndarray of int64
        Cluster of each location, aligned with the input: ``0..k-1`` numbered by each
        cluster's smallest core location in (latitude, longitude, weight) order, ``-1`` for
        noise.
    core : numpy.ndarray of bool
        Whether each location is core.

    Raises
    ------
    SettingsError
        If ``eps_km`` or ``min_weight`` is not a finite number in range.
    InputError
        If the arrays are not one-dimensional of equal length, or hold coordinates out of
        range, non-finite values or negative weights.

    Notes
    -----
    The result equals scikit-learn's ``DBSCAN(eps=eps_km / 6371.0088,
    min_samples=min_weight, metric="haversine").fit(np.radians(np.c_[lat, lon]),
    sample_weight=weight)`` in its core mask and its partition of core locations, up to the
    numbering of clusters, including pairs exactly at ``eps``. A border location reachable
    from several clusters joins the cluster of its nearest core (ties: the lowest label).
    Weight sums are taken in a canonical order of the locations, so shuffling the input
    only permutes the output. See the module docstring for the method.

    Examples
    --------
    Three locations 1.1 km apart along a meridian and one far away:

    >>> labels, core = weighted_dbscan(
    ...     [48.00, 48.01, 48.02, 10.0], [2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 5.0],
    ...     eps_km=1.2, min_weight=3,
    ... )
    >>> labels.tolist(), core.tolist()
    ([1, 1, 1, 0], [False, True, False, True])
    """
    eps_rad, min_w = _check_settings(eps_km, min_weight)
    lat_a, lon_a, w_a = _check_inputs(lat, lon, weight)
    n = lat_a.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)

    # The same threshold as the scikit-learn call in the docstring.
    half = math.sin(0.5 * eps_rad)
    r_red = half * half
    chord = 2.0 * abs(half)
    tol = _TOL_ABS + _TOL_REL * chord
    lo2 = (chord - tol) ** 2
    hi2 = (chord + tol) ** 2
    # Any two points of one cell are within chord - tol of each other (with room for the
    # rounding of the cell index), so cells never need a distance test inside themselves.
    side = (chord - tol) / math.sqrt(3.0) * (1.0 - 1e-9) - 1e-15
    reach = math.floor((chord + tol) / side) + 1

    # Cell indices lie within [floor(-1 / side), floor(1 / side)] on every axis.
    low = math.floor(-1.0 / side)
    span = math.floor(1.0 / side) - low + 1
    if span**3 < 2**62:
        # One int64 key per point in the lexicographic order of its cell (ix, iy, iz),
        # sorted in parallel; unit vectors recomputed in sorted order (cheaper than
        # gathering them).
        key = _point_keys(lat_a, lon_a, side, low, span)
        order = _sort_order(key, lat_a, lon_a, w_a)
        lat_s, lon_s, w_s, x, y, z, key = _gather_points(order, lat_a, lon_a, w_a, key)
        start, cx, cy, cz, cw = _cells_of_keys(key, w_s, low, span)
        del key
    else:  # eps of a few metres: cell indices over the data's own range
        x, y, z, ix, iy, iz = _unit_vectors(lat_a, lon_a, side)
        order = np.lexsort((w_a, lon_a, lat_a, iz, iy, ix))
        ints, floats = _gather(order, (ix, iy, iz), (lat_a, lon_a, w_a, x, y, z))
        lat_s, lon_s, w_s, x, y, z = floats
        start, cx, cy, cz, cw = _cells(ints[0], ints[1], ints[2], w_s)
        del ix, iy, iz, ints, floats
    labels_s, core_s = _dbscan_sorted(
        start,
        cx,
        cy,
        cz,
        cw,
        lat_s,
        lon_s,
        w_s,
        x,
        y,
        z,
        side,
        reach,
        lo2,
        hi2,
        r_red,
        min_w,
    )
    return _unsort(order, labels_s, core_s)


# --------------------------------------------------------------------------- validation


def _check_settings(eps_km: Any, min_weight: Any) -> tuple[float, float]:
    """Validate ``eps_km`` and ``min_weight``; return eps in radians and ``min_weight``."""
    problems: list[str] = []
    eps = _as_real(eps_km)
    if eps is None or not MIN_EPS_KM <= eps <= MAX_EPS_KM:
        problems.append(
            f"eps_km must be a number of km between {MIN_EPS_KM} (1 metre) and "
            f"{MAX_EPS_KM:.1f} (half the Earth's circumference), got {eps_km!r}"
        )
    mw = _as_real(min_weight)
    if mw is None or not mw > 0:
        problems.append(f"min_weight must be a finite number > 0, got {min_weight!r}")
    if problems:
        raise SettingsError("; ".join(problems))
    assert eps is not None and mw is not None
    return eps / EARTH_RADIUS_KM, mw


def _as_real(value: Any) -> float | None:
    """``value`` as a float if it is a finite real number (not a bool or a string)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _check_inputs(lat: Any, lon: Any, weight: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the three arrays; return them as contiguous float64 arrays."""
    arrays: dict[str, np.ndarray] = {}
    problems: list[str] = []
    for name, values in (("lat", lat), ("lon", lon), ("weight", weight)):
        try:
            # Read, never written. Copied only when not already a writeable contiguous
            # float64 array, so that read-only or strided inputs do not make Numba compile
            # more variants (the pipeline passes fresh arrays: no copy).
            arr = np.require(np.asarray(values, dtype=np.float64), requirements=["C", "W"])
        except (TypeError, ValueError) as exc:
            problems.append(f"{name} must be an array of numbers ({exc})")
            continue
        if arr.ndim != 1:
            problems.append(f"{name} must be one-dimensional, got shape {arr.shape}")
            continue
        arrays[name] = arr
    if problems:
        raise InputError("; ".join(problems))
    lengths = {name: arr.shape[0] for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {k}" for name, k in lengths.items())
        raise InputError(f"lat, lon and weight must have the same length; {shown}")
    lat_a, lon_a, w_a = arrays["lat"], arrays["lon"], arrays["weight"]
    if _count_invalid(lat_a, lon_a, w_a) == 0:
        return lat_a, lon_a, w_a
    for name, arr, bad, need in (
        ("lat", lat_a, ~(np.abs(lat_a) <= 90.0), "finite degrees in [-90, 90]"),
        ("lon", lon_a, ~(np.abs(lon_a) <= 180.0), "finite degrees in [-180, 180]"),
        ("weight", w_a, ~((w_a >= 0.0) & (w_a < np.inf)), "finite and >= 0"),
    ):
        idx = np.flatnonzero(bad)
        if len(idx):
            first = ", ".join(f"index {i}: {float(arr[i])!r}" for i in idx[:3].tolist())
            more = f" and {len(idx) - 3} more" if len(idx) > 3 else ""
            problems.append(f"{name} must be {need}; {len(idx)} value(s) are not ({first}{more})")
    if problems:
        raise InputError("; ".join(problems))
    return lat_a, lon_a, w_a


# --------------------------------------------------------------------------- kernel


@njit(cache=True, parallel=True, nogil=True)
def _count_invalid(lat: np.ndarray, lon: np.ndarray, w: np.ndarray) -> int:  # pragma: no cover
    """Points with a latitude, longitude or weight out of range (the checks of _check_inputs)."""
    bad = 0
    for i in prange(lat.shape[0]):
        if not (abs(lat[i]) <= 90.0 and abs(lon[i]) <= 180.0 and 0.0 <= w[i] < np.inf):
            bad += 1
    return bad


#: Degrees to radians: the same product as ``np.radians`` (NumPy multiplies by pi / 180).
_DEG2RAD = math.pi / 180.0


@njit(cache=True, parallel=True, nogil=True)
def _unit_vectors(
    lat: np.ndarray, lon: np.ndarray, side: float
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:  # pragma: no cover - compiled
    """3-D unit vectors and grid cell of each point (degrees in).

    The radians are those of ``np.radians`` (:data:`_DEG2RAD`); the cosines and sines come
    from the C library, as scikit-learn computes them; the cell indices are
    ``floor(v / side)`` of each coordinate of the unit vector.
    """
    n = lat.shape[0]
    x = np.empty(n)
    y = np.empty(n)
    z = np.empty(n)
    ix = np.empty(n, dtype=np.int64)
    iy = np.empty(n, dtype=np.int64)
    iz = np.empty(n, dtype=np.int64)
    for i in prange(n):
        x[i], y[i], z[i] = _unit_vector(lat[i], lon[i])
        ix[i] = math.floor(x[i] / side)
        iy[i] = math.floor(y[i] / side)
        iz[i] = math.floor(z[i] / side)
    return x, y, z, ix, iy, iz


@njit(cache=True, inline="always")
def _unit_vector(lat: float, lon: float) -> tuple[float, float, float]:  # pragma: no cover
    """3-D unit vector of a point in degrees (the one expression of the kernel)."""
    la = lat * _DEG2RAD
    lo = lon * _DEG2RAD
    c = math.cos(la)
    return c * math.cos(lo), c * math.sin(lo), math.sin(la)


@njit(cache=True, parallel=True, nogil=True)
def _point_keys(
    lat: np.ndarray, lon: np.ndarray, side: float, low: int, span: int
) -> np.ndarray:  # pragma: no cover - compiled
    """One int64 key per point in the lexicographic order of its cell ``(ix, iy, iz)``.

    ``ix = floor(x / side)`` of the unit vector, and so on; every index lies in
    ``[low, low + span)``.
    """
    n = lat.shape[0]
    key = np.empty(n, dtype=np.int64)
    for i in prange(n):
        x, y, z = _unit_vector(lat[i], lon[i])
        ix = math.floor(x / side) - low
        iy = math.floor(y / side) - low
        iz = math.floor(z / side) - low
        key[i] = (ix * span + iy) * span + iz
    return key


@njit(cache=True, parallel=True, nogil=True)
def _gather_points(
    order: np.ndarray, lat: np.ndarray, lon: np.ndarray, w: np.ndarray, key: np.ndarray
) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:  # pragma: no cover - compiled
    """Coordinates, weights and keys permuted by ``order``; unit vectors of the result."""
    n = order.shape[0]
    lat_s = np.empty(n)
    lon_s = np.empty(n)
    w_s = np.empty(n)
    x = np.empty(n)
    y = np.empty(n)
    z = np.empty(n)
    key_s = np.empty(n, dtype=np.int64)
    for i in prange(n):
        o = order[i]
        lat_s[i] = lat[o]
        lon_s[i] = lon[o]
        w_s[i] = w[o]
        key_s[i] = key[o]
        x[i], y[i], z[i] = _unit_vector(lat_s[i], lon_s[i])
    return lat_s, lon_s, w_s, x, y, z, key_s


#: Ranges of points or cells that the compiled passes share out among threads.
_CHUNKS = 256


@njit(cache=True, parallel=True, nogil=True)
def _cells_of_keys(
    key: np.ndarray, w: np.ndarray, low: int, span: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Runs of points sharing a cell (``key`` sorted): starts (end appended), cells, weights.

    The same as :func:`_cells` on the cell indices the keys pack. Cell weights are summed in
    point order, a canonical order.
    """
    n = key.shape[0]
    counts = np.zeros(_CHUNKS + 1, dtype=np.int64)
    for t in prange(_CHUNKS):
        m = 0
        for i in range(t * n // _CHUNKS, (t + 1) * n // _CHUNKS):
            if i == 0 or key[i] != key[i - 1]:
                m += 1
        counts[t + 1] = m
    for t in range(_CHUNKS):
        counts[t + 1] += counts[t]
    ncells = counts[_CHUNKS]
    start = np.empty(ncells + 1, dtype=np.int64)
    for t in prange(_CHUNKS):
        c = counts[t]
        for i in range(t * n // _CHUNKS, (t + 1) * n // _CHUNKS):
            if i == 0 or key[i] != key[i - 1]:
                start[c] = i
                c += 1
    start[ncells] = n
    cx = np.empty(ncells, dtype=np.int64)
    cy = np.empty(ncells, dtype=np.int64)
    cz = np.empty(ncells, dtype=np.int64)
    cw = np.zeros(ncells)
    for c in prange(ncells):
        k = key[start[c]]
        cx[c] = k // (span * span) + low
        cy[c] = (k // span) % span + low
        cz[c] = k % span + low
        total = 0.0
        for p in range(start[c], start[c + 1]):
            total += w[p]
        cw[c] = total
    return start, cx, cy, cz, cw


@njit(cache=True, parallel=True, nogil=True)
def _unsort(
    order: np.ndarray, labels_s: np.ndarray, core_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Labels and core flags back in input order (``out[order] = sorted``)."""
    n = order.shape[0]
    labels = np.empty(n, dtype=np.int64)
    core = np.empty(n, dtype=np.bool_)
    for i in prange(n):
        labels[order[i]] = labels_s[i]
        core[order[i]] = core_s[i]
    return labels, core


@njit(cache=True, parallel=True, nogil=True)
def _any_per_cell(start: np.ndarray, flag: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Whether any point of each cell (a run ``start[c]:start[c + 1]``) is flagged."""
    ncells = start.shape[0] - 1
    out = np.zeros(ncells, dtype=np.bool_)
    for c in prange(ncells):
        for p in range(start[c], start[c + 1]):
            if flag[p]:
                out[c] = True
                break
    return out


#: Buckets per thread of the parallel sort (more buckets balance the load better).
_BUCKETS_PER_THREAD = 32


def _sort_order(key: np.ndarray, lat: np.ndarray, lon: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``np.lexsort((w, lon, lat, key))``, computed in parallel.

    The points are split into buckets of consecutive key ranges (bounds from a sample's
    quantiles, so buckets hold about as many points), gathered bucket by bucket in index
    order, and each bucket is sorted on its own thread: by key, then each run of one key (a
    grid cell, a few points) by ``(lat, lon, w, index)``. The result is the same
    permutation as the single-threaded lexicographic sort, ties (identical points) in index
    order. Even on one thread it is faster than ``np.lexsort``, which sorts all points four
    times.
    """
    n = key.shape[0]
    threads = numba.get_num_threads()
    step = max(1, n // 4096)
    sample = np.sort(key[::step])
    nb = threads * _BUCKETS_PER_THREAD
    bounds = np.unique(sample[(np.arange(1, nb) * len(sample)) // nb])
    return _bucket_sort(bounds, key, lat, lon, w, threads * _BUCKETS_PER_THREAD)


@njit(cache=True, parallel=True, nogil=True)
def _bucket_sort(
    bounds: np.ndarray,
    key: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    w: np.ndarray,
    chunks: int,
) -> np.ndarray:  # pragma: no cover - compiled
    """Indices grouped by bucket, each bucket sorted by (key, lat, lon, w, index).

    Point ``i`` goes to bucket ``searchsorted(bounds, key[i], "right")``. The indices are cut
    into ``chunks`` consecutive ranges that count, then place, their points in parallel: each
    range writes at its own offsets within every bucket, so each bucket lists its points in
    index order, as one pass over all points would.
    """
    n = key.shape[0]
    nbuckets = bounds.shape[0] + 1
    bucket = np.empty(n, dtype=np.int64)
    counts = np.zeros((chunks, nbuckets), dtype=np.int64)
    for t in prange(chunks):
        for i in range(t * n // chunks, (t + 1) * n // chunks):
            b = np.searchsorted(bounds, key[i], side="right")
            bucket[i] = b
            counts[t, b] += 1
    count = np.zeros(nbuckets + 1, dtype=np.int64)
    offset = np.empty((chunks, nbuckets), dtype=np.int64)
    for b in range(nbuckets):
        total = count[b]
        for t in range(chunks):
            offset[t, b] = total
            total += counts[t, b]
        count[b + 1] = total
    order = np.empty(n, dtype=np.int64)
    for t in prange(chunks):
        fill = offset[t].copy()
        for i in range(t * n // chunks, (t + 1) * n // chunks):
            b = bucket[i]
            order[fill[b]] = i
            fill[b] += 1
    for b in prange(nbuckets):
        a0 = count[b]
        idx = order[a0 : count[b + 1]]
        keys = key[idx]
        by_key = np.argsort(keys)
        idx = idx[by_key]
        keys = keys[by_key]
        # Runs of one key (one grid cell: a few points) sorted by (lat, lon, w, index).
        m = idx.shape[0]
        buf = np.empty(m, dtype=np.int64)
        r = 0
        while r < m:
            e = r + 1
            while e < m and keys[e] == keys[r]:
                e += 1
            if e - r > 1:
                _sort_run(idx, buf, r, e, lat, lon, w)
            r = e
        order[a0 : count[b + 1]] = idx
    return order


@njit(cache=True, inline="always")
def _before(i: int, j: int, lat: np.ndarray, lon: np.ndarray, w: np.ndarray) -> bool:
    """Whether point ``i`` comes before point ``j`` in (lat, lon, w, index) order."""
    if lat[i] != lat[j]:
        return lat[i] < lat[j]
    if lon[i] != lon[j]:
        return lon[i] < lon[j]
    if w[i] != w[j]:
        return w[i] < w[j]
    return i < j


@njit(cache=True, nogil=True)
def _sort_run(
    idx: np.ndarray,
    buf: np.ndarray,
    lo: int,
    hi: int,
    lat: np.ndarray,
    lon: np.ndarray,
    w: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Sort ``idx[lo:hi]`` by (lat, lon, w, index): insertion sort, merged bottom-up."""
    width = 16
    for a in range(lo, hi, width):
        b = min(a + width, hi)
        for k in range(a + 1, b):
            v = idx[k]
            j = k - 1
            while j >= a and _before(v, idx[j], lat, lon, w):
                idx[j + 1] = idx[j]
                j -= 1
            idx[j + 1] = v
    while width < hi - lo:
        for a in range(lo, hi, 2 * width):
            mid = min(a + width, hi)
            b = min(a + 2 * width, hi)
            if mid >= b:
                continue
            i, j, k = a, mid, a
            while i < mid and j < b:
                if _before(idx[j], idx[i], lat, lon, w):
                    buf[k] = idx[j]
                    j += 1
                else:
                    buf[k] = idx[i]
                    i += 1
                k += 1
            while i < mid:
                buf[k] = idx[i]
                i += 1
                k += 1
            while j < b:
                buf[k] = idx[j]
                j += 1
                k += 1
            for t in range(a, b):
                idx[t] = buf[t]
        width *= 2


@njit(cache=True, parallel=True, nogil=True)
def _gather(
    order: np.ndarray, ints: tuple[np.ndarray, ...], floats: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Rows of ``ints`` and ``floats`` (stacked) permuted by ``order``, in one parallel pass."""
    n = order.shape[0]
    ni = len(ints)
    nf = len(floats)
    out_i = np.empty((ni, n), dtype=np.int64)
    out_f = np.empty((nf, n), dtype=np.float64)
    for i in prange(n):
        o = order[i]
        for k in range(ni):
            out_i[k, i] = ints[k][o]
        for k in range(nf):
            out_f[k, i] = floats[k][o]
    return out_i, out_f


@njit(cache=True, inline="always")
def _within(
    i: int,
    j: int,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    d2: float,
    lo2: float,
    hi2: float,
    r_red: float,
) -> bool:  # pragma: no cover - compiled
    """Whether points ``i`` and ``j`` (squared chord ``d2`` apart) are within eps.

    Far from the boundary the chord decides; near it, scikit-learn's reduced haversine
    distance, written exactly as in ``sklearn.metrics._dist_metrics.HaversineDistance``, on
    the radians of ``np.radians`` (``lat``, ``lon`` are in degrees).
    """
    if d2 < lo2:
        return True
    if d2 > hi2:
        return False
    lat_i = lat[i] * _DEG2RAD
    lat_j = lat[j] * _DEG2RAD
    sin_0 = math.sin(0.5 * (lat_i - lat_j))
    sin_1 = math.sin(0.5 * (lon[i] * _DEG2RAD - lon[j] * _DEG2RAD))
    return sin_0 * sin_0 + math.cos(lat_i) * math.cos(lat_j) * sin_1 * sin_1 <= r_red


@njit(cache=True, inline="always")
def _box_gap2(
    px: float, py: float, pz: float, bx: int, by: int, bz: int, side: float
) -> float:  # pragma: no cover - compiled
    """Squared distance from a point to grid cell ``(bx, by, bz)``, slightly underestimated.

    Used only to skip cells that are out of reach; the slack covers the rounding of the
    cell index.
    """
    return _gap2(px, bx * side, side) + _gap2(py, by * side, side) + _gap2(pz, bz * side, side)


@njit(cache=True, inline="always")
def _box_far2(
    px: float, py: float, pz: float, bx: int, by: int, bz: int, side: float
) -> float:  # pragma: no cover - compiled
    """Squared distance from a point to the farthest corner of a cell, overestimated."""
    return _far2(px, bx * side, side) + _far2(py, by * side, side) + _far2(pz, bz * side, side)


@njit(cache=True, inline="always")
def _far2(v: float, lo: float, side: float) -> float:  # pragma: no cover - compiled
    """Squared distance from ``v`` to the farther end of ``[lo, lo + side]``, plus 1e-12."""
    d = max(abs(v - lo), abs(lo + side - v)) + 1e-12
    return d * d


@njit(cache=True, inline="always")
def _gap2(v: float, lo: float, side: float) -> float:  # pragma: no cover - compiled
    """Squared distance from ``v`` to ``[lo, lo + side]``, less a slack of 1e-12."""
    d = lo - v if v < lo else v - (lo + side)
    d -= 1e-12
    return d * d if d > 0.0 else 0.0


@njit(cache=True, nogil=True)
def _neighbour_runs(
    cx: np.ndarray, cy: np.ndarray, cz: np.ndarray, reach: int, chunks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The cells around each cell, as runs of consecutive cell indices (CSR layout).

    The neighbourhood of a cell is the block of ``(2 reach + 1) ** 3`` cells centred on it.
    Cells sharing ``(cx, cy)`` are consecutive in key order, so each of the block's
    ``(2 reach + 1) ** 2`` columns is one run of cells; runs are listed in increasing cell
    order. Cell ``c``'s runs are ``lo[ptr[c]:ptr[c + 1]]`` to ``hi[...]`` (exclusive).

    Cells are visited in key order, and the key where each column's run starts only grows,
    so one cursor per column walks the cells once: linear time. The walk is cut into
    ranges of cells run in parallel, each starting its cursors by binary search.
    """
    ncells = cx.shape[0]
    ptr = np.zeros(ncells + 1, dtype=np.int64)
    if ncells == 0:
        return ptr, np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)
    # One int64 key per column (cx, cy), padded by ``reach`` so that neighbouring columns
    # never wrap; it fits easily (spans are below 2 / side, i.e. about 1e8 at eps = 1 m).
    span_y = cy.max() - cy.min() + 2 * reach + 1
    col = (cx - cx.min() + reach) * span_y + (cy - cy.min() + reach)
    # One walk writes each range's runs into its own part of a buffer with room for the
    # most a cell can have; the parts are then packed one after the other.
    most = (2 * reach + 1) ** 2
    buf_lo = np.empty(ncells * most, dtype=np.int32)
    buf_hi = np.empty(ncells * most, dtype=np.int32)
    _walk_runs(col, cz, span_y, reach, ptr, buf_lo, buf_hi, chunks)
    for c in range(ncells):
        ptr[c + 1] += ptr[c]
    lo = np.empty(ptr[ncells], dtype=np.int32)
    hi = np.empty(ptr[ncells], dtype=np.int32)
    _pack_runs(ptr, buf_lo, buf_hi, lo, hi, most, chunks)
    return ptr, lo, hi


@njit(cache=True, parallel=True, nogil=True)
def _pack_runs(
    ptr: np.ndarray,
    buf_lo: np.ndarray,
    buf_hi: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    most: int,
    chunks: int,
) -> None:  # pragma: no cover - compiled
    """Copy each range's runs from its part of the buffers (see :func:`_walk_runs`)."""
    ncells = ptr.shape[0] - 1
    for chunk in prange(chunks):
        c0 = chunk * ncells // chunks
        c1 = (chunk + 1) * ncells // chunks
        a = ptr[c0]
        m = ptr[c1] - a
        lo[a : a + m] = buf_lo[c0 * most : c0 * most + m]
        hi[a : a + m] = buf_hi[c0 * most : c0 * most + m]


@njit(cache=True, inline="always")
def _lower_bound(col: np.ndarray, cz: np.ndarray, t: int, z: int) -> int:  # pragma: no cover
    """First cell whose (column, cz) is not below ``(t, z)`` (cells are in that order)."""
    a = 0
    b = col.shape[0]
    while a < b:
        m = (a + b) // 2
        if col[m] < t or (col[m] == t and cz[m] < z):
            a = m + 1
        else:
            b = m
    return a


@njit(cache=True, parallel=True, nogil=True)
def _walk_runs(
    col: np.ndarray,
    cz: np.ndarray,
    span_y: int,
    reach: int,
    count: np.ndarray,
    buf_lo: np.ndarray,
    buf_hi: np.ndarray,
    chunks: int,
) -> None:  # pragma: no cover - compiled
    """Count each cell's runs into ``count[c + 1]`` and write them out, range by range.

    The cells are cut into ``chunks`` consecutive ranges walked in parallel; each range
    starts its cursors by binary search (the first cell at or after each column's target),
    then walks on as one cursor per column would from the first cell: the same runs as one
    walk over all cells. Range ``[c0, c1)`` writes its runs one after the other from
    ``c0 * (2 reach + 1) ** 2`` in ``buf_lo``/``buf_hi``.
    """
    ncells = col.shape[0]
    width = 2 * reach + 1
    for chunk in prange(chunks):
        c0 = chunk * ncells // chunks
        c1 = (chunk + 1) * ncells // chunks
        if c0 >= c1:
            continue
        cursor = np.empty(width * width, dtype=np.int64)
        k = 0
        for dx in range(-reach, reach + 1):
            for dy in range(-reach, reach + 1):
                cursor[k] = _lower_bound(col, cz, col[c0] + dx * span_y + dy, cz[c0] - reach)
                k += 1
        out = c0 * width * width
        for c in range(c0, c1):
            k = 0
            first = out
            z_lo = cz[c] - reach
            z_hi = cz[c] + reach
            for dx in range(-reach, reach + 1):
                for dy in range(-reach, reach + 1):
                    t = col[c] + dx * span_y + dy
                    a = cursor[k]
                    while a < ncells and (col[a] < t or (col[a] == t and cz[a] < z_lo)):
                        a += 1
                    cursor[k] = a
                    k += 1
                    b = a
                    while b < ncells and col[b] == t and cz[b] <= z_hi:
                        b += 1
                    if b > a:
                        buf_lo[out] = a
                        buf_hi[out] = b
                        out += 1
            count[c + 1] = out - first


@njit(cache=True, nogil=True)
def _cells(
    ix: np.ndarray, iy: np.ndarray, iz: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Runs of points sharing a cell: starts (with the end appended), keys and weights.

    Cell weights are summed in point order, a canonical order.
    """
    n = ix.shape[0]
    ncells = 0
    for i in range(n):
        if i == 0 or ix[i] != ix[i - 1] or iy[i] != iy[i - 1] or iz[i] != iz[i - 1]:
            ncells += 1
    start = np.empty(ncells + 1, dtype=np.int64)
    cx = np.empty(ncells, dtype=np.int64)
    cy = np.empty(ncells, dtype=np.int64)
    cz = np.empty(ncells, dtype=np.int64)
    cw = np.zeros(ncells)
    c = -1
    for i in range(n):
        if i == 0 or ix[i] != ix[i - 1] or iy[i] != iy[i - 1] or iz[i] != iz[i - 1]:
            c += 1
            start[c] = i
            cx[c] = ix[i]
            cy[c] = iy[i]
            cz[c] = iz[i]
        cw[c] += w[i]
    start[ncells] = n
    return start, cx, cy, cz, cw


#: Blocks of consecutive cells that the per-cell loops share out among threads, a power of
#: two. Dense and sparse parts of the world lie in long runs of cells, so each thread takes
#: blocks spread over the whole range (bit-reversed block numbers), not one contiguous part.
_BLOCK_BITS = 12
_BLOCKS = 1 << _BLOCK_BITS


@njit(cache=True, inline="always")
def _spread(j: int) -> int:  # pragma: no cover - compiled
    """Block number ``j`` with its ``_BLOCK_BITS`` bits reversed."""
    r = 0
    for b in range(_BLOCK_BITS):
        r |= ((j >> b) & 1) << (_BLOCK_BITS - 1 - b)
    return r


@njit(cache=True, parallel=True, nogil=True)
def _core_mask(
    start: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    cz: np.ndarray,
    cw: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    w: np.ndarray,
    side: float,
    run_ptr: np.ndarray,
    run_lo: np.ndarray,
    run_hi: np.ndarray,
    lo2: float,
    hi2: float,
    r_red: float,
    min_weight: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """Core flag of every point (points in canonical order).

    The weight within eps of a point is summed cell by cell: in each cell of its
    neighbourhood, the weights of the cell's points within eps in point order (for a cell
    wholly within reach, that is the cell's weight ``cw``), then these per-cell sums in cell
    order. Both orders are canonical, so the sum does not depend on the input order. All
    terms being non-negative, the sum is at least any of its per-cell terms, so a cell heavy
    enough by itself makes all its points core. Otherwise whole cells bound a point's sum
    from below and above (allowing for rounding error), and only a point whose bounds
    straddle ``min_weight`` adds up its neighbours, stopping once the sum reaches it.
    """
    ncells = cx.shape[0]
    n = x.shape[0]
    core = np.zeros(n, dtype=np.bool_)
    for j in prange(_BLOCKS):
        blk = _spread(j)
        for c in range(blk * ncells // _BLOCKS, (blk + 1) * ncells // _BLOCKS):
            a = start[c]
            b = start[c + 1]
            if cw[c] >= min_weight:
                for p in range(a, b):
                    core[p] = True
                continue
            bound = 0.0
            for k in range(run_ptr[c], run_ptr[c + 1]):
                for c2 in range(run_lo[k], run_hi[k]):
                    bound += cw[c2]
            terms = 2
            for k in range(run_ptr[c], run_ptr[c + 1]):
                terms += start[run_hi[k]] - start[run_lo[k]]
            if bound * (1.0 + _SUM_ERR_PER_TERM * terms) < min_weight:
                continue
            # Enough for "core" whatever the number of terms summed (all of the neighbourhood's).
            enough = min_weight / (1.0 - _SUM_ERR_PER_TERM * terms)
            for p in range(a, b):
                # Bounds from whole cells: those out of reach, partly in reach, wholly in reach.
                # The lower bound only grows, so once it is enough the point is core.
                lower = cw[c]
                upper = 0.0
                terms = 2
                for k in range(run_ptr[c], run_ptr[c + 1]):
                    for c2 in range(run_lo[k], run_hi[k]):
                        if c2 != c:
                            if _box_gap2(x[p], y[p], z[p], cx[c2], cy[c2], cz[c2], side) > hi2:
                                continue
                            if _box_far2(x[p], y[p], z[p], cx[c2], cy[c2], cz[c2], side) < lo2:
                                lower += cw[c2]
                        upper += cw[c2]
                        terms += start[c2 + 1] - start[c2]
                    if lower >= enough:
                        break
                if lower >= enough:
                    core[p] = True
                    continue
                err = _SUM_ERR_PER_TERM * terms
                if upper * (1.0 + err) < min_weight:
                    continue
                if lower * (1.0 - err) >= min_weight:
                    core[p] = True
                    continue
                total = 0.0
                for k in range(run_ptr[c], run_ptr[c + 1]):
                    for c2 in range(run_lo[k], run_hi[k]):
                        if c2 == c:
                            total += cw[c2]
                            continue
                        if _box_gap2(x[p], y[p], z[p], cx[c2], cy[c2], cz[c2], side) > hi2:
                            continue
                        if _box_far2(x[p], y[p], z[p], cx[c2], cy[c2], cz[c2], side) < lo2:
                            total += cw[c2]
                            continue
                        part = 0.0
                        for q in range(start[c2], start[c2 + 1]):
                            dx = x[p] - x[q]
                            dy = y[p] - y[q]
                            dz = z[p] - z[q]
                            d2 = dx * dx + dy * dy + dz * dz
                            if _within(p, q, x, y, z, lat, lon, d2, lo2, hi2, r_red):
                                part += w[q]
                        total += part
                    if total >= min_weight:
                        break
                core[p] = total >= min_weight
    return core


@njit(cache=True, nogil=True)
def find_root(parent: np.ndarray, i: int) -> int:  # pragma: no cover - compiled
    """Root of ``i`` in a union-find forest ``parent``, halving the path on the way.

    Compiled; called from other compiled code (the kernel's cell links, ``areas``' merges).
    """
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(cache=True, nogil=True)
def _link_cells(
    start: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    cz: np.ndarray,
    has_core: np.ndarray,
    core: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    side: float,
    run_ptr: np.ndarray,
    run_lo: np.ndarray,
    run_hi: np.ndarray,
    lo2: float,
    hi2: float,
    r_red: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """Union-find over cells holding cores; return each cell's root.

    The components (not the roots) are what matters, and they are unique.
    """
    ncells = cx.shape[0]
    parent = np.arange(ncells)
    for c in range(ncells):
        if not has_core[c]:
            continue
        for k in range(run_ptr[c], run_ptr[c + 1]):
            for c2 in range(max(run_lo[k], c + 1), run_hi[k]):
                if not has_core[c2]:
                    continue
                r1 = find_root(parent, c)
                r2 = find_root(parent, c2)
                if r1 == r2:
                    continue
                linked = False
                for p in range(start[c], start[c + 1]):
                    if not core[p]:
                        continue
                    if _box_gap2(x[p], y[p], z[p], cx[c2], cy[c2], cz[c2], side) > hi2:
                        continue
                    for q in range(start[c2], start[c2 + 1]):
                        if not core[q]:
                            continue
                        dx = x[p] - x[q]
                        dy = y[p] - y[q]
                        dz = z[p] - z[q]
                        d2 = dx * dx + dy * dy + dz * dz
                        if _within(p, q, x, y, z, lat, lon, d2, lo2, hi2, r_red):
                            linked = True
                            break
                    if linked:
                        break
                if linked:
                    if r1 < r2:
                        parent[r2] = r1
                    else:
                        parent[r1] = r2
    for c in range(ncells):
        parent[c] = find_root(parent, c)
    return parent


@njit(cache=True, parallel=True, nogil=True)
def _cluster_heads(
    start: np.ndarray,
    root: np.ndarray,
    has_core: np.ndarray,
    core: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    w: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Per cell: if it is a root, its cluster's smallest core point in (lat, lon, w) order.

    Other cells get -1. A cell's points are in (lat, lon, w) order, so its first core point
    is its smallest; the cells' firsts are then compared per root. Two distinct core points
    never tie: equal (lat, lon, w) means the same place, hence the same cluster.
    """
    ncells = root.shape[0]
    first = np.full(ncells, -1, dtype=np.int64)
    for c in prange(ncells):
        if has_core[c]:
            for p in range(start[c], start[c + 1]):
                if core[p]:
                    first[c] = p
                    break
    head = np.full(ncells, -1, dtype=np.int64)
    for c in range(ncells):
        p = first[c]
        if p < 0:
            continue
        r = root[c]
        f = head[r]
        if (
            f < 0
            or lat[p] < lat[f]
            or (lat[p] == lat[f] and (lon[p] < lon[f] or (lon[p] == lon[f] and w[p] < w[f])))
        ):
            head[r] = p
    return head


@njit(cache=True, parallel=True, nogil=True)
def _label_points(
    start: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    cz: np.ndarray,
    cell_label: np.ndarray,
    core: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    side: float,
    run_ptr: np.ndarray,
    run_lo: np.ndarray,
    run_hi: np.ndarray,
    lo2: float,
    hi2: float,
    r_red: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """Label of every point: its cell's cluster if core, else its nearest core's cluster.

    Nearest is by squared chord (computed in float64), ties to the lowest label; a point with
    no core within eps is noise.
    """
    ncells = cx.shape[0]
    n = x.shape[0]
    labels = np.full(n, -1, dtype=np.int64)
    for j in prange(_BLOCKS):
        blk = _spread(j)
        for c in range(blk * ncells // _BLOCKS, (blk + 1) * ncells // _BLOCKS):
            a = start[c]
            b = start[c + 1]
            all_core = True
            for p in range(a, b):
                if core[p]:
                    labels[p] = cell_label[c]
                else:
                    all_core = False
            if all_core:
                continue
            for p in range(a, b):
                if core[p]:
                    continue
                best_d2 = np.inf
                best = -1
                for k in range(run_ptr[c], run_ptr[c + 1]):
                    for c2 in range(run_lo[k], run_hi[k]):
                        lab = cell_label[c2]
                        if lab < 0:
                            continue
                        gap2 = _box_gap2(x[p], y[p], z[p], cx[c2], cy[c2], cz[c2], side)
                        if gap2 > hi2 or gap2 > best_d2:
                            continue
                        for q in range(start[c2], start[c2 + 1]):
                            if not core[q]:
                                continue
                            dx = x[p] - x[q]
                            dy = y[p] - y[q]
                            dz = z[p] - z[q]
                            d2 = dx * dx + dy * dy + dz * dz
                            if d2 > best_d2 or (d2 == best_d2 and lab >= best):
                                continue
                            if c2 == c or _within(p, q, x, y, z, lat, lon, d2, lo2, hi2, r_red):
                                best_d2 = d2
                                best = lab
                labels[p] = best
    return labels


def _dbscan_sorted(
    start: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    cz: np.ndarray,
    cw: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    w: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    side: float,
    reach: int,
    lo2: float,
    hi2: float,
    r_red: float,
    min_weight: float,
) -> tuple[np.ndarray, np.ndarray]:
    """DBSCAN of points sorted by (cell, lat, lon, weight), in cells; labels and core mask."""
    chunks = numba.get_num_threads() * _BUCKETS_PER_THREAD
    run_ptr, run_lo, run_hi = _neighbour_runs(cx, cy, cz, reach, chunks)
    core = _core_mask(
        start,
        cx,
        cy,
        cz,
        cw,
        x,
        y,
        z,
        lat,
        lon,
        w,
        side,
        run_ptr,
        run_lo,
        run_hi,
        lo2,
        hi2,
        r_red,
        min_weight,
    )
    has_core = _any_per_cell(start, core)
    root = _link_cells(
        start,
        cx,
        cy,
        cz,
        has_core,
        core,
        x,
        y,
        z,
        lat,
        lon,
        side,
        run_ptr,
        run_lo,
        run_hi,
        lo2,
        hi2,
        r_red,
    )
    head = _cluster_heads(start, root, has_core, core, lat, lon, w)
    roots = np.flatnonzero(head >= 0)
    heads = head[roots]
    label_of_root = np.full(len(root), -1, dtype=np.int64)
    label_of_root[roots] = np.argsort(np.lexsort((w[heads], lon[heads], lat[heads])))
    cell_label = np.where(has_core, label_of_root[root], -1)
    labels = _label_points(
        start,
        cx,
        cy,
        cz,
        cell_label,
        core,
        x,
        y,
        z,
        lat,
        lon,
        side,
        run_ptr,
        run_lo,
        run_hi,
        lo2,
        hi2,
        r_red,
    )
    return labels, core


#: Numba threading layers that allow parallel kernels to be launched from several threads.
_THREADSAFE_LAYERS = ("omp", "tbb")


def concurrent_calls_safe() -> bool:
    """Whether several threads of this process may call :func:`weighted_dbscan` at once.

    True when Numba's threading layer is thread-safe (OpenMP or TBB). The layer is chosen
    by Numba at the first parallel launch, so this runs the kernel once on one point first.
    """
    weighted_dbscan(np.zeros(1), np.zeros(1), np.ones(1), eps_km=1.0, min_weight=1.0)
    return numba.threading_layer() in _THREADSAFE_LAYERS


def kernel_compiled() -> bool:
    """Whether Numba's on-disk cache holds the kernel compiled from this very source.

    The kernel is compiled once per machine (about 20-35 s on two cores) and cached beside
    this module (or in ``$NUMBA_CACHE_DIR``); the pipeline uses this to say so on the first
    run instead of showing a silent spinner. The check is Numba's own: the cache index of
    the kernel's last compiled step is read, and it holds entries only when its source
    stamp (a hash of this file) and Numba version match.
    """
    cache = getattr(_label_points, "_cache", None)
    index = getattr(getattr(cache, "_cache_file", None), "_load_index", None)
    if index is None:  # a Numba without the on-disk cache layout known here
        return False
    try:
        return bool(index())
    except OSError:
        return False
