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
        NaN cells count 0). When not, it is the sum of the populations of the gazetteer places
        inside the footprint, each place counted unless the larger place it is a section of
        is inside too (see docs/places.md for the biases of this estimate).

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


def _gazetteer_sums(geoms: np.ndarray) -> np.ndarray:
    gaz = places()
    lat = gaz["lat"].to_numpy()
    lon = gaz["lon"].to_numpy()
    valid = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    out = np.zeros(len(geoms))
    if not valid.any():
        return out
    tree = shapely.STRtree(geoms[valid])
    areas_pos = np.flatnonzero(valid)
    minx, _, maxx, _ = shapely.total_bounds(geoms[valid])
    shifts = [0.0] + ([360.0] if maxx > 180 else []) + ([-360.0] if minx < -180 else [])
    pairs: list[np.ndarray] = []
    for shift in shifts:
        pts = shapely.points(lon + shift, lat)
        hit = tree.query(pts, predicate="intersects")
        pairs.append(np.vstack([hit[0], areas_pos[hit[1]]]))
    both = np.unique(np.hstack(pairs), axis=1)
    place, area = both[0], both[1]
    parent = gaz["parent"].to_numpy()[place]
    inside = pd.MultiIndex.from_arrays([place, area])
    parent_inside = pd.MultiIndex.from_arrays([parent, area]).isin(inside) & (parent >= 0)
    counted = ~parent_inside
    pop = gaz["population"].to_numpy(dtype=np.float64)[place]
    np.add.at(out, area[counted], pop[counted])
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
