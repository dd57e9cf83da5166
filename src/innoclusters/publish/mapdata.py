"""What the report's map and search need besides the clusters: outlines, places, names.

* **Country outlines**: Natural Earth 1:50m Admin 0 boundaries (public domain), as the
  compact TopoJSON in ``innoclusters/data/countries_50m.topojson`` (see the ``.md`` beside
  it and ``scripts/build_countries.py``); the page decodes it with topojson-client.
* **Places held by a cluster**: the gazetteer places (GeoNames, population 500 or more)
  inside its footprint, each with the share of the cluster's activity that is closer to it
  than to any other of those places.
* **Place labels** that appear with zoom: the world's large cities at low zoom, and the
  towns in and around each footprint at city zoom.
* **Search keys**: every spelling the gazetteer knows of those places (own and alternate
  names, folded like the geocoder folds them), so ``München``, ``Munich`` and ``Muenchen``
  find the same cluster.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from innoclusters.geo import unit_vectors
from innoclusters.places.gazetteer import name_index
from innoclusters.publish.geojson import split_antimeridian

__all__ = [
    "MAX_PLACES_PER_CLUSTER",
    "cluster_places",
    "country_outlines",
    "name_keys",
    "place_labels",
    "search_entries",
]

#: At most this many places per cluster are listed on its card and labelled on the map.
MAX_PLACES_PER_CLUSTER = 12

#: Places of at least this population are labelled everywhere, from the given zoom on.
_WORLD_LABELS = ((5_000_000, 2), (1_000_000, 4), (500_000, 5))

#: Zoom from which a place in or near a footprint is labelled, by population.
_LOCAL_LABELS = ((100_000, 6), (20_000, 8), (0, 10))

#: Towns around a footprint (within this many degrees of its bounds, of at least this
#: population, at most this many per cluster) are labelled too, by the same zoom rule.
_AROUND_DEG = 0.3
_AROUND_MIN_POPULATION = 10_000
_AROUND_MAX = 20

#: Alternate names are searchable for places of at least this population (own names always).
_ALTERNATES_MIN_POPULATION = 100_000


@cache
def country_outlines() -> dict[str, Any]:
    """Natural Earth 1:50m countries as TopoJSON (``objects.countries``, ISO codes, names)."""
    path = resources.files("innoclusters") / "data" / "countries_50m.topojson"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _footprint_index(clusters: pd.DataFrame) -> tuple[list[int], list[Any]]:
    """Cluster positions and their footprints, split at the antimeridian."""
    positions: list[int] = []
    shapes: list[Any] = []
    geoms = clusters["geometry"] if "geometry" in clusters.columns else [None] * len(clusters)
    for pos, geom in enumerate(geoms):
        split = split_antimeridian(geom)
        if split is not None:
            positions.append(pos)
            shapes.append(split)
    return positions, shapes


def cluster_places(
    clusters: pd.DataFrame,
    locations: pd.DataFrame | None,
    gazetteer: pd.DataFrame,
    *,
    max_places: int = MAX_PLACES_PER_CLUSTER,
) -> pd.DataFrame:
    """The gazetteer places inside each cluster's footprint and their share of its activity.

    Each location of a cluster is given to the nearest place inside that cluster's
    footprint that is not a section of a larger place (a ward gets nothing; its city does);
    a place's share is the activity (``activity`` column of the locations, else ``weight``)
    given to it, in percent of the cluster's. The ``max_places`` places with the
    largest shares are kept (then by population); a place of the footprint that got no
    location has share 0 and is kept only while there is room.

    Parameters
    ----------
    clusters
        Ranked clusters with ``cluster_id`` and ``geometry``.
    locations
        ``RunResult.locations`` (``lat, lon, cluster_id`` and ``activity`` or ``weight``).
    gazetteer
        :func:`innoclusters.load_gazetteer`.
    max_places
        Places kept per cluster.

    Returns
    -------
    pandas.DataFrame
        ``cluster, row, name, lat, lon, population, share_pct``: ``cluster`` is the
        cluster's position in ``clusters``, ``row`` the place's row in the gazetteer;
        sorted by cluster, then share and population descending.
    """
    columns = ["cluster", "row", "name", "lat", "lon", "population", "share_pct"]
    positions, shapes = _footprint_index(clusters)
    if not positions or gazetteer.empty:
        return pd.DataFrame(columns=columns)
    lat = gazetteer["lat"].to_numpy(dtype=float)
    lon = gazetteer["lon"].to_numpy(dtype=float)
    tree = shapely.STRtree(shapes)
    # Only places in a whole degree cell that a footprint's bounds touch can be inside one
    # (the same pairs, in the same order, as a query of every place).
    near = np.flatnonzero(_in_bounds_cells(lat, lon, shapes))
    hits = tree.query(shapely.points(lon[near], lat[near]), predicate="intersects")
    shape_i, place_i = hits[1], near[hits[0]]
    pairs = pd.DataFrame({"cluster": np.asarray(positions)[shape_i], "row": place_i})
    pairs = pairs.drop_duplicates().reset_index(drop=True)
    share = np.zeros(len(pairs))
    ids = clusters["cluster_id"].astype(str).to_numpy()
    needed = {"lat", "lon", "cluster_id"}
    if locations is not None and needed <= set(locations.columns) and len(pairs):
        amount_col = "activity" if "activity" in locations.columns else "weight"
        # Plain arrays of the located rows (no frame is copied); each row's cluster found
        # once per distinct cluster_id.
        inside = locations["cluster_id"].notna().to_numpy()
        amount = (
            pd.to_numeric(locations[amount_col], errors="coerce").fillna(0.0).to_numpy()[inside]
        )
        codes, uniques = pd.factorize(locations["cluster_id"].to_numpy()[inside])
        loc_cluster = pd.Index(ids).get_indexer(pd.Index(pd.Index(uniques).astype(str)))[codes]
        # The locations of each cluster, in their order, without a scan per cluster.
        by_cluster = np.argsort(loc_cluster, kind="stable")
        bounds = np.searchsorted(
            loc_cluster[by_cluster], [np.arange(len(ids)), np.arange(1, len(ids) + 1)]
        )
        xyz_places = unit_vectors(lat[pairs["row"]], lon[pairs["row"]])
        loc_xyz = unit_vectors(
            locations["lat"].to_numpy(float)[inside], locations["lon"].to_numpy(float)[inside]
        )
        pair_cluster = pairs["cluster"].to_numpy()
        parent = (
            gazetteer["parent"].to_numpy()[pairs["row"]]
            if "parent" in gazetteer.columns
            else np.full(len(pairs), -1)
        )
        for c, grp in pairs.groupby("cluster", sort=True):
            at = int(c)  # type: ignore[arg-type]
            rows = by_cluster[bounds[0, at] : bounds[1, at]]
            idx = grp.index.to_numpy()
            # Sections of a larger place (a ward of Tokyo) count for that place.
            whole = idx[parent[idx] < 0]
            idx = whole if len(whole) else idx
            if not len(rows):
                continue
            _, nearest = cKDTree(xyz_places[idx]).query(loc_xyz[rows], k=1)
            np.add.at(share, idx[nearest], amount[rows])
        totals = pd.Series(share).groupby(pair_cluster).transform("sum").to_numpy()
        share = np.where(totals > 0, 100.0 * share / np.where(totals > 0, totals, 1.0), 0.0)
    frame = pd.DataFrame(
        {
            "cluster": pairs["cluster"].to_numpy(),
            "row": pairs["row"].to_numpy(),
            "name": gazetteer["name"].to_numpy(dtype=object)[pairs["row"]],
            "lat": lat[pairs["row"]],
            "lon": lon[pairs["row"]],
            "population": gazetteer["population"].to_numpy()[pairs["row"]],
            "share_pct": share,
        }
    )
    frame = frame.sort_values(
        ["cluster", "share_pct", "population", "row"],
        ascending=[True, False, False, True],
        kind="mergesort",
    )
    return frame.groupby("cluster", sort=False).head(max_places).reset_index(drop=True)


def _in_bounds_cells(lat: np.ndarray, lon: np.ndarray, shapes: list[Any]) -> np.ndarray:
    """Whether each point lies in a whole-degree cell touched by the bounds of a shape."""
    touched = np.zeros((181, 361), dtype=bool)
    bounds = np.asarray(shapely.bounds(shapes), dtype=float).reshape(-1, 4)
    bounds = bounds[np.isfinite(bounds).all(axis=1)]  # an empty shape holds no place
    for x0, y0, x1, y1 in np.floor(bounds).astype(np.int64):
        rows = slice(max(y0, -90) + 90, min(y1, 90) + 91)
        touched[rows, max(x0, -180) + 180 : min(x1, 180) + 181] = True
    inside = np.isfinite(lat) & np.isfinite(lon)
    row = np.clip(np.floor(np.where(inside, lat, 0.0)), -90, 90).astype(np.int64) + 90
    col = np.clip(np.floor(np.where(inside, lon, 0.0)), -180, 180).astype(np.int64) + 180
    return inside & touched[row, col]


def _around(gazetteer: pd.DataFrame, clusters: pd.DataFrame) -> np.ndarray:
    """Rows of the towns around each footprint: within :data:`_AROUND_DEG` of its bounds,
    of :data:`_AROUND_MIN_POPULATION` or more, the :data:`_AROUND_MAX` largest per cluster."""
    _, shapes = _footprint_index(clusters)
    if not shapes:
        return np.zeros(0, dtype=np.int64)
    boxes = shapely.box(*np.asarray(shapely.bounds(shapes)).T)
    grown = shapely.buffer(boxes, _AROUND_DEG, join_style="mitre")
    pop = gazetteer["population"].to_numpy()
    big = np.flatnonzero(pop >= _AROUND_MIN_POPULATION)
    points = shapely.points(gazetteer["lon"].to_numpy()[big], gazetteer["lat"].to_numpy()[big])
    box_i, place_i = shapely.STRtree(grown).query(points, predicate="intersects")[::-1]
    pairs = pd.DataFrame({"box": box_i, "row": big[place_i], "pop": pop[big[place_i]]})
    pairs = pairs.sort_values(["box", "pop", "row"], ascending=[True, False, True])
    return np.unique(pairs.groupby("box").head(_AROUND_MAX)["row"].to_numpy(dtype=np.int64))


def place_labels(
    gazetteer: pd.DataFrame, held: pd.DataFrame, clusters: pd.DataFrame
) -> dict[str, list[Any]]:
    """Place names for the map, each with the zoom from which it shows.

    The world's cities of 500,000 or more (sections of a larger city left out) show from
    zoom 2-5 by size; the places held by a cluster (:func:`cluster_places`) and the towns
    around its footprint from zoom 6-10 by size, so a footprint at city zoom has its towns
    around it. Cluster centres are
    labelled separately by the page.

    Returns
    -------
    dict
        ``name, lat, lon, zoom`` lists, largest places first (the page labels in this
        order and drops a label that would overlap one already drawn).
    """
    pop = gazetteer["population"].to_numpy()
    parent = gazetteer["parent"].to_numpy() if "parent" in gazetteer.columns else None
    zoom = np.full(len(gazetteer), 99, dtype=np.int64)
    for floor, z in sorted(_WORLD_LABELS):
        chosen = pop >= floor
        if parent is not None:
            chosen &= parent < 0
        zoom[chosen] = z
    rows = np.concatenate([held["row"].to_numpy(dtype=np.int64), _around(gazetteer, clusters)])
    if len(rows):
        local = np.full(len(rows), 99, dtype=np.int64)
        for floor, z in sorted(_LOCAL_LABELS):
            local[pop[rows] >= floor] = z
        np.minimum.at(zoom, rows, local)
    keep = np.flatnonzero(zoom < 99)
    order = keep[np.lexsort((keep, -pop[keep]))]
    return {
        "name": [str(v) for v in gazetteer["name"].to_numpy(dtype=object)[order]],
        "lat": [round(float(v), 2) for v in gazetteer["lat"].to_numpy()[order]],
        "lon": [round(float(v), 2) for v in gazetteer["lon"].to_numpy()[order]],
        "zoom": [int(v) for v in zoom[order]],
    }


def name_keys(rows: np.ndarray) -> pd.DataFrame:
    """Every spelling the gazetteer knows of some places, as matching keys.

    Parameters
    ----------
    rows
        Row positions in :func:`innoclusters.load_gazetteer`.

    Returns
    -------
    pandas.DataFrame
        ``row, key, kind``: one row per place and distinct key (folded as the geocoder folds
        names), ``kind`` 0 for the place's own name and 1 for a GeoNames alternate name
        (``munchen`` for Munich); sorted by row, kind and key.
    """
    index = name_index()
    wanted = np.zeros(int(index.rows.max(initial=-1)) + 1, dtype=bool)
    rows = np.asarray(rows, dtype=np.int64)
    wanted[rows[(rows >= 0) & (rows < len(wanted))]] = True
    at = np.flatnonzero(wanted[index.rows])
    slot = np.searchsorted(index.starts, at, side="right") - 1
    frame = pd.DataFrame(
        {
            "row": index.rows[at],
            "key": index.keys.to_numpy(dtype=object)[slot],
            "kind": index.kinds[at],
        }
    )
    frame = frame.sort_values(["row", "kind", "key"], kind="mergesort")
    return frame.drop_duplicates(["row", "key"]).reset_index(drop=True)


def search_entries(held: pd.DataFrame, gazetteer: pd.DataFrame) -> list[list[Any]]:
    """Search entries for the places held by clusters: ``[name, cluster, keys]``.

    ``keys`` joins with ``|`` every folded spelling of the place the gazetteer knows
    (alternate names only in the Latin alphabet and only for places of 100,000 or more
    inhabitants, to keep the page small);
    ``cluster`` is the cluster's position in the ranking.
    """
    if held.empty:
        return []
    rows = held["row"].to_numpy(dtype=np.int64)
    keys = name_keys(np.unique(rows))
    big = set(rows[gazetteer["population"].to_numpy()[rows] >= _ALTERNATES_MIN_POPULATION])
    latin = keys["key"].map(str.isascii).to_numpy(dtype=bool)
    keys = keys[(keys["kind"] == 0) | (keys["row"].isin(big).to_numpy() & latin)]
    by_row = keys.groupby("row", sort=False)["key"].agg("|".join)
    out = []
    for cluster, row, name in zip(held["cluster"], rows, held["name"], strict=True):
        out.append([str(name), int(cluster), str(by_row.get(int(row), ""))])
    return out
