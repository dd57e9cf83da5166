"""Cluster names: the one naming rule and the one uniqueness rule.

A cluster is named after its main gazetteer places by activity, joined with an en dash
(``Osaka–Kobe–Kyoto``); without a gazetteer place near it, after the most active values of
the records' ``city`` column; without those, by a coordinate label (``35.69°N 139.69°E``).
Names are then made unique by :func:`unique_names`. docs/places.md states the rule in full.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from innoclusters.errors import InputError
from innoclusters.geo import EARTH_RADIUS_KM, chord, coordinate_label, haversine_km, unit_vectors
from innoclusters.places.economies import shares_by
from innoclusters.places.gazetteer import extent_km, places, root_places

__all__ = [
    "city_names",
    "coordinate_label",
    "gazetteer_names",
    "name_clusters",
    "unique_names",
]

#: Columns of :func:`gazetteer_names`.
GAZETTEER_NAME_COLUMNS = ("name", "country", "region")


def city_names(located: pd.DataFrame, *, max_places: int, min_share: float) -> pd.Series:
    """Name clusters after their most active ``city`` values, joined with an en dash.

    A city joins the name when it holds at least ``min_share`` of the cluster's activity
    (the most active always does), at most ``max_places``. Clusters without any city are
    left out of the result.
    """
    if "city" not in located.columns:
        return pd.Series([], dtype=object, index=pd.Index([], name="cluster_id"), name="name")
    by = shares_by(located, "city")
    pos = by.groupby("cluster_id").cumcount()
    keep = by[(pos == 0) | ((by["share"] >= min_share) & (pos < max_places))]
    return keep.groupby("cluster_id", sort=True)["city"].agg("–".join).rename("name")


#: Densities that size a place's *extents*, ``sqrt(population / (pi * D))`` km. A smaller
#: place of the same country is a *suburb* of a larger place of its cluster when it lies inside
#: the larger one's near extent (Ramat Gan, 2.8 km from Tel Aviv, whose near extent is
#: 3.7 km), or inside its wide extent while under :data:`JOIN_POPULATION_RATIO` of its
#: population (Queens in New York City's 37 km, Sakai in Osaka's 21 km, Incheon in Seoul's
#: 41 km, Sunnyvale in San Jose's 12.6 km); Yokohama (39 % of Tokyo) and Kobe stay cities.
NEAR_DENSITY_PER_KM2 = 10_000.0
SUBURB_DENSITY_PER_KM2 = 2_000.0
#: A place after the first joins the name when it holds ``min_share`` of the activity and is
#: at least this fraction of the first place's population, or :data:`OWN_ACTIVITY_RATIO`
#: times as active per inhabitant (Erlangen next to Nuremberg).
JOIN_POPULATION_RATIO = 0.35
#: A suburb this many times as active per inhabitant as its city keeps its own name
#: (Cambridge next to Boston).
OWN_ACTIVITY_RATIO = 3.0
#: A location's activity goes to the place of its cluster (in the location's own country when
#: the cluster has one there) with the largest ``population ** ATTRIBUTION_POWER / d²``, ``d``
#: at least 1 km: a metropolis draws the activity between it and its suburbs.
ATTRIBUTION_POWER = 1.0
#: Each location is attributed among this many nearest places of its cluster.
NEAREST_PLACES = 8


def _suburbs(
    small: pd.DataFrame,
    big: pd.DataFrame,
    g_lat: np.ndarray,
    g_lon: np.ndarray,
    g_country: np.ndarray,
) -> pd.DataFrame:
    """Pairs (place of ``small``, larger place of ``big``) of one cluster where the first is a
    suburb of the second, largest second place first: same country, inside the larger one's
    near extent, or inside its wide extent while under :data:`JOIN_POPULATION_RATIO` of its
    population. Both frames have ``c, row, pop``; ``big``'s columns get the suffix ``_big``.
    """
    pairs = small.merge(big, on="c", suffixes=("", "_big"))
    pairs = pairs[
        (pairs["pop_big"] > pairs["pop"])
        & (g_country[pairs["row"].to_numpy()] == g_country[pairs["row_big"].to_numpy()])
    ]
    km = haversine_km(
        g_lat[pairs["row"].to_numpy()],
        g_lon[pairs["row"].to_numpy()],
        g_lat[pairs["row_big"].to_numpy()],
        g_lon[pairs["row_big"].to_numpy()],
    )
    pop_big = pairs["pop_big"].to_numpy()
    near_km = extent_km(pop_big, NEAR_DENSITY_PER_KM2)
    wide_km = extent_km(pop_big, SUBURB_DENSITY_PER_KM2)
    small_enough = pairs["pop"].to_numpy() < JOIN_POPULATION_RATIO * pop_big
    pairs = pairs[(km <= near_km) | ((km <= wide_km) & small_enough)]
    return pairs.sort_values(["c", "row", "pop_big"], ascending=[True, True, False])


#: Relative width of the band around the naming radius where a place's nearest location is
#: too close to call from the k-d tree's nearest distance: there the pairs are tested as
#: :meth:`scipy.spatial.cKDTree.sparse_distance_matrix` tests them.
_EDGE = 1e-9


def _near_pairs(
    xyz: np.ndarray,
    codes: np.ndarray,
    tree: cKDTree,
    radius: float,
    rows: np.ndarray,
    n_rows: np.int64,
) -> np.ndarray:
    """Sorted keys ``code * n_rows + rows[j]`` of every cluster and tree point within ``radius``.

    The pairs ``cKDTree(xyz).sparse_distance_matrix(tree, radius)`` finds, reduced to one
    per cluster and tree point, without listing every location near every place (millions
    of pairs at world scale, on one core): per cluster, the tree points within ``radius``
    of the sphere around its locations are candidates, and a candidate is near when its
    nearest location of the cluster is (k-d tree queries on all cores). Nearest distances
    within :data:`_EDGE` of ``radius`` are decided by ``sparse_distance_matrix`` itself.
    """
    keys: list[np.ndarray] = []
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(int(codes.max()) + 2 if len(codes) else 0))
    for c in range(len(bounds) - 1):
        own = xyz[order[bounds[c] : bounds[c + 1]]]
        if not len(own):
            continue
        centre = own.mean(axis=0)
        spread = float(np.sqrt(((own - centre) ** 2).sum(axis=1)).max())
        cand = np.asarray(
            tree.query_ball_point(centre, (spread + radius) * (1 + _EDGE) + _EDGE),
            dtype=np.int64,
        )
        if not len(cand):
            continue
        local = cKDTree(own)
        dist, _ = local.query(
            tree.data[cand], k=1, distance_upper_bound=radius * (1 + 2 * _EDGE), workers=-1
        )
        near = cand[dist < radius * (1 - _EDGE)]
        edge = cand[(dist >= radius * (1 - _EDGE)) & np.isfinite(dist)]
        if len(edge):
            hits = local.sparse_distance_matrix(
                cKDTree(tree.data[edge]), radius, output_type="ndarray"
            )
            near = np.concatenate([near, edge[np.unique(hits["j"])]])
        keys.append(np.int64(c) * n_rows + rows[near])
    if not keys:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(keys))


#: Largest table of (cluster, near place) flags that :func:`gazetteer_names` allocates.
_OWN_TABLE_CELLS = 1 << 26


def gazetteer_names(
    located: pd.DataFrame,
    *,
    max_places: int,
    min_share: float,
    max_km: float,
    min_population_ratio: float,
) -> pd.DataFrame:
    """Name each cluster after its principal gazetteer places (docs/places.md, "Names").

    1. *Places of a cluster*: gazetteer places that are no section of another (GeoNames
       feature code ``PPLX``, or inside the core radius of a larger place) within ``max_km``
       of one of its locations, with at least ``min_population_ratio`` of the largest one's
       population.
    2. Each location's activity goes to the place with the largest ``population / d²``
       among its :data:`NEAREST_PLACES` nearest places of the cluster (``d`` at least 1 km),
       a place of the location's own country first.
    3. *Suburbs* fold into their city: a place inside the near extent of a larger place of
       the cluster in the same country, or inside its wide extent while smaller than
       :data:`JOIN_POPULATION_RATIO` of it, gives that place its activity, unless it is
       :data:`OWN_ACTIVITY_RATIO` times as active per inhabitant.
    4. Places are ordered by activity; the first always names the cluster; the others that
       hold ``min_share`` of the activity and have :data:`JOIN_POPULATION_RATIO` of the
       first one's population or :data:`OWN_ACTIVITY_RATIO` times its activity per
       inhabitant qualify, and the largest of them join, up to ``max_places`` in all. A
       suburb that kept its name joins only beside its city.
    5. The chosen places are named largest first, as metropolitan areas name their
       principal cities (``San Jose–San Francisco``), in their English forms (``Cologne``,
       ``Rehovot``); when they lie in several economies, the largest chosen place of each
       economy comes first, economies in order of their chosen places' activity
       (``Shenzhen–Hong Kong–Guangzhou``).

    Parameters
    ----------
    located
        ``cluster_id, lat, lon, activity`` (the location's contribution to the score).
    max_places, min_share, max_km, min_population_ratio
        Settings ``name_max_places``, ``name_min_share``, ``name_max_km`` and
        ``name_min_population_ratio``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cluster_id`` (sorted), columns ``name``, ``country`` and ``region`` of
        the main place, only for the clusters that have a place.
    """
    empty = pd.DataFrame(
        columns=list(GAZETTEER_NAME_COLUMNS), index=pd.Index([], name="cluster_id")
    )
    if not len(located):
        return empty
    gaz = places()
    roots, tree = root_places()
    g_pop = gaz["population"].to_numpy(dtype=np.float64)
    g_lat = gaz["lat"].to_numpy()
    g_lon = gaz["lon"].to_numpy()
    g_country = gaz["country"].to_numpy(dtype=object)
    codes, cluster_ids = pd.factorize(located["cluster_id"], sort=True)
    act = np.nan_to_num(located["activity"].to_numpy(dtype=float))
    lat = located["lat"].to_numpy(float)
    lon = located["lon"].to_numpy(float)
    has_cc = "country" in located.columns
    # Locations at one point of one cluster (one per metric) are placed once: ``point``.
    point_key = pd.DataFrame({"c": codes, "lat": lat, "lon": lon})
    if has_cc:
        # Countries as codes (-1: none), cheaper to group and compare than strings.
        cc, cc_values = pd.factorize(located["country"])
        point_key["cc"] = cc
    point = (
        point_key.groupby(list(point_key.columns), sort=False, dropna=False)
        .ngroup()
        .to_numpy(dtype=np.int64)
    )
    first = np.unique(point, return_index=True)[1]
    u_codes = codes[first]
    u_xyz = unit_vectors(lat[first], lon[first])
    n_rows = np.int64(len(gaz))

    # 1. Places of each cluster: every (cluster, place) pair within max_km of a location.
    pair_key = _near_pairs(u_xyz, u_codes, tree, float(chord(max_km)), roots, n_rows)
    if not len(pair_key):
        return empty
    pairs = pd.DataFrame({"c": pair_key // n_rows, "row": pair_key % n_rows})
    pairs["pop"] = g_pop[pairs["row"].to_numpy()]
    top_pop = pairs.groupby("c")["pop"].transform("max")
    cand = pairs[pairs["pop"] >= min_population_ratio * top_pop]

    # 2. Attribution by population / distance² among the nearest places of the cluster.
    c_rows = np.unique(cand["row"].to_numpy())
    c_tree = cKDTree(unit_vectors(g_lat[c_rows], g_lon[c_rows]))
    k = min(NEAREST_PLACES, len(c_rows))
    # One row per point, one column per near place (queries in parallel: same answers).
    dist, idx = c_tree.query(u_xyz, k=k, workers=-1)
    idx = idx.reshape(len(u_xyz), k)
    o_row = c_rows[idx]
    # Only the places of the point's own cluster count: a table of (cluster, position in
    # c_rows), looked up (keys tested with np.isin when the table would be large).
    cand_c = cand["c"].to_numpy(dtype=np.int64)
    cand_at = np.searchsorted(c_rows, cand["row"].to_numpy(dtype=np.int64))
    if len(cluster_ids) * len(c_rows) <= _OWN_TABLE_CELLS:
        own = np.zeros((len(cluster_ids), len(c_rows)), dtype=bool)
        own[cand_c, cand_at] = True
        ok = own[u_codes[:, None], idx]
    else:
        n_near = np.int64(len(c_rows))
        ok = np.isin(u_codes.astype(np.int64)[:, None] * n_near + idx, cand_c * n_near + cand_at)
    o_km = np.maximum(dist.reshape(len(u_xyz), k) * EARTH_RADIUS_KM, 1.0)
    pull = g_pop[o_row] ** ATTRIBUTION_POWER / o_km**2
    if has_cc:
        # The near places' countries in the same codes (-2: a country no location has;
        # every gazetteer place has one), so "another country" is a comparison of codes.
        code_of = {v: i for i, v in enumerate(cc_values.tolist())}
        c_cc = np.array([code_of.get(v, -2) for v in g_country[c_rows].tolist()], dtype=np.int64)
        other = cc[first][:, None] != c_cc[idx]
    else:
        other = np.zeros(o_row.shape, dtype=bool)
    # Each point's place: a place of its own country first, then the largest pull, then
    # the lowest row (a missing pull counts as the smallest).
    rank = np.where(ok, other.astype(np.int8), np.int8(2))
    pick = ok & (rank == rank.min(axis=1, keepdims=True))
    pull = np.where(pick, np.where(np.isnan(pull), -np.inf, pull), -np.inf)
    pick &= pull == pull.max(axis=1, keepdims=True)
    best = np.where(pick, o_row, np.iinfo(np.int64).max).min(axis=1)
    owner_u = np.where(pick.any(axis=1), best, -1).astype(np.int64)
    # A location with none of its cluster's places among its nearest goes to the largest.
    largest = cand.sort_values(["c", "pop", "row"], ascending=[True, False, True]).drop_duplicates(
        "c"
    )
    fallback = pd.Series(largest["row"].to_numpy(), index=largest["c"].to_numpy())
    missing = owner_u < 0
    owner_u[missing] = fallback.reindex(u_codes[missing]).fillna(-1).to_numpy(dtype=np.int64)
    owner = pd.Series(owner_u[point])
    keep = owner.to_numpy() >= 0
    held = (
        pd.DataFrame({"c": codes[keep], "row": owner.to_numpy()[keep], "act": act[keep]})
        .groupby(["c", "row"], sort=True)["act"]
        .sum()
        .reset_index()
    )
    held["pop"] = g_pop[held["row"].to_numpy()]
    held["per_capita"] = held["act"] / np.maximum(held["pop"], 1.0)

    # 3. Suburbs fold into the largest place whose extent holds them.
    pairs2 = _suburbs(held, held, g_lat, g_lon, g_country)
    folds = pairs2[pairs2["per_capita"] < OWN_ACTIVITY_RATIO * pairs2["per_capita_big"]]
    folds = folds.drop_duplicates(["c", "row"])
    into = pd.Series(
        folds["row_big"].to_numpy(), index=pd.MultiIndex.from_frame(folds[["c", "row"]])
    )
    target = into.reindex(pd.MultiIndex.from_frame(held[["c", "row"]])).to_numpy()
    held["row"] = np.where(pd.isna(target), held["row"], target).astype(np.int64)
    held = held.groupby(["c", "row"], sort=True)["act"].sum().reset_index()
    held["pop"] = g_pop[held["row"].to_numpy()]
    held["per_capita"] = held["act"] / np.maximum(held["pop"], 1.0)

    # 4. Order by activity (ties: population, then name) and choose.
    held["name"] = gaz["name_en"].to_numpy(dtype=object)[held["row"].to_numpy()]
    held = held.sort_values(
        ["c", "act", "pop", "name"], ascending=[True, False, False, True], kind="stable"
    )
    total = held.groupby("c")["act"].transform("sum").to_numpy()
    share = np.where(total > 0, held["act"].to_numpy() / np.where(total > 0, total, 1.0), 0.0)
    pos = held.groupby("c").cumcount().to_numpy()
    first_pop = held.groupby("c")["pop"].transform("first").to_numpy()
    first_pc = held.groupby("c")["per_capita"].transform("first").to_numpy()
    joins = (share >= min_share) & (
        (held["pop"].to_numpy() >= JOIN_POPULATION_RATIO * first_pop)
        | (held["per_capita"].to_numpy() >= OWN_ACTIVITY_RATIO * first_pc)
    )
    # Of the places that qualify, the principal ones are the largest (the most active place
    # always names the cluster): Miami–Fort Lauderdale–Pembroke Pines, not three suburbs of
    # Broward County that happen to hold a little more activity than Fort Lauderdale.
    chosen = held[(pos == 0) | joins].copy()
    chosen["anchor"] = (pos == 0)[(pos == 0) | joins]
    chosen = chosen.sort_values(
        ["c", "anchor", "pop", "name"], ascending=[True, False, False, True], kind="stable"
    )
    chosen = chosen[chosen.groupby("c").cumcount().to_numpy() < max_places]
    chosen = chosen.drop(columns="anchor").sort_values(
        ["c", "act", "pop", "name"], ascending=[True, False, False, True], kind="stable"
    )
    firsts = chosen.drop_duplicates("c")
    # A suburb that keeps its own name (OWN_ACTIVITY_RATIO) names the cluster only beside its
    # city: the largest place holding some of the cluster's activity whose extent holds the
    # suburb joins the name (Cambridge, MA names a cluster only as Boston–Cambridge).
    city = _suburbs(chosen, held[["c", "row", "pop", "act"]], g_lat, g_lon, g_country)
    city = city.drop_duplicates(["c", "row"])[["c", "row_big", "pop_big", "act_big"]]
    city.columns = pd.Index(["c", "row", "pop", "act"])
    city = city.drop_duplicates(["c", "row"])
    city = city.merge(chosen[["c", "row"]], how="left", indicator=True)
    city = city[city["_merge"] == "left_only"].drop(columns="_merge")
    if len(city):
        city["name"] = gaz["name_en"].to_numpy(dtype=object)[city["row"].to_numpy()]
        chosen = pd.concat([chosen, city], ignore_index=True)
    # The chosen places are named largest first, as metropolitan areas name their principal
    # cities (San Jose–San Francisco, Osaka–Kobe–Kyoto); when they lie in several economies,
    # the largest chosen place of each economy comes first, economies in order of their
    # activity (Shenzhen–Hong Kong–Guangzhou, as the economies read CN/HK).
    chosen["economy"] = g_country[chosen["row"].to_numpy()]
    chosen["economy_act"] = chosen.groupby(["c", "economy"])["act"].transform("sum")
    chosen = chosen.sort_values(["c", "pop", "name"], ascending=[True, False, True], kind="stable")
    leader = ~chosen.duplicated(["c", "economy"]).to_numpy()
    chosen["leader_act"] = np.where(leader, chosen["economy_act"].to_numpy(), -np.inf)
    chosen["leader_economy"] = np.where(leader, chosen["economy"].to_numpy(dtype=object), "")
    chosen = chosen.sort_values(
        ["c", "leader_act", "leader_economy", "pop", "name"],
        ascending=[True, False, True, False, True],
        kind="stable",
    )
    region = gaz["admin1_name"].fillna(gaz["admin1"]).to_numpy(dtype=object)
    names = chosen.groupby("c", sort=True)["name"].agg(lambda s: "–".join(dict.fromkeys(s)))
    out = pd.DataFrame(
        {
            "name": names.to_numpy(),
            "country": g_country[firsts["row"].to_numpy()],
            "region": [str(r or "") for r in region[firsts["row"].to_numpy()]],
        },
        index=pd.Index(cluster_ids[names.index.to_numpy()], name="cluster_id"),
    )
    return out.sort_index()


def unique_names(
    names: pd.Series,
    *,
    activity: pd.Series,
    economy: pd.Series,
    region: pd.Series | None = None,
) -> pd.Series:
    """Make names unique; only names that really clash change.

    Among the clusters sharing a name, the most active keeps it plain; each other one gets
    its main economy (``Cambridge (US)``); if that still clashes, the economy and the region
    of its main place (``Portland (US, Maine)``); if that still clashes, a number (``#2``).

    Parameters
    ----------
    names
        Names indexed by ``cluster_id``.
    activity
        Each cluster's activity (its score), same index; the most active comes first.
    economy
        Each cluster's main economy (ISO alpha-2), same index.
    region
        The first-level region of each cluster's main place, same index (may be missing).

    Returns
    -------
    pandas.Series
        Unique names on the same index.
    """
    ids = list(names.index)
    act = activity.reindex(names.index).fillna(0.0).to_numpy(dtype=float)
    econ = economy.reindex(names.index).fillna("").astype(str).to_numpy()
    reg = (
        region.reindex(names.index).fillna("").astype(str).to_numpy()
        if region is not None
        else np.full(len(ids), "", dtype=object)
    )
    base = names.astype(str).to_numpy()
    order = sorted(range(len(ids)), key=lambda i: (-act[i], str(ids[i])))
    taken: set[str] = set()
    first_of: set[str] = set()
    out = [""] * len(ids)
    for i in order:
        plain = base[i]
        forms = [plain] if plain not in first_of else []
        if econ[i]:
            forms.append(f"{plain} ({econ[i]})")
            if reg[i]:
                forms.append(f"{plain} ({econ[i]}, {reg[i]})")
        first_of.add(plain)
        chosen = next((f for f in forms if f not in taken), None)
        if chosen is None:
            stem = forms[-1] if forms else plain
            k = 2
            while f"{stem} #{k}" in taken:
                k += 1
            chosen = f"{stem} #{k}"
        taken.add(chosen)
        out[i] = chosen
    return pd.Series(out, index=names.index, name=names.name, dtype=object)


def name_clusters(
    located: pd.DataFrame,
    *,
    centres: pd.DataFrame,
    max_places: int,
    min_share: float,
    max_km: float = 10.0,
    min_population_ratio: float = 0.15,
    gazetteer: bool = True,
) -> pd.Series:
    """The name of every cluster: gazetteer places, else data cities, else coordinates; unique.

    Parameters
    ----------
    located
        Locations with ``cluster_id``, ``lat``, ``lon``, ``activity``, optional ``country``
        and ``city``; rows with a null ``cluster_id`` are ignored.
    centres
        ``centre_lat, centre_lon`` indexed by ``cluster_id``: every cluster to name.
    max_places, min_share, max_km, min_population_ratio
        The naming settings (see :func:`gazetteer_names`).
    gazetteer
        Use the gazetteer (False: data cities and coordinate labels only).

    Returns
    -------
    pandas.Series
        Unique names indexed like ``centres``.
    """
    need = {"cluster_id", "activity"} | ({"lat", "lon"} if gazetteer else set())
    if need - set(located.columns):
        raise InputError(
            f"naming needs columns {', '.join(sorted(need))}; missing "
            f"{', '.join(sorted(need - set(located.columns)))}"
        )
    ids = centres.index
    # Copies only when rows go (rank_clusters passes the rows of the clusters only).
    keep = located["cluster_id"].notna().to_numpy()
    if gazetteer:
        keep = (
            keep
            & np.isfinite(located["lat"].to_numpy(float))
            & np.isfinite(located["lon"].to_numpy(float))
        )
    inside = located if keep.all() else located[keep]
    found = (
        gazetteer_names(
            inside,
            max_places=max_places,
            min_share=min_share,
            max_km=max_km,
            min_population_ratio=min_population_ratio,
        )
        if gazetteer and len(inside)
        else pd.DataFrame(
            columns=list(GAZETTEER_NAME_COLUMNS), index=pd.Index([], name="cluster_id")
        )
    ).reindex(ids)
    cities = city_names(inside, max_places=max_places, min_share=min_share).reindex(ids)
    labels = pd.Series(
        [
            coordinate_label(a, b)
            for a, b in zip(centres["centre_lat"], centres["centre_lon"], strict=True)
        ],
        index=ids,
        dtype=object,
    )
    name = found["name"].fillna(cities).fillna(labels)
    activity = inside.groupby("cluster_id")["activity"].sum().reindex(ids).fillna(0.0)
    if "country" in inside.columns:
        by_cc = shares_by(inside, "country")
        economy = by_cc.groupby("cluster_id")["country"].first().reindex(ids)
    else:
        economy = pd.Series(None, index=ids, dtype=object)
    economy = economy.fillna(found["country"])
    return unique_names(name, activity=activity, economy=economy, region=found["region"])
