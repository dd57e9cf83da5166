"""Cluster names (innoclusters.places.names) on hand-built areas in real geography."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely

from innoclusters import places
from innoclusters.places import gazetteer
from innoclusters.places.names import gazetteer_names


def _point(name: str, cc: str, admin1: str | None = None) -> tuple[float, float]:
    g = gazetteer.places()
    sel = g[(g["name"] == name) & (g["country"] == cc)]
    if admin1:
        sel = sel[sel["admin1"] == admin1]
    assert len(sel), f"{name}, {cc} is not in the gazetteer"
    row = sel.loc[sel["population"].idxmax()]
    return float(row["lat"]), float(row["lon"])


def _area(cid: str, parts: list[tuple[str, str, float, str | None]]) -> list[tuple]:
    """Four inventor points around each place (±0.005°), sharing the place's activity."""
    rows = []
    for name, cc, activity, admin1 in parts:
        lat, lon = _point(name, cc, admin1)
        for dlat, dlon in ((0.005, 0.0), (-0.005, 0.0), (0.0, 0.005), (0.0, -0.005)):
            rows.append((cid, lat + dlat, lon + dlon, activity / 4, cc))
    return rows


def _names(*areas: list[tuple], **settings: float) -> dict[str, str]:
    loc = pd.DataFrame(
        [r for a in areas for r in a], columns=["cluster_id", "lat", "lon", "activity", "country"]
    )
    centres = loc.groupby("cluster_id")[["lat", "lon"]].mean()
    centres.columns = ["centre_lat", "centre_lon"]
    kw = {"max_places": 3, "min_share": 0.1, **settings}
    return places.name_clusters(loc, centres=centres, **kw).to_dict()  # type: ignore[arg-type]


def test_bay_area_is_named_after_its_principal_cities_not_its_suburbs() -> None:
    bay = _area(
        "bay",
        [
            ("Sunnyvale", "US", 15.0, "CA"),
            ("San Jose", "US", 40.0, "CA"),
            ("Palo Alto", "US", 10.0, "CA"),
            ("San Francisco", "US", 35.0, "CA"),
        ],
    )
    assert _names(bay) == {"bay": "San Jose–San Francisco"}


def test_new_york_boroughs_fold_into_the_city() -> None:
    ny = _area(
        "ny",
        [
            ("The Bronx", "US", 20.0, "NY"),
            ("Queens", "US", 30.0, "NY"),
            ("Brooklyn", "US", 30.0, "NY"),
            ("New York City", "US", 20.0, "NY"),
        ],
    )
    assert _names(ny) == {"ny": "New York City"}


def test_shenzhen_and_hong_kong_across_the_border() -> None:
    prd = _area("prd", [("Shenzhen", "CN", 60.0, None), ("Hong Kong", "HK", 40.0, None)])
    assert _names(prd) == {"prd": "Shenzhen–Hong Kong"}
    # The New Territories are part of Hong Kong: their activity is Hong Kong's.
    nt = _area(
        "prd",
        [
            ("Shenzhen", "CN", 50.0, None),
            ("Hong Kong", "HK", 5.0, None),
            ("New Territories", "HK", 25.0, None),
            ("Guangzhou", "CN", 20.0, None),
        ],
    )
    # Named as the GII does: the largest chosen place of each economy first (Shenzhen for
    # CN, Hong Kong for HK, economies by activity), then the others largest first.
    assert _names(nt) == {"prd": "Shenzhen–Hong Kong–Guangzhou"}
    # One economy: largest first, whatever the activity (San Jose before San Francisco).
    one = _area("prd", [("Shenzhen", "CN", 40.0, None), ("Guangzhou", "CN", 60.0, None)])
    assert _names(one) == {"prd": "Shenzhen–Guangzhou"}


def test_tel_aviv_with_ramat_gan_munich_with_garching() -> None:
    ta = _area("ta", [("Tel Aviv", "IL", 60.0, None), ("Ramat Gan", "IL", 40.0, None)])
    mu = _area("mu", [("Munich", "DE", 60.0, None), ("Garching", "DE", 40.0, "02")])
    assert _names(ta, mu) == {"mu": "Munich", "ta": "Tel Aviv"}


def test_seoul_with_suwon_and_yongin() -> None:
    se = _area(
        "se",
        [("Seoul", "KR", 50.0, None), ("Suwon", "KR", 30.0, None), ("Yongin", "KR", 20.0, None)],
    )
    assert _names(se) == {"se": "Seoul"}


def test_cities_stay_cities_and_an_active_suburb_keeps_its_name() -> None:
    kansai = _area(
        "kansai",
        [
            ("Osaka", "JP", 45.0, None),
            ("Sakai", "JP", 10.0, None),
            ("Kobe", "JP", 25.0, None),
            ("Kyoto", "JP", 20.0, None),
        ],
    )
    tokyo = _area("tk", [("Tokyo", "JP", 70.0, None), ("Yokohama", "JP", 30.0, None)])
    # Cambridge holds 40 % of the activity with 18 % of Boston's people: it keeps its name.
    boston = _area("bos", [("Boston", "US", 60.0, "MA"), ("Cambridge", "US", 40.0, "MA")])
    assert _names(kansai, tokyo, boston) == {
        "bos": "Boston–Cambridge",
        "kansai": "Osaka–Kobe–Kyoto",
        "tk": "Tokyo–Yokohama",
    }
    # thresholds: at most two places; a place below the share is left out
    assert _names(kansai, max_places=2)["kansai"] == "Osaka–Kobe"
    assert _names(kansai, min_share=0.22)["kansai"] == "Osaka–Kobe"


def test_principal_cities_are_the_largest_of_those_with_activity() -> None:
    """Of the places holding a tenth of the activity, the largest join the most active one:
    a cluster over Broward County and northern Miami is Miami–Fort Lauderdale–Pembroke Pines,
    not the three Broward towns that hold a little more activity than Fort Lauderdale."""
    broward = _area(
        "fl",
        [
            ("Pembroke Pines", "US", 16.0, "FL"),
            ("Hollywood", "US", 14.0, "FL"),
            ("Pompano Beach", "US", 12.0, "FL"),
            ("Fort Lauderdale", "US", 11.0, "FL"),
            ("Miami", "US", 11.0, "FL"),
            ("Plantation", "US", 9.0, "FL"),
            ("Coral Springs", "US", 6.0, "FL"),
        ],
    )
    assert _names(broward) == {"fl": "Miami–Fort Lauderdale–Pembroke Pines"}


def test_an_active_suburb_names_a_cluster_only_beside_its_city() -> None:
    """A suburb that keeps its name by its own activity never names a cluster alone while its
    city holds part of the cluster: Cambridge with 94 % of the activity, Boston with 6 %
    (under ``min_share``) is still Boston–Cambridge, and Cambridge alone is Cambridge. São
    Caetano do Sul (12 km from São Paulo's point, a municipality of its own, no section) has
    under ``name_min_population_ratio`` of São Paulo's people, so however active it is, the
    cluster is São Paulo."""
    got = _names(
        _area("bos", [("Boston", "US", 6.0, "MA"), ("Cambridge", "US", 94.0, "MA")]),
        _area("sp", [("São Paulo", "BR", 5.0, None), ("São Caetano do Sul", "BR", 95.0, None)]),
        _area("cam", [("Cambridge", "US", 10.0, "MA")]),
    )
    assert got == {
        "bos": "Boston–Cambridge",
        "sp": "São Paulo",
        "cam": "Cambridge",
    }


def test_english_forms() -> None:
    areas = [
        _area("cgn", [("Köln", "DE", 1.0, None)]),
        _area("rh", [("Reẖovot", "IL", 1.0, None)]),
        _area("zh", [("Zürich", "CH", 1.0, None)]),
        _area("sp", [("São Paulo", "BR", 1.0, None)]),
        _area("mtl", [("Montréal", "CA", 1.0, None)]),
    ]
    assert _names(*areas) == {
        "cgn": "Cologne",
        "mtl": "Montreal",
        "rh": "Rehovot",
        "sp": "São Paulo",
        "zh": "Zürich",
    }


def test_one_point_cluster_at_a_city_inventor_point() -> None:
    lat, lon = _point("Eindhoven", "NL")
    loc = pd.DataFrame(
        {"cluster_id": ["e"], "lat": [lat], "lon": [lon], "activity": [1.0], "country": ["NL"]}
    )
    got = gazetteer_names(loc, max_places=3, min_share=0.1, max_km=10.0, min_population_ratio=0.15)
    assert got.loc["e", "name"] == "Eindhoven"
    assert got.loc["e", "country"] == "NL"


def test_sections_never_name_a_cluster() -> None:
    g = gazetteer.places()
    sections = g[g["section"]]
    # GeoNames' sections of populated places (feature code PPLX) and named sections
    for name in ("Wandsbek", "Jaffa", "Charlottenburg", "La Jolla", "New Territories"):
        assert name in set(sections["name"]), name
    hamburg = _area("hh", [("Hamburg", "DE", 50.0, None), ("Wandsbek", "DE", 50.0, None)])
    assert _names(hamburg) == {"hh": "Hamburg"}


def test_uniqueness_changes_only_real_clashes() -> None:
    names = _names(
        _area("uk", [("Cambridge", "GB", 10.0, None)]),
        _area("us", [("Cambridge", "US", 5.0, "MA")]),
        _area("p1", [("Portland", "US", 8.0, "OR")]),
        _area("p2", [("Portland", "US", 3.0, "ME")]),
        _area("ldn", [("London", "GB", 20.0, None)]),
    )
    assert names["ldn"] == "London"
    assert names["uk"] == "Cambridge" and names["us"] == "Cambridge (US)"
    assert names["p1"] == "Portland" and names["p2"] == "Portland (US)"


def test_areas_without_places_get_data_cities_then_coordinates() -> None:
    loc = pd.DataFrame(
        {
            "cluster_id": ["sea", "ship"],
            "lat": [-40.0, -45.0],
            "lon": [-120.0, -125.0],
            "activity": [1.0, 1.0],
            "city": [None, "Research Vessel"],
        }
    )
    centres = pd.DataFrame(
        {"centre_lat": [-40.0, -45.0], "centre_lon": [-120.0, -125.0]},
        index=pd.Index(["sea", "ship"]),
    )
    got = places.name_clusters(loc, centres=centres, max_places=3, min_share=0.1)
    assert got.to_dict() == {"sea": "40.00°S 120.00°W", "ship": "Research Vessel"}


@pytest.mark.parametrize(
    ("name", "english"),
    [
        ("Reẖovot", "Rehovot"),
        ("Wŏnju", "Wonju"),
        ("Xi’an", "Xi'an"),
        ("Goyang-si", "Goyang"),
        ("Kraków", "Kraków"),
        ("İzmir", "Izmir"),
        ("Malmö", "Malmö"),
    ],
)
def test_english_form(name: str, english: str) -> None:
    assert gazetteer.english_form(name) == english


def test_a_village_with_a_city_figure_never_names_kuala_lumpur() -> None:
    # GeoNames gives the village of Kampung Baru Subang (Shah Alam) 833,571 people, more than
    # Shah Alam or Petaling Jaya: kept as a section of its city, it neither counts nor names.
    kl = _area(
        "kl",
        [
            ("Kuala Lumpur", "MY", 40.0, None),
            ("Kampung Baru Subang", "MY", 25.0, None),
            ("Petaling Jaya", "MY", 20.0, None),
            ("Shah Alam", "MY", 15.0, None),
        ],
    )
    name = _names(kl)["kl"]
    assert name.startswith("Kuala Lumpur") and "Subang" not in name, name


def test_townships_with_a_wider_units_figure_neither_name_nor_count() -> None:
    # GeoNames gives Bukit Rahman Putra, a township of Sungai Buloh 0.8 km from its point,
    # 607,000 people (Sungai Buloh 222,858), and Selayang Baru Utara, Kota Damansara and
    # Taman Petaling figures of wider units: junk records (population 0) in
    # data/population_corrections.tsv, so they neither name the area nor hold Sungai Buloh,
    # Batu Caves or Kepong as their parts.
    junk = {"Bukit Rahman Putra", "Selayang Baru Utara", "Kota Damansara", "Taman Petaling"}
    kl = _area(
        "kl",
        [
            ("Kuala Lumpur", "MY", 45.0, None),
            ("Petaling Jaya", "MY", 30.0, None),
            ("Sungai Buloh", "MY", 25.0, None),
        ],
    )
    name = _names(kl)["kl"]
    assert name.startswith("Kuala Lumpur–Petaling Jaya") and not junk & set(name.split("–"))
    lats, lons = [r[1] for r in kl], [r[2] for r in kl]
    hull = shapely.MultiPoint(list(zip(lons, lats, strict=True))).convex_hull.buffer(0.05)
    by = places.population_by_place(pd.Series([hull], index=pd.Index(["kl"], name="cluster_id")))
    assert not junk & set(by["name"])
    buloh = by[by["name"] == "Sungai Buloh"]
    assert len(buloh) == 1 and buloh["people"].iloc[0] <= 222_858 + 1e-6
    assert {"Batu Caves", "Kepong"} <= set(by["name"])
