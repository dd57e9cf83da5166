"""Areas: metric clusters merged across metrics into clusters with a footprint.

Each metric is clustered on its own with :func:`innoclusters.density.weighted_dbscan`
(``eps_km`` shared, core density per metric). Metric clusters are then merged into areas:

* **Overlap.** Two metric clusters of *different* metrics overlap when a member location
  (core or border) of one lies within ``eps_km`` great-circle distance (inclusive) of a
  member location of the other. Equivalently, their footprints -- the union of discs of
  radius ``eps_km / 2`` around their members -- intersect. Overlap is a property of the two
  sets of locations only, so merging does not depend on the order of the input.
* **Areas** are the connected components of the overlap graph: a patents cluster and a
  publications cluster that overlap form one area, and so does a chain of them. Clusters of
  the same metric are never merged directly (DBSCAN already separated them).
* **Membership.** A location that is a member of a metric cluster belongs to that cluster's
  area. Any other location (noise of its metric) belongs to the area whose nearest member
  location lies within ``eps_km / 2``, i.e. inside the footprint; otherwise to no area.
  So a cluster found on patents also counts the publications and deals inside it. When
  members of two areas are equally near, the member with the smaller latitude, then
  longitude, decides (:func:`nearest_members`), whatever the order of the rows.
* **Footprint.** The union of discs of radius ``eps_km / 2`` around the members, drawn in a
  local equirectangular projection around the area's centre (member locations are first
  snapped to a grid of ``eps_km / 8`` to keep polygons small) and simplified to 1/20 of
  ``eps_km``. The polygon is for maps and population; membership is computed exactly.
* **Links.** :func:`merge_links` states why an area is one: for every pair of overlapping
  metric clusters, the closest pair of their member locations and its distance
  (``links.csv``).
* **Identity.** ``cluster_id`` is built from the coordinates of the area's most active
  location (``C+35.69+139.69``), so it does not depend on input order and stays the same
  across runs while the area's peak stays put.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pandas as pd
import shapely
from numba import njit
from scipy.spatial import cKDTree

from innoclusters.config import Settings
from innoclusters.density import find_root, weighted_dbscan
from innoclusters.geo import chord, haversine_km, unit_vectors

__all__ = [
    "LINK_COLUMNS",
    "area_centres",
    "area_id",
    "area_index",
    "area_peaks",
    "assign_areas",
    "cluster_metrics",
    "discs",
    "footprints",
    "merge_links",
    "nearest_members",
]


def cluster_metrics(
    locations: pd.DataFrame,
    *,
    settings: Settings,
    totals: Mapping[str, float],
    metrics: Sequence[str],
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Run the density kernel on each metric's locations.

    Parameters
    ----------
    locations
        The locations table (``metric, lat, lon, weight, ...``).
    settings
        Supplies ``eps_km`` and the density per metric.
    totals
        World total weight per metric (the base of ``min_share``).
    metrics
        Metrics to cluster; locations of other metrics get no cluster.

    Returns
    -------
    locations : pandas.DataFrame
        A copy with ``metric_cluster`` (int, -1 for noise) and ``core`` (bool).
    densities : dict
        The absolute ``min_weight`` used per metric.
    """
    # A shallow copy: new columns are added, the caller's columns are shared, never written.
    out = locations.copy(deep=False)
    labels = np.full(len(out), -1, dtype=np.int64)
    core = np.zeros(len(out), dtype=bool)
    densities: dict[str, float] = {}
    # Row positions per metric without a Python string per row; coordinates and weights
    # taken as arrays, not as a copy of every column of each metric's rows.
    positions = out.groupby("metric", sort=False, observed=True).indices
    lat = out["lat"].to_numpy(dtype=float)
    lon = out["lon"].to_numpy(dtype=float)
    weight = out["weight"].to_numpy(dtype=float)
    for metric in metrics:
        idx = positions.get(metric)
        if idx is None or not len(idx):
            continue
        min_weight = settings.density_for(metric, totals.get(metric, 0.0))
        densities[metric] = min_weight
        if min_weight <= 0:
            continue
        lab, cor = weighted_dbscan(
            lat[idx], lon[idx], weight[idx], eps_km=settings.eps_km, min_weight=min_weight
        )
        labels[idx] = lab
        core[idx] = cor
    out["metric_cluster"] = labels
    out["core"] = core
    return out, densities


def _overlapping_pairs(
    keys: list[tuple[str, int]], groups: list[np.ndarray], xyz: np.ndarray, chord: float
) -> tuple[list[tuple[int, int]], dict[int, cKDTree], dict[tuple[int, int], np.ndarray]]:
    """Pairs of metric clusters of different metrics with members within ``chord``.

    Also returns the k-d trees built on the way (group -> tree of its members' unit
    vectors) and, per pair found, the distances that decided it: ``(a, b) -> distances``
    from each member of group ``b`` to its nearest member of group ``a`` (the larger),
    within ``chord * (1 + 1e-12)``, ``inf`` beyond.
    """
    lo = np.array([xyz[g].min(axis=0) for g in groups]) - chord
    hi = np.array([xyz[g].max(axis=0) for g in groups]) + chord
    pairs: list[tuple[int, int]] = []
    trees: dict[int, cKDTree] = {}
    nearest: dict[tuple[int, int], np.ndarray] = {}
    for i in range(len(groups)):
        # Bounding boxes (grown by the radius) must intersect for members to be near.
        near = np.flatnonzero(np.all((lo <= hi[i]) & (hi >= lo[i]), axis=1))
        for j in near[near > i]:
            if keys[i][0] == keys[j][0]:
                continue
            a, b = (i, j) if len(groups[i]) >= len(groups[j]) else (j, i)
            if a not in trees:
                trees[a] = cKDTree(xyz[groups[a]])
            dist, _ = trees[a].query(xyz[groups[b]], k=1, distance_upper_bound=chord * (1 + 1e-12))
            if np.isfinite(dist).any():
                pairs.append((i, int(j)))
                nearest[(int(a), int(b))] = dist
    return pairs, trees, nearest


def _activity(
    weight: np.ndarray,
    codes: np.ndarray,
    names: Sequence[str],
    totals: Mapping[str, float],
    settings: Settings,
) -> np.ndarray:
    """Each location's contribution to a score: share in percent times the metric weight.

    ``codes`` index ``names``, the metric of each location (``-1``: none).
    """
    scale = {m: (100.0 * settings.weight_of(m) / t if t > 0 else 0.0) for m, t in totals.items()}
    factor = np.array([scale.get(m, 0.0) for m in names] + [0.0])
    return weight * factor[codes]


#: Distances (on the unit sphere) closer than this are equal for the membership rule:
#: about 6 micrometres on the Earth, far below any rounding grid, far above float error.
TIE_CHORD = 1e-12


def nearest_members(
    member_lat: np.ndarray,
    member_lon: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    max_km: float,
) -> np.ndarray:
    """Index of each point's nearest member location within ``max_km``, by a canonical rule.

    The nearest member by great-circle distance (inclusive of ``max_km``); members equally
    near (to :data:`TIE_CHORD`) are ranked by latitude, then longitude, and the first wins.
    So the answer depends only on the coordinates, never on the order of the members (a
    k-d tree alone returns whichever of two equidistant members it meets first).

    Parameters
    ----------
    member_lat, member_lon
        Member locations in degrees.
    lat, lon
        Points to place, in degrees.
    max_km
        Largest distance to a member, in great-circle km.

    Returns
    -------
    numpy.ndarray
        Position in the members of each point's nearest member, ``-1`` when none is
        within ``max_km``.
    """
    member_lat = np.asarray(member_lat, dtype=float)
    member_lon = np.asarray(member_lon, dtype=float)
    out = np.full(len(lat), -1, dtype=np.int64)
    if not len(member_lat) or not len(out):
        return out
    tree = cKDTree(unit_vectors(member_lat, member_lon))
    xyz = unit_vectors(lat, lon)
    k = min(2, len(member_lat))
    dist, idx = tree.query(xyz, k=k, distance_upper_bound=float(chord(max_km)) * (1 + 1e-12))
    dist = dist.reshape(len(out), k)
    idx = idx.reshape(len(out), k)
    hit = np.isfinite(dist[:, 0])
    out[hit] = idx[hit, 0]
    if k == 2:
        ties = np.flatnonzero(hit)
        ties = ties[dist[ties, 1] - dist[ties, 0] <= TIE_CHORD]
        if len(ties):
            # Position of each member in (lat, lon) order: the first of the tied wins.
            order = np.empty(len(member_lat), dtype=np.int64)
            order[np.lexsort((member_lon, member_lat))] = np.arange(len(member_lat))
            near = tree.query_ball_point(xyz[ties], r=dist[ties, 0] + TIE_CHORD)
            for t, candidates in zip(ties.tolist(), near, strict=True):
                cand = np.asarray(candidates, dtype=np.int64)
                out[t] = cand[np.argmin(order[cand])]
    return out


def _format_id(lat: float, lon: float, decimals: int) -> str:
    return f"C{lat:+.{decimals}f}{lon:+.{decimals}f}"


def assign_areas(
    locations: pd.DataFrame,
    *,
    settings: Settings,
    totals: Mapping[str, float],
) -> pd.DataFrame:
    """Merge overlapping metric clusters into areas and assign every location to one or none.

    Parameters
    ----------
    locations
        Output of :func:`cluster_metrics` (``metric_cluster`` and ``core`` columns).
    settings
        Supplies ``eps_km``, ``rounding`` and the metric weights.
    totals
        World total weight per metric, for the activity that picks each area's peak.

    Returns
    -------
    pandas.DataFrame
        A copy with ``cluster_id`` (str, ``None`` outside every area) and ``activity``
        (the location's contribution to its area's score).
    """
    out = locations.copy(deep=False)  # new columns only; the input is never written
    n = len(out)
    lat = out["lat"].to_numpy(dtype=float)
    lon = out["lon"].to_numpy(dtype=float)
    labels = out["metric_cluster"].to_numpy(dtype=np.int64)
    codes, metrics = pd.factorize(out["metric"], sort=True)
    activity = _activity(
        out["weight"].to_numpy(dtype=float), codes, [str(m) for m in metrics], totals, settings
    )
    out["activity"] = activity
    # The rule on arrays, compiled (area_index); areas named after their peak location
    # (most activity; ties by lat, lon).
    area = area_index(unit_vectors(lat, lon), lat, lon, codes, labels, eps_km=settings.eps_km)
    ids = np.full(n, None, dtype=object)
    in_area = np.flatnonzero(area >= 0)
    if len(in_area):
        peak_ids = np.array(
            [
                area_id(lat[p], lon[p], rounding=settings.rounding)
                for p in area_peaks(area, activity, lat, lon)
            ],
            dtype=object,
        )
        ids[in_area] = peak_ids[area[in_area]]
    out["cluster_id"] = pd.Series(ids, index=out.index, dtype="object")
    return out


def _local_xy(
    lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float
) -> tuple[np.ndarray, np.ndarray, float]:
    kx = 111.32 * max(math.cos(math.radians(lat0)), 0.01)
    dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
    return dlon * kx, (lat - lat0) * 110.574, kx


def footprints(areas: pd.DataFrame, *, eps_km: float) -> dict[str, shapely.Geometry]:
    """Footprint polygon of each area, in longitude/latitude.

    Parameters
    ----------
    areas
        Member locations of the areas: ``cluster_id, lat, lon`` and the area centre as
        ``centre_lat, centre_lon``.
    eps_km
        The DBSCAN radius; discs of ``eps_km / 2`` are drawn around members.

    Returns
    -------
    dict
        ``cluster_id -> Polygon or MultiPolygon``; longitudes are unwrapped around the
        centre, so an area crossing the antimeridian may pass 180 or -180.
    """
    # Each area's rows in row order, areas in id order, as arrays (no frame per area).
    codes, ids = pd.factorize(areas["cluster_id"].to_numpy(), sort=True)
    rows = np.argsort(codes, kind="stable")[np.count_nonzero(codes < 0) :]
    heads = np.flatnonzero(np.diff(codes[rows], prepend=-1))
    lat = areas["lat"].to_numpy(dtype=float)
    lon = areas["lon"].to_numpy(dtype=float)
    lat0 = areas["centre_lat"].to_numpy(dtype=float)
    lon0 = areas["centre_lon"].to_numpy(dtype=float)
    groups = [
        (str(ids[codes[own[0]]]), lat[own], lon[own], float(lat0[own[0]]), float(lon0[own[0]]))
        for own in np.split(rows, heads[1:])
        if len(own)
    ]
    # Shapely releases the GIL in its vectorised operations: areas are drawn on all cores,
    # the largest first, so that a large area drawn last does not leave the others idle.
    largest_first = sorted(groups, key=lambda g: -len(g[1]))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        shapes = list(pool.map(lambda g: _footprint(*g[1:], eps_km=eps_km), largest_first))
    drawn = {g[0]: shape for g, shape in zip(largest_first, shapes, strict=True)}
    return {g[0]: drawn[g[0]] for g in groups}


def _footprint(
    lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float, *, eps_km: float
) -> shapely.Geometry:
    """Footprint of one area's members around its centre ``(lat0, lon0)``."""
    radius = eps_km / 2.0
    snap = eps_km / 8.0
    x, y, kx = _local_xy(lat, lon, lat0, lon0)
    shape = shapely.union_all(discs(_snapped_cells(x / snap, y / snap) * snap, radius))
    shape = shapely.simplify(shape, eps_km / 20.0)

    def back(coords: np.ndarray) -> np.ndarray:
        return np.column_stack((lon0 + coords[:, 0] / kx, lat0 + coords[:, 1] / 110.574))

    shape = shapely.transform(shape, back)
    return shapely.clip_by_rect(shape, -540.0, -90.0, 540.0, 90.0)


def _snapped_cells(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distinct grid cells ``(round(x), round(y))`` as float rows, sorted by x then y.

    The rows of ``np.unique(np.column_stack((np.round(x), np.round(y))), axis=0)``, found
    on one int64 key per point (a sort of integers, not of row records: 6x faster), with
    every zero ``+0.0`` (np.unique keeps whichever of ``-0.0`` and ``+0.0`` its sort meets
    first; a footprint drawn around the centre ``lat0, lon0`` does not depend on it).
    """
    if not len(x):
        return np.zeros((0, 2))
    ix = np.round(x).astype(np.int64)
    iy = np.round(y).astype(np.int64)
    x0, y0 = ix.min(), iy.min()
    span = int(iy.max() - y0) + 1
    key = np.unique((ix - x0) * span + (iy - y0))
    return np.column_stack((key // span + x0, key % span + y0)).astype(np.float64)


@functools.lru_cache(maxsize=8)
def _disc_offsets(radius: float) -> np.ndarray:
    """The ring of GEOS's buffer of the point ``(0, 0)`` by ``radius`` (16 segments)."""
    disc = shapely.buffer(shapely.Point(0.0, 0.0), radius, quad_segs=4)
    ring = shapely.get_coordinates(disc)
    ring.flags.writeable = False
    return ring


def discs(centres: np.ndarray, radius: float) -> np.ndarray:
    """``shapely.buffer(shapely.points(centres), radius, quad_segs=4)``, 3x faster.

    GEOS draws a point's buffer as the ring ``(x + r cos a, y + r sin a)`` for 16 angles
    ``a`` from 0 clockwise, starting and closing at ``(x + r, y)``; the same ring is built
    here from its offsets around ``(0, 0)`` in one array, so each polygon is the buffer's,
    coordinate for coordinate and bit for bit (checked against GEOS on every disc of the
    demo worlds, and in tests/test_areas.py).

    Parameters
    ----------
    centres
        ``(n, 2)`` array of x, y.
    radius
        Radius in the units of ``centres``.

    Returns
    -------
    numpy.ndarray
        ``n`` shapely Polygons.
    """
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    coords = centres[:, None, :] + _disc_offsets(float(radius))[None, :, :]
    # The first and last vertex are (x + r, y) itself, not y + 0.0 (which turns -0.0 to 0.0).
    coords[:, 0, 1] = centres[:, 1]
    coords[:, -1, 1] = centres[:, 1]
    return np.asarray(shapely.polygons(coords), dtype=object)


def area_centres(locations: pd.DataFrame) -> pd.DataFrame:
    """Activity-weighted centre of each area, on the sphere.

    Parameters
    ----------
    locations
        Output of :func:`assign_areas`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cluster_id`` (sorted), columns ``centre_lat, centre_lon``.
    """
    ids = locations["cluster_id"].to_numpy()
    inside = np.flatnonzero(pd.notna(ids))  # rows of the areas, columns taken as arrays
    xyz = unit_vectors(
        locations["lat"].to_numpy(dtype=float)[inside],
        locations["lon"].to_numpy(dtype=float)[inside],
    )
    w = locations["activity"].to_numpy(dtype=float)[inside]
    w = np.where(w > 0, w, 1e-12)
    frame = pd.DataFrame(xyz * w[:, None], columns=["x", "y", "z"])
    frame["cluster_id"] = ids[inside]
    s = frame.groupby("cluster_id", sort=True)[["x", "y", "z"]].sum()
    norm = np.sqrt((s**2).sum(axis=1))
    lat = np.degrees(np.arcsin(np.clip(s["z"] / norm, -1.0, 1.0)))
    lon = np.degrees(np.arctan2(s["y"], s["x"]))
    return pd.DataFrame({"centre_lat": lat, "centre_lon": lon}, index=s.index)


#: Columns of :func:`merge_links` (and ``links.csv``).
LINK_COLUMNS = (
    "cluster_id",
    "metric_a",
    "metric_cluster_a",
    "metric_b",
    "metric_cluster_b",
    "lat_a",
    "lon_a",
    "lat_b",
    "lon_b",
    "distance_km",
)


def merge_links(locations: pd.DataFrame, *, eps_km: float) -> pd.DataFrame:
    """Why each area is one: the closest pair of locations of every merged pair of clusters.

    Two metric clusters of different metrics overlap when a member of one lies within
    ``eps_km`` of a member of the other (see :func:`assign_areas`); the overlaps join metric
    clusters into areas. For each overlapping pair this gives the two member locations that
    are closest (great-circle) and their distance, which is at most ``eps_km``. An area made
    of a single metric cluster has no link.

    Parameters
    ----------
    locations
        Output of :func:`assign_areas` (``metric, lat, lon, metric_cluster, cluster_id``).
    eps_km
        The DBSCAN radius of the run.

    Returns
    -------
    pandas.DataFrame
        :data:`LINK_COLUMNS`, one row per overlapping pair, ``metric_a < metric_b``
        alphabetically, sorted by ``cluster_id`` then the metrics and metric clusters. Ties
        in distance go to the pair that comes first by ``lat, lon`` of ``a`` then ``b``.
    """
    labels = locations["metric_cluster"].to_numpy(dtype=np.int64)
    member = np.flatnonzero(labels >= 0)
    rows: list[tuple[object, ...]] = []
    if len(member):
        # Members only, as arrays (positions below are among the members, in row order).
        codes, names = pd.factorize(locations["metric"].take(member), sort=True)
        lat = locations["lat"].to_numpy(dtype=float)[member]
        lon = locations["lon"].to_numpy(dtype=float)[member]
        area = locations["cluster_id"].to_numpy()
        xyz = unit_vectors(lat, lon)
        # Metric clusters in (metric, label) order, each its members' positions in order.
        span = int(labels[member].max()) + 1
        key = codes.astype(np.int64) * span + labels[member]
        by_key = np.argsort(key, kind="stable")
        heads = np.flatnonzero(np.diff(key[by_key], prepend=-1))
        keys = [(str(names[k // span]), int(k % span)) for k in key[by_key[heads]].tolist()]
        groups = np.split(by_key, heads[1:])
        radius = float(chord(eps_km))
        pairs, trees, nearest = _overlapping_pairs(keys, groups, xyz, radius)

        def link(pair: tuple[int, int]) -> tuple[object, ...]:
            i, j = pair
            a, b = (i, j) if keys[i] <= keys[j] else (j, i)
            ga, gb = groups[a], groups[b]
            # The tree and distances of the overlap test when they are these; else anew.
            tree = trees[a] if a in trees else cKDTree(xyz[ga])
            dist = nearest.pop((a, b), None)
            if dist is None:
                dist, _ = tree.query(xyz[gb], k=1, distance_upper_bound=radius * (1 + 1e-12))
            best = float(np.min(dist))
            # Every pair at the smallest distance, then the first by coordinates.
            hits = np.flatnonzero(dist <= best)
            near = tree.query_ball_point(xyz[gb[hits]], best * (1 + 1e-12))
            counts = np.fromiter(map(len, near), dtype=np.int64, count=len(near))
            ca = ga[np.fromiter(itertools.chain.from_iterable(near), dtype=np.int64)]
            cb = gb[np.repeat(hits, counts)]
            first = np.lexsort((cb, ca, lon[cb], lat[cb], lon[ca], lat[ca]))[0]
            ia, ib = int(ca[first]), int(cb[first])
            la, loa, lb, lob = lat[ia], lon[ia], lat[ib], lon[ib]
            km = float(haversine_km(la, loa, lb, lob))
            return (area[member[ia]], *keys[a], *keys[b], la, loa, lb, lob, km)

        # Pairs on all cores (k-d trees and NumPy release the GIL), rows in pair order.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            rows = list(pool.map(link, pairs))
    links = pd.DataFrame(rows, columns=list(LINK_COLUMNS))
    links = links.sort_values(
        ["cluster_id", "metric_a", "metric_cluster_a", "metric_b", "metric_cluster_b"],
        kind="mergesort",
    )
    return links.reset_index(drop=True)


# --- the area rule on arrays (compiled) ----------------------------------------------------

#: Smallest cell side of the compiled grids (about 12 m on the Earth): three axes of
#: packed cell indices then fit in one int64.
_MIN_SIDE = 2.0**-19


def area_index(
    xyz: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    metric: np.ndarray,
    labels: np.ndarray,
    *,
    eps_km: float,
) -> np.ndarray:
    """Area of each location by the rule of :func:`assign_areas`, on arrays, without ids.

    Metric clusters of different metrics with members within ``eps_km`` of each other are
    joined (connected components); a member belongs to its metric cluster's area; any other
    location to the area of its nearest member within ``eps_km / 2`` (members equally near
    to :data:`TIE_CHORD`: the first by latitude, then longitude), as
    :func:`nearest_members` places it. Compiled, and it releases the GIL, so the
    replicates of :mod:`innoclusters.uncertainty` can run it on several threads at once.

    Parameters
    ----------
    xyz
        Unit vectors of the locations (:func:`innoclusters.geo.unit_vectors`), ``(n, 3)``.
    lat, lon
        Coordinates in degrees (the tie rule).
    metric
        Integer code of each location's metric.
    labels
        Metric cluster of each location within its metric (``-1`` for noise).
    eps_km
        The DBSCAN radius.

    Returns
    -------
    numpy.ndarray
        Area of each location, ``0..k-1``, numbered by the smallest (metric code, metric
        cluster) in each area; ``-1`` outside every area.
    """
    n = len(labels)
    metric_a = np.require(metric, dtype=np.int64, requirements=["C", "W"])
    labels_a = np.require(labels, dtype=np.int64, requirements=["C", "W"])
    if n == 0 or not (labels_a >= 0).any():
        return np.full(n, -1, dtype=np.int64)
    xyz_a = np.asarray(xyz, dtype=np.float64)
    x, y, z = (np.ascontiguousarray(xyz_a[:, k]) for k in range(3))
    lat_a = np.require(lat, dtype=np.float64, requirements=["C", "W"])
    lon_a = np.require(lon, dtype=np.float64, requirements=["C", "W"])
    area, members, mx, my, mz = _link_areas(
        x, y, z, metric_a, labels_a, float(chord(eps_km)) * (1 + 1e-12)
    )
    # Membership on a grid of cells no smaller than eps_km / 2 (all members within reach
    # of a location lie in the 27 cells around its own), row ranges on Numba's threads.
    join_chord = float(chord(eps_km / 2)) * (1 + 1e-12)
    jside = max(join_chord, _MIN_SIDE)
    jorder, jcells, jstart, jspan = _member_grid(mx, my, mz, jside)
    # Only locations with members in the coarse cells around their own can have one within
    # reach (most noise lies far from every cluster): the others are not searched.
    rest = _near_rows(labels_a, x, y, z, mx, my, mz, max(4.0 * jside, _COARSE_SIDE))
    parts = numba.get_num_threads() if len(rest) >= _PARALLEL_ROWS else 1

    def join(rows: np.ndarray) -> None:
        _join_nearest(
            rows,
            x,
            y,
            z,
            lat_a,
            lon_a,
            members,
            mx,
            my,
            mz,
            jorder,
            jcells,
            jstart,
            jside,
            jspan,
            join_chord,
            TIE_CHORD,
            area,
        )

    if parts > 1:
        # The compiled search releases the GIL; each part writes only its own rows.
        with ThreadPoolExecutor(max_workers=parts) as pool:
            list(pool.map(join, np.array_split(rest, 4 * parts)))
    else:
        join(rest)
    return area


#: Smallest side of the coarse grid that picks the locations to place (about 64 km on the
#: Earth; at most 203 cells per axis, a table of 8.4 M flags).
_COARSE_SIDE = 0.01


@njit(cache=True, nogil=True)
def _near_rows(
    labels: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    mx: np.ndarray,
    my: np.ndarray,
    mz: np.ndarray,
    side: float,
) -> np.ndarray:  # pragma: no cover - compiled
    """Rows outside every metric cluster (``labels < 0``) with a member in a cell next to theirs.

    Cells of ``side`` (at least twice the reach) on the unit vectors: a member within reach
    of a location lies in the location's cell or in one of the 26 around it, whatever the
    rounding of the cell indices (they differ by at most one), so no row with a member
    within reach is left out.
    """
    lo = np.floor(-1.0 / side) - 2.0
    span = int(np.floor(1.0 / side) - lo) + 3
    near = np.zeros(span * span * span, dtype=np.bool_)
    for q in range(mx.shape[0]):
        ix = int(np.floor(mx[q] / side) - lo)
        iy = int(np.floor(my[q] / side) - lo)
        iz = int(np.floor(mz[q] / side) - lo)
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                base = ((ix + dx) * span + iy + dy) * span + iz
                near[base - 1] = True
                near[base] = True
                near[base + 1] = True
    count = 0
    keep = np.zeros(labels.shape[0], dtype=np.bool_)
    for i in range(labels.shape[0]):
        if labels[i] < 0:
            ix = int(np.floor(x[i] / side) - lo)
            iy = int(np.floor(y[i] / side) - lo)
            iz = int(np.floor(z[i] / side) - lo)
            if near[(ix * span + iy) * span + iz]:
                keep[i] = True
                count += 1
    rows = np.empty(count, dtype=np.int64)
    k = 0
    for i in range(labels.shape[0]):
        if keep[i]:
            rows[k] = i
            k += 1
    return rows


#: Locations outside every metric cluster from which :func:`area_index` places them on
#: several threads (as many as Numba's, so a replicate on one Numba thread stays on one).
_PARALLEL_ROWS = 100_000


@njit(cache=True, nogil=True)
def _grid_keys(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, side: float
) -> tuple[np.ndarray, int, int]:  # pragma: no cover - compiled
    """One int64 key per point of a grid of cells of ``side`` on the unit vectors.

    Keys are packed with a margin of one cell on every axis, so that a neighbouring cell's
    key is ``key + (dx * span_y + dy) * span_z + dz``; returns the keys and the spans. A
    side below :data:`_MIN_SIDE` is raised to it (larger cells: the same neighbours, more
    tests), so the packed keys fit in 64 bits.
    """
    n = x.shape[0]
    side = max(side, _MIN_SIDE)
    lo = np.floor(-1.0 / side) - 2.0
    span = int(np.floor(1.0 / side) - lo) + 3
    keys = np.empty(n, dtype=np.int64)
    for i in range(n):
        ix = int(np.floor(x[i] / side) - lo)
        iy = int(np.floor(y[i] / side) - lo)
        iz = int(np.floor(z[i] / side) - lo)
        keys[i] = (ix * span + iy) * span + iz
    return keys, span, span


@njit(cache=True, nogil=True)
def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """Distinct keys of a sorted array and the start of each run (the end appended)."""
    n = sorted_keys.shape[0]
    count = 0
    for i in range(n):
        if i == 0 or sorted_keys[i] != sorted_keys[i - 1]:
            count += 1
    keys = np.empty(count, dtype=np.int64)
    start = np.empty(count + 1, dtype=np.int64)
    c = 0
    for i in range(n):
        if i == 0 or sorted_keys[i] != sorted_keys[i - 1]:
            keys[c] = sorted_keys[i]
            start[c] = i
            c += 1
    start[count] = n
    return keys, start


@njit(cache=True, nogil=True)
def _sort_runs_by(
    order: np.ndarray, sorted_cell: np.ndarray, key: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Sort each run of equal ``sorted_cell`` in ``order`` by ``key[order]``, in place."""
    n = order.shape[0]
    a = 0
    while a < n:
        b = a + 1
        while b < n and sorted_cell[b] == sorted_cell[a]:
            b += 1
        if b - a > 1:
            part = order[a:b].copy()
            order[a:b] = part[np.argsort(key[part])]
        a = b


@njit(cache=True, nogil=True)
def _segments(
    cell: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Runs of equal (cell, key) in arrays sorted by both: starts (end appended), cells, keys."""
    n = cell.shape[0]
    count = 0
    for i in range(n):
        if i == 0 or cell[i] != cell[i - 1] or key[i] != key[i - 1]:
            count += 1
    start = np.empty(count + 1, dtype=np.int64)
    seg_cell = np.empty(count, dtype=np.int64)
    seg_key = np.empty(count, dtype=np.int64)
    c = 0
    for i in range(n):
        if i == 0 or cell[i] != cell[i - 1] or key[i] != key[i - 1]:
            start[c] = i
            seg_cell[c] = cell[i]
            seg_key[c] = key[i]
            c += 1
    start[count] = n
    return start, seg_cell, seg_key


@njit(cache=True, nogil=True)
def _first(lat: np.ndarray, lon: np.ndarray, i: int, j: int) -> bool:  # pragma: no cover
    """Whether row ``i`` comes before row ``j`` by latitude, then longitude, then row."""
    if lat[i] != lat[j]:
        return lat[i] < lat[j]
    if lon[i] != lon[j]:
        return lon[i] < lon[j]
    return i < j


@njit(cache=True, nogil=True)
def _axis_gap(v: float, lo: float, side: float) -> float:  # pragma: no cover - compiled
    """Distance from ``v`` to the interval ``[lo, lo + side]`` (0 inside)."""
    if v < lo:
        return lo - v
    if v > lo + side:
        return v - (lo + side)
    return 0.0


@njit(cache=True, nogil=True)
def _link_areas(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    metric: np.ndarray,
    labels: np.ndarray,
    link_chord: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Areas of the members (others ``-1``), the members' rows and their unit vectors.

    Metric clusters of different metrics with members within ``link_chord`` are joined
    (union-find); areas are numbered by their smallest metric cluster.
    """
    n = labels.shape[0]
    n_metrics = metric.max() + 1
    # Metric clusters numbered by (metric code, label).
    offset = np.zeros(n_metrics + 1, dtype=np.int64)
    for i in range(n):
        if labels[i] >= 0 and labels[i] + 1 > offset[metric[i] + 1]:
            offset[metric[i] + 1] = labels[i] + 1
    for m in range(n_metrics):
        offset[m + 1] += offset[m]
    n_keys = offset[n_metrics]
    key = np.full(n, -1, dtype=np.int64)
    n_members = 0
    for i in range(n):
        if labels[i] >= 0:
            key[i] = offset[metric[i]] + labels[i]
            n_members += 1
    key_metric = np.zeros(n_keys, dtype=np.int64)
    for i in range(n):
        if labels[i] >= 0:
            key_metric[key[i]] = metric[i]
    members = np.empty(n_members, dtype=np.int64)
    j = 0
    for i in range(n):
        if labels[i] >= 0:
            members[j] = i
            j += 1
    mx = x[members]
    my = y[members]
    mz = z[members]

    # Overlap: cells of side link_chord, so members within it lie in neighbouring cells.
    # Members sorted by (cell, metric cluster): runs of one metric cluster in one cell.
    cell, span_y, span_z = _grid_keys(mx, my, mz, link_chord)
    member_key = key[members]
    order = np.argsort(cell)
    _sort_runs_by(order, cell[order], member_key)
    seg_start, seg_cell, seg_key = _segments(cell[order], member_key[order])
    cells, cell_first = _runs(seg_cell)  # segments of each cell
    parent = np.arange(n_keys)
    for c in range(cells.shape[0]):
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                base = cells[c] + (dx * span_y + dy) * span_z
                pos = np.searchsorted(cells, base - 1)
                while pos < cells.shape[0] and cells[pos] <= base + 1:
                    c2 = pos
                    pos += 1
                    if c2 < c:
                        continue
                    for s1 in range(cell_first[c], cell_first[c + 1]):
                        k1 = seg_key[s1]
                        s2_from = s1 + 1 if c2 == c else cell_first[c2]
                        for s2 in range(s2_from, cell_first[c2 + 1]):
                            k2 = seg_key[s2]
                            if key_metric[k2] == key_metric[k1]:
                                continue
                            r1 = find_root(parent, k1)
                            r2 = find_root(parent, k2)
                            if r1 == r2:
                                continue
                            near = False
                            for a in range(seg_start[s1], seg_start[s1 + 1]):
                                p = order[a]
                                for b in range(seg_start[s2], seg_start[s2 + 1]):
                                    q = order[b]
                                    dx_ = mx[p] - mx[q]
                                    dy_ = my[p] - my[q]
                                    dz_ = mz[p] - mz[q]
                                    if dx_ * dx_ + dy_ * dy_ + dz_ * dz_ <= link_chord * link_chord:
                                        near = True
                                        break
                                if near:
                                    break
                            if near:
                                if r1 < r2:
                                    parent[r2] = r1
                                else:
                                    parent[r1] = r2
    # Areas numbered by their smallest metric cluster.
    area_of_key = np.full(n_keys, -1, dtype=np.int64)
    n_areas = 0
    for k in range(n_keys):
        r = find_root(parent, k)
        if area_of_key[r] < 0:
            area_of_key[r] = n_areas
            n_areas += 1
        area_of_key[k] = area_of_key[r]
    area = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if key[i] >= 0:
            area[i] = area_of_key[key[i]]
    return area, members, mx, my, mz


@njit(cache=True, nogil=True)
def _member_grid(
    mx: np.ndarray, my: np.ndarray, mz: np.ndarray, side: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:  # pragma: no cover - compiled
    """Members grouped by grid cell of ``side``: order, sorted cell keys, run starts, span."""
    cell, span_y, _ = _grid_keys(mx, my, mz, side)
    order = np.argsort(cell)
    cells, start = _runs(cell[order])
    return order, cells, start, span_y


@njit(cache=True, nogil=True)
def _join_nearest(
    rows: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    members: np.ndarray,
    mx: np.ndarray,
    my: np.ndarray,
    mz: np.ndarray,
    jorder: np.ndarray,
    jcells: np.ndarray,
    jstart: np.ndarray,
    jside: float,
    jspan: int,
    join_chord: float,
    tie: float,
    area: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Area of each of ``rows`` (non-members): that of its nearest member within join_chord.

    Ties by (lat, lon) of the member. The cells around a location within join_chord of it
    (cells of side ``jside`` >= join_chord: the 27 around its own) are listed once; the
    home cell is searched first and a cell whose box lies farther than the nearest member
    found so far is skipped. Writes ``area[rows]`` only, so ranges of rows can run on
    several threads.
    """
    jlo = np.floor(-1.0 / jside) - 2.0
    bound2 = join_chord * join_chord
    around = np.empty(27, dtype=np.int64)
    gaps = np.empty(27)
    for i in rows:
        home = (
            int(np.floor(x[i] / jside) - jlo) * jspan + int(np.floor(y[i] / jside) - jlo)
        ) * jspan + int(np.floor(z[i] / jside) - jlo)
        count = 0
        pos = np.searchsorted(jcells, home)
        if pos < jcells.shape[0] and jcells[pos] == home:
            around[0] = pos
            gaps[0] = 0.0
            count = 1
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                base = home + (dx * jspan + dy) * jspan
                pos = np.searchsorted(jcells, base - 1)
                while pos < jcells.shape[0] and jcells[pos] <= base + 1:
                    if jcells[pos] != home:
                        k = jcells[pos]
                        gx = _axis_gap(x[i], (k // (jspan * jspan) + jlo) * jside, jside)
                        gy = _axis_gap(y[i], ((k // jspan) % jspan + jlo) * jside, jside)
                        gz = _axis_gap(z[i], (k % jspan + jlo) * jside, jside)
                        gap2 = gx * gx + gy * gy + gz * gz
                        if gap2 <= bound2 * (1 + 1e-9) + 1e-24:
                            around[count] = pos
                            gaps[count] = gap2
                            count += 1
                    pos += 1
        best = np.inf
        for c in range(count):
            reach = best + 2 * tie
            if best < np.inf and gaps[c] > reach * reach * (1 + 1e-9) + 1e-24:
                continue
            for b in range(jstart[around[c]], jstart[around[c] + 1]):
                q = jorder[b]
                dx_ = x[i] - mx[q]
                dy_ = y[i] - my[q]
                dz_ = z[i] - mz[q]
                d2 = dx_ * dx_ + dy_ * dy_ + dz_ * dz_
                if d2 <= bound2:
                    dist = np.sqrt(d2)
                    if dist < best:
                        best = dist
        if best == np.inf:
            continue
        reach = best + 2 * tie
        pick = -1
        for c in range(count):
            if gaps[c] > reach * reach * (1 + 1e-9) + 1e-24:
                continue
            for b in range(jstart[around[c]], jstart[around[c] + 1]):
                q = jorder[b]
                dx_ = x[i] - mx[q]
                dy_ = y[i] - my[q]
                dz_ = z[i] - mz[q]
                if np.sqrt(dx_ * dx_ + dy_ * dy_ + dz_ * dz_) <= best + tie and (
                    pick < 0 or _first(lat, lon, members[q], members[pick])
                ):
                    pick = q
        area[i] = area[members[pick]]


def area_peaks(
    area: np.ndarray, activity: np.ndarray, lat: np.ndarray, lon: np.ndarray
) -> np.ndarray:
    """Row of each area's peak, the location :func:`assign_areas` names the area after.

    The most activity, then the smallest latitude, then longitude, then row.

    Parameters
    ----------
    area
        Area of each location, ``0..k-1`` (``-1`` outside every area), as
        :func:`area_index` gives it.
    activity, lat, lon
        Each location's activity and coordinates.

    Returns
    -------
    numpy.ndarray
        Row of the peak of each area ``0..k-1``.
    """
    area_a = np.require(area, dtype=np.int64, requirements=["C", "W"])
    k = int(area_a.max()) + 1 if len(area_a) else 0
    return _area_peaks(
        area_a,
        np.require(activity, dtype=np.float64, requirements=["C", "W"]),
        np.require(lat, dtype=np.float64, requirements=["C", "W"]),
        np.require(lon, dtype=np.float64, requirements=["C", "W"]),
        max(k, 0),
    )


def area_id(lat: float, lon: float, *, rounding: float) -> str:
    """The ``cluster_id`` of an area whose peak is at ``(lat, lon)``: ``C+35.69+139.69``."""
    return _format_id(float(lat), float(lon), max(2, math.ceil(-math.log10(rounding))))


@njit(cache=True, nogil=True)
def _area_peaks(
    area: np.ndarray, activity: np.ndarray, lat: np.ndarray, lon: np.ndarray, k: int
) -> np.ndarray:  # pragma: no cover - compiled
    peak = np.full(k, -1, dtype=np.int64)
    for i in range(area.shape[0]):
        a = area[i]
        if a < 0:
            continue
        p = peak[a]
        if (
            p < 0
            or activity[i] > activity[p]
            or (
                activity[i] == activity[p]
                and (lat[i] < lat[p] or (lat[i] == lat[p] and lon[i] < lon[p]))
            )
        ):
            peak[a] = i
    return peak
