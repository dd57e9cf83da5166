"""Cluster names: the one naming rule and the one uniqueness rule.

A cluster is named after its main gazetteer places by activity, joined with an en dash
(``Osaka–Kobe–Kyoto``); without a gazetteer place near it, after the most active values of
the records' ``city`` column; without those, by a coordinate label (``35.69°N 139.69°E``).
Names are then made unique by :func:`unique_names`. docs/places.md states the rule in full.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from innoclusters.errors import InputError
from innoclusters.geo import chord, coordinate_label, unit_vectors
from innoclusters.places.economies import shares_by
from innoclusters.places.gazetteer import places, root_places

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


def gazetteer_names(
    located: pd.DataFrame,
    *,
    max_places: int,
    min_share: float,
    max_km: float,
    min_population_ratio: float,
) -> pd.DataFrame:
    """Name each cluster after its main gazetteer places by activity.

    The *places of a cluster* are the gazetteer places that are no section of a larger
    place (no borough, no ward) lying within ``max_km`` of one of its locations and holding
    at least ``min_population_ratio`` times the population of the largest of them. Each
    location is attributed to the nearest place of its cluster; places are ordered by
    attributed activity (ties by name) and a place joins the name when it holds at least
    ``min_share`` of the cluster's activity (the first always does), at most ``max_places``.

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
    gaz = places()
    roots, tree = root_places()
    g_pop = gaz["population"].to_numpy(dtype=np.float64)
    g_name = gaz["name"].to_numpy(dtype=object)
    g_country = gaz["country"].to_numpy(dtype=object)
    g_region = gaz["admin1_name"].fillna(gaz["admin1"]).to_numpy(dtype=object)
    g_lat = gaz["lat"].to_numpy()
    g_lon = gaz["lon"].to_numpy()
    radius = float(chord(max_km))
    rows: dict[Any, tuple[str, str, str]] = {}
    for cid, grp in located.groupby("cluster_id", sort=True):
        act = np.nan_to_num(grp["activity"].to_numpy(dtype=float))
        xyz = unit_vectors(grp["lat"].to_numpy(float), grp["lon"].to_numpy(float))
        near = tree.query_ball_point(xyz, radius)
        cand = np.unique(np.fromiter((j for lst in near for j in lst), dtype=np.int64))
        if not len(cand):
            continue
        found = roots[cand]
        pops = g_pop[found]
        kept = found[pops >= min_population_ratio * pops.max()]
        kxyz = unit_vectors(g_lat[kept], g_lon[kept])
        nearest = np.argmin(((xyz[:, None, :] - kxyz[None, :, :]) ** 2).sum(axis=2), axis=1)
        share = (
            pd.DataFrame({"row": kept[nearest], "activity": act}).groupby("row")["activity"].sum()
        )
        table = pd.DataFrame({"activity": share, "name": g_name[share.index.to_numpy()]})
        table = table.sort_values(["activity", "name"], ascending=[False, True], kind="stable")
        total = float(table["activity"].sum())
        frac = table["activity"] / total if total > 0 else pd.Series(0.0, index=table.index)
        pos = np.arange(len(table))
        chosen = table[(pos == 0) | ((frac.to_numpy() >= min_share) & (pos < max_places))]
        top_row = int(chosen.index[0])
        rows[cid] = (
            "–".join(dict.fromkeys(chosen["name"].tolist())),
            str(g_country[top_row]),
            str(g_region[top_row] or ""),
        )
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(GAZETTEER_NAME_COLUMNS))
    out.index.name = "cluster_id"
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
    inside = located[located["cluster_id"].notna()]
    if gazetteer:
        inside = inside[
            np.isfinite(inside["lat"].to_numpy(float)) & np.isfinite(inside["lon"].to_numpy(float))
        ]
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
