"""publish.mapdata: outlines, places held by clusters, zoom labels and search keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from innoclusters import load_gazetteer
from innoclusters.publish.mapdata import (
    cluster_places,
    country_outlines,
    name_keys,
    place_labels,
    search_entries,
)
from tests._publish_data import hand_result


@pytest.fixture(scope="module")
def gazetteer() -> pd.DataFrame:
    return load_gazetteer()


def test_country_outlines_are_natural_earth_50m_with_iso_codes() -> None:
    topo = country_outlines()
    geoms = topo["objects"]["countries"]["geometries"]
    assert len(geoms) == 241
    by_code = {g["properties"]["iso_a2"]: g["properties"]["name"] for g in geoms}
    assert by_code["DE"] == "Germany" and by_code["JP"] == "Japan" and by_code["XK"] == "Kosovo"
    assert topo["transform"] == {"scale": [0.01, 0.01], "translate": [-180.0, -90.0]}


def test_places_held_are_inside_the_footprint_with_shares(gazetteer: pd.DataFrame) -> None:
    result = hand_result()
    held = cluster_places(result.clusters, result.locations, gazetteer)
    # every place lies in its cluster's footprint (Tokyo: 139.2-140.2 E, 35.2-36.0 N)
    tokyo = held[held["cluster"] == 0]
    assert tokyo["lon"].between(139.2, 140.2).all() and tokyo["lat"].between(35.2, 36.0).all()
    assert {"Tokyo", "Yokohama"} <= set(tokyo["name"])
    # shares add up to 100 per cluster that has locations, and come first
    for _, grp in held.groupby("cluster"):
        assert grp["share_pct"].sum() == pytest.approx(100.0)
        assert grp["share_pct"].is_monotonic_decreasing
    # Fiji's footprint crosses the antimeridian (unwrapped past 180): its places are found
    assert {"Labasa", "Savusavu"} <= set(held.loc[held["cluster"] == 2, "name"])
    # no locations: the places are still listed, with no share
    bare = cluster_places(result.clusters, None, gazetteer)
    assert (bare["share_pct"] == 0).all() and set(bare["cluster"]) == set(held["cluster"])


def test_labels_by_size_and_search_keys_by_spelling(gazetteer: pd.DataFrame) -> None:
    result = hand_result()
    held = cluster_places(result.clusters, result.locations, gazetteer)
    labels = place_labels(gazetteer, held, result.clusters)
    zoom = dict(zip(labels["name"], labels["zoom"], strict=False))
    assert zoom["Tokyo"] == 2 and zoom["Munich"] == 4  # 9.7 and 1.5 million
    biggest = gazetteer.groupby("name")["population"].max()  # of any namesake
    world = [n for n, z in zip(labels["name"], labels["zoom"], strict=True) if z < 6]
    assert len(world) > 100 and (biggest[world] >= 500_000).all()
    entries = {
        (name, cluster): keys.split("|") for name, cluster, keys in search_entries(held, gazetteer)
    }
    assert {"tokyo", "tokio"} <= set(entries[("Tokyo", 0)])
    assert entries[("Tokyo", 0)][0] == "tokyo"  # own name first


def test_name_keys_list_own_and_alternate_spellings(gazetteer: pd.DataFrame) -> None:
    munich = int(np.flatnonzero((gazetteer["name"] == "Munich").to_numpy())[0])
    keys = name_keys(np.array([munich]))
    assert set(keys["row"]) == {munich}
    assert keys.iloc[0].tolist() == [munich, "munich", 0]  # own name first
    alternates = set(keys.loc[keys["kind"] == 1, "key"])
    assert {"munchen", "muenchen", "monaco di baviera"} <= alternates
    assert not keys.duplicated(["row", "key"]).any()
