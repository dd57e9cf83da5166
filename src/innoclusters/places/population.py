"""Population of a cluster's area, and activity per million inhabitants (intensity).

:func:`area_population` gives each footprint a population, from the gazetteer by default or
from a population raster (GHS-POP, WorldPop); :func:`add_intensity` turns it into counts per
million inhabitants and the intensity ranking among the top clusters, as the GII does. See
docs/places.md for the method and its biases.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.affinity import translate
from shapely.geometry import mapping

from innoclusters.errors import InputError
from innoclusters.geo import haversine_km
from innoclusters.places.gazetteer import places

__all__ = ["add_intensity", "area_population"]


def area_population(footprints: Any, *, raster: str | Path | None = None) -> pd.Series:
    """Population of each area's footprint.

    Parameters
    ----------
    footprints
        GeoSeries (or sequence) of shapely Polygons/MultiPolygons in longitude/latitude
        (EPSG:4326) indexed by ``cluster_id``. Longitudes may pass ±180 for an area that
        crosses the antimeridian.
    raster
        A population raster holding people per cell (GHS-POP, WorldPop), any CRS. When given,
        the population is the sum of the cells whose centre lies in the footprint (nodata and
        NaN cells count 0). When not, each gazetteer place that is no section of another is
        spread evenly over a disc sized by its population, and a footprint holds the people
        of the discs' parts inside it; people inside two footprints count once (see
        docs/places.md for the method and its biases).

    Returns
    -------
    pandas.Series
        Float population on the footprints' index.

    Raises
    ------
    InputError
        When the raster is missing or cannot be read, or rasterio is not installed.
    """
    index = footprints.index if hasattr(footprints, "index") else pd.RangeIndex(len(footprints))
    geoms = np.asarray(list(footprints), dtype=object)
    values = _raster_sums(geoms, Path(raster)) if raster is not None else _gazetteer_sums(geoms)
    return pd.Series(values, index=index, name="population", dtype=float)


#: Density that sizes each place's disc: a place of population ``P`` is spread evenly over
#: a disc of radius ``sqrt(P / (pi * D))`` km (Tokyo 39 km, a town of 20,000 1.8 km).
DISC_DENSITY_PER_KM2 = 2_000.0
#: Sample points per disc (a sunflower pattern); places under :data:`SPREAD_MIN_POPULATION`
#: stay one point.
DISC_POINTS = 64
SPREAD_MIN_POPULATION = 20_000


def _disc_offsets(k: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` points spread evenly over the unit disc (Vogel's sunflower), as (x, y)."""
    i = np.arange(k) + 0.5
    r = np.sqrt(i / k)
    theta = i * np.pi * (3.0 - np.sqrt(5.0))
    return r * np.cos(theta), r * np.sin(theta)


def _gazetteer_sums(geoms: np.ndarray) -> np.ndarray:
    """Population of each footprint from the gazetteer's places, each spread over a disc.

    Each place that is no section of another (sections' people are their city's) is spread
    evenly over a disc of radius ``sqrt(P / (pi * D))`` (:data:`DISC_DENSITY_PER_KM2`),
    sampled by :data:`DISC_POINTS` points; a footprint holds the points inside it. A point
    inside several footprints counts once, for the footprint whose centre is nearest, so
    overlapping footprints never count the same people twice.
    """
    gaz = places()
    out = np.zeros(len(geoms))
    valid = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    if not valid.any():
        return out
    keep = (gaz["parent"].to_numpy() < 0) & ~gaz["section"].to_numpy(dtype=bool)
    keep &= gaz["population"].to_numpy() > 0
    pop = gaz["population"].to_numpy(dtype=np.float64)[keep]
    lat = gaz["lat"].to_numpy()[keep]
    lon = gaz["lon"].to_numpy()[keep]
    radius_km = np.sqrt(pop / (np.pi * DISC_DENSITY_PER_KM2))
    spread = pop >= SPREAD_MIN_POPULATION
    # Only places whose disc can reach a footprint (bounding boxes, with a margin).
    minx, miny, maxx, maxy = shapely.total_bounds(geoms[valid])
    margin = radius_km / 111.0 / np.maximum(np.cos(np.radians(lat)), 0.05)
    near = (lat + margin >= miny) & (lat - margin <= maxy)
    near &= ((lon + margin >= minx) & (lon - margin <= maxx)) | (minx < -180) | (maxx > 180)
    dx, dy = _disc_offsets(DISC_POINTS)
    one = near & ~spread
    many = np.flatnonzero(near & spread)
    p_lat = np.concatenate(
        [lat[one], (lat[many, None] + radius_km[many, None] * dy[None, :] / 111.32).ravel()]
    )
    coslat = np.maximum(np.cos(np.radians(lat[many])), 0.01)
    p_lon = np.concatenate(
        [
            lon[one],
            (
                lon[many, None] + radius_km[many, None] * dx[None, :] / (111.32 * coslat[:, None])
            ).ravel(),
        ]
    )
    p_pop = np.concatenate([pop[one], np.repeat(pop[many] / DISC_POINTS, DISC_POINTS)])
    tree = shapely.STRtree(geoms[valid])
    areas_pos = np.flatnonzero(valid)
    shifts = [0.0] + ([360.0] if maxx > 180 else []) + ([-360.0] if minx < -180 else [])
    hits: list[np.ndarray] = []
    for shift in shifts:
        hit = tree.query(shapely.points(p_lon + shift, p_lat), predicate="intersects")
        hits.append(np.vstack([hit[0], areas_pos[hit[1]], np.full(hit.shape[1], shift)]))
    both = np.hstack(hits)
    point, area = both[0].astype(np.int64), both[1].astype(np.int64)
    # A point in several footprints goes to the one whose centre is nearest.
    centres = shapely.centroid(geoms[area])
    d = haversine_km(
        p_lat[point], p_lon[point] + both[2], shapely.get_y(centres), shapely.get_x(centres)
    )
    order = np.lexsort((area, d, point))
    point, area = point[order], area[order]
    first = np.r_[True, point[1:] != point[:-1]] if len(point) else np.zeros(0, dtype=bool)
    np.add.at(out, area[first], p_pop[point[first]])
    return out


def _raster_sums(geoms: np.ndarray, path: Path) -> np.ndarray:
    try:
        import rasterio
        import rasterio.errors
        import rasterio.features
        import rasterio.warp
        import rasterio.windows
    except ImportError:
        raise InputError(
            f"{path}: reading a population raster needs rasterio; install it with "
            "pip install 'innoclusters[raster]'"
        ) from None
    if not path.is_file():
        raise InputError(f"{path}: no such raster file; check the --population path")
    out = np.zeros(len(geoms))
    try:
        with rasterio.open(path) as src:
            crs = src.crs
            geographic = crs is None or crs.is_geographic
            for i, geom in enumerate(geoms):
                if geom is None or shapely.is_empty(geom):
                    continue
                pieces = [geom]
                if geographic:
                    minx, _, maxx, _ = geom.bounds
                    if maxx > 180:
                        pieces.append(translate(geom, xoff=-360.0))
                    if minx < -180:
                        pieces.append(translate(geom, xoff=360.0))
                for piece in pieces:
                    out[i] += _raster_sum(src, piece, crs, rasterio)
    except rasterio.errors.RasterioError as exc:
        raise InputError(
            f"{path}: cannot read the population raster ({exc}); check the file"
        ) from None
    return out


def _raster_sum(src: Any, geom: Any, crs: Any, rasterio: Any) -> float:
    shape = mapping(geom)
    if crs is not None and not (crs.is_geographic and crs.to_epsg() == 4326):
        shape = rasterio.warp.transform_geom("EPSG:4326", crs, shape)
    try:
        window = rasterio.features.geometry_window(src, [shape])
    except rasterio.errors.WindowError:
        return 0.0
    window = window.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
    if window.width <= 0 or window.height <= 0:
        return 0.0
    data = src.read(1, window=window, masked=True)
    inside = rasterio.features.geometry_mask(
        [shape], out_shape=data.shape, transform=src.window_transform(window), invert=True
    )
    values = np.ma.filled(data.astype(np.float64), np.nan)[inside]
    return float(np.nansum(values))


# --------------------------------------------------------------------------- intensity


def add_intensity(clusters: pd.DataFrame, *, metrics: Sequence[str], top: int) -> pd.DataFrame:
    """Activity per million inhabitants and the intensity ranking.

    Parameters
    ----------
    clusters
        Ranked clusters with ``rank``, ``population``, ``score`` and a count column per
        metric.
    metrics
        The ranking metrics; each gets ``<metric>_per_million``.
    top
        The intensity ranking ranks the clusters of size rank ``1..top``.

    Returns
    -------
    pandas.DataFrame
        A copy with ``intensity`` (score per million inhabitants), ``<metric>_per_million``
        and ``intensity_rank`` (nullable Int64: 1 for the most intense of the top clusters,
        empty outside them or without a population; ties broken by size rank). The input is
        not modified.
    """
    out = clusters.copy()
    pop = pd.to_numeric(out["population"], errors="coerce").to_numpy(dtype=float)
    millions = np.where(pop > 0, pop / 1e6, np.nan)
    out["intensity"] = out["score"].to_numpy(dtype=float) / millions
    for m in metrics:
        out[f"{m}_per_million"] = pd.to_numeric(out[m], errors="coerce").to_numpy(
            dtype=float
        ) / np.where(np.isfinite(millions), millions, np.nan)
    rank = out["rank"].to_numpy()
    eligible = (rank <= top) & np.isfinite(out["intensity"].to_numpy(dtype=float))
    order = np.lexsort((rank[eligible], -out["intensity"].to_numpy(dtype=float)[eligible]))
    ranks = pd.array([pd.NA] * len(out), dtype="Int64")
    pos = np.flatnonzero(eligible)[order]
    ranks[pos] = np.arange(1, len(pos) + 1)
    out["intensity_rank"] = ranks
    return out
