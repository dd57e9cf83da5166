"""``clusters.geojson``: one RFC 7946 feature per cluster, the CSV fields as properties.

Footprints arrive in longitude/latitude with longitudes unwrapped around each area's centre
(so an area crossing the antimeridian may reach past 180 or -180). RFC 7946 section 3.1.9
asks for such geometry to be cut at the antimeridian, so each footprint is split at ±180
into pieces whose longitudes lie in [-180, 180], and every ring is oriented by the
right-hand rule (exterior counter-clockwise, holes clockwise; section 3.1.6).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.polygon import orient

from innoclusters._io import atomic_write_text
from innoclusters.publish.tables import DECIMALS, scalar
from innoclusters.result import CLUSTER_COLUMNS

__all__ = ["clusters_to_geojson", "csv_fields", "split_antimeridian", "write_geojson"]

#: Decimals of coordinates in the file (1e-6 degrees is about 0.1 m).
COORDDECIMALS = 6

#: Columns holding whole numbers even when stored as floats (missing values force floats).
_WHOLE = {"rank", "intensity_rank"}


def csv_fields(clusters: pd.DataFrame) -> list[str]:
    """The columns ``clusters.csv`` carries, in its order.

    :data:`~innoclusters.result.CLUSTER_COLUMNS` first, then later columns except
    ``geometry`` and private ``_``-prefixed ones (the rule of ``clusters.csv``).
    """
    extra = [
        c
        for c in clusters.columns
        if c not in CLUSTER_COLUMNS and c != "geometry" and not str(c).startswith("_")
    ]
    return [c for c in CLUSTER_COLUMNS if c in clusters.columns] + extra


def split_antimeridian(geom: shapely.Geometry | None) -> Polygon | MultiPolygon | None:
    """Cut a footprint at ±180 degrees and bring every piece into [-180, 180].

    Parameters
    ----------
    geom
        A Polygon, MultiPolygon or collection in longitude/latitude; longitudes may run
        from -540 to 540 (unwrapped around the area's centre).

    Returns
    -------
    Polygon or MultiPolygon or None
        The areal part of ``geom`` with rings oriented by the right-hand rule; a
        MultiPolygon when the area crosses the antimeridian (or had several parts);
        ``None`` when ``geom`` is missing or has no area.
    """
    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    pieces: list[Polygon] = []
    for shift in (-360.0, 0.0, 360.0):
        window = box(-180.0 - shift, -90.0, 180.0 - shift, 90.0)
        part = geom.intersection(window)
        if part.is_empty:
            continue
        if shift:
            part = shapely.transform(part, lambda c, s=shift: c + np.array([s, 0.0]))
        pieces.extend(_polygons(part))
    polys = [orient(p, sign=1.0) for p in pieces if p.area > 0]
    if not polys:
        return None
    if len(polys) == 1:
        return polys[0]
    return MultiPolygon(polys)


def _polygons(geom: shapely.Geometry) -> Iterable[Polygon]:
    if isinstance(geom, Polygon):
        yield geom
    elif hasattr(geom, "geoms"):
        for g in geom.geoms:
            yield from _polygons(g)


def _ring(coords: Any) -> list[list[float]]:
    return [[round(float(x), COORDDECIMALS), round(float(y), COORDDECIMALS)] for x, y in coords]


def _polygon_coords(poly: Polygon) -> list[list[list[float]]]:
    return [_ring(poly.exterior.coords)] + [_ring(r.coords) for r in poly.interiors]


def _geometry(geom: Polygon | MultiPolygon | None) -> dict[str, Any] | None:
    if geom is None:
        return None
    if isinstance(geom, Polygon):
        return {"type": "Polygon", "coordinates": _polygon_coords(geom)}
    return {"type": "MultiPolygon", "coordinates": [_polygon_coords(p) for p in geom.geoms]}


def _value(column: str, value: Any) -> Any:
    """A JSON value for one cell: NaN and NA become ``None``, numbers keep CSV decimals."""
    value = scalar(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        v = value
        if column in _WHOLE and v.is_integer():
            return int(v)
        return round(v, DECIMALS.get(column, 4))
    if isinstance(value, list | tuple | np.ndarray):
        return [_value(column, v) for v in value]
    return str(value)


def clusters_to_geojson(clusters: pd.DataFrame) -> dict[str, Any]:
    """Build the GeoJSON FeatureCollection of ``clusters``.

    Parameters
    ----------
    clusters
        ``RunResult.clusters``: the ``clusters.csv`` columns and a ``geometry`` column in
        longitude/latitude (longitudes may be unwrapped past ±180).

    Returns
    -------
    dict
        A FeatureCollection with one feature per cluster, in rank order. ``id`` is the
        ``cluster_id``; properties are the CSV fields (missing values as ``null``, numbers
        with the CSV's decimals); geometry is split at the antimeridian and oriented by
        the right-hand rule, or ``null`` for a cluster without a footprint.
    """
    fields = csv_fields(clusters)
    geoms = clusters["geometry"] if "geometry" in clusters.columns else [None] * len(clusters)
    features = []
    for (_, row), geom in zip(clusters.iterrows(), geoms, strict=True):
        props = {c: _value(c, row[c]) for c in fields}
        feature: dict[str, Any] = {"type": "Feature"}
        if props.get("cluster_id") is not None:
            feature["id"] = props["cluster_id"]
        feature["properties"] = props
        feature["geometry"] = _geometry(split_antimeridian(geom))
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}


def write_geojson(clusters: pd.DataFrame, path: str | Path) -> Path:
    """Write ``clusters.geojson`` atomically.

    Parameters
    ----------
    clusters
        ``RunResult.clusters`` (see :func:`clusters_to_geojson`).
    path
        The file to write.

    Returns
    -------
    Path
        ``path``.
    """
    doc = clusters_to_geojson(clusters)
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    atomic_write_text(path, text + "\n")
    return Path(path)
