"""Areas: merging metric clusters by overlap, membership of noise, ids, footprints."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely

from innoclusters.areas import (
    LINK_COLUMNS,
    area_id,
    area_index,
    area_peaks,
    assign_areas,
    cluster_metrics,
    discs,
    merge_links,
    nearest_members,
)
from innoclusters.config import METRICS, Settings
from innoclusters.geo import EARTH_RADIUS_KM, unit_vectors
from innoclusters.pipeline import cluster_locations

KM_PER_DEG = math.pi / 180 * EARTH_RADIUS_KM  # along the equator


def line(metric: str, start_km: float, n: int, weight: float, step_km: float = 1.0) -> list:
    return [
        (metric, 0.0, (start_km + i * step_km) / KM_PER_DEG, weight, 1, "KE", f"{metric}-town")
        for i in range(n)
    ]


def frame(rows: list) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["metric", "lat", "lon", "weight", "records", "country", "city"]
    )


SETTINGS = Settings(eps_km=13.0, min_weight={"patents": 4.0, "publications": 4.0, "vc": 4.0})


def areas_of(locations: pd.DataFrame, settings: Settings = SETTINGS) -> pd.DataFrame:
    totals = locations.groupby("metric")["weight"].sum().to_dict()
    clustered, _ = cluster_metrics(
        locations, settings=settings, totals=totals, metrics=["patents", "publications", "vc"]
    )
    return assign_areas(clustered, settings=settings, totals=totals)


@pytest.mark.parametrize(("gap_km", "merged"), [(12.0, True), (12.99, True), (14.0, False)])
def test_clusters_of_different_metrics_merge_when_members_are_within_eps(
    gap_km: float, merged: bool
) -> None:
    # patents members at 0..4 km, publications members from 4 + gap km on.
    rows = line("patents", 0.0, 5, 2.0) + line("publications", 4.0 + gap_km, 5, 2.0)
    located = areas_of(frame(rows))
    assert (located["metric_cluster"] >= 0).all()
    assert located["cluster_id"].nunique() == (1 if merged else 2)


def test_clusters_of_one_metric_are_not_merged_by_overlap() -> None:
    # Cores at 0-2 km and 11-13 km; light border points at 5 and 8 km are within eps of
    # each other (so the footprints touch) but not core: DBSCAN keeps two clusters, and
    # merging, which only joins clusters of different metrics, keeps two areas.
    rows = line("patents", 0.0, 3, 2.0) + line("patents", 11.0, 3, 2.0)
    rows += line("patents", 5.0, 1, 0.5) + line("patents", 8.0, 1, 0.5)
    located = areas_of(frame(rows), Settings(eps_km=3.0, min_weight={"patents": 4.0}))
    assert not located.loc[located["weight"] == 0.5, "core"].any()
    assert (located["metric_cluster"] >= 0).all()
    assert located["cluster_id"].nunique() == 2


def test_a_chain_across_metrics_forms_one_area() -> None:
    rows = (
        line("patents", 0.0, 5, 2.0)
        + line("publications", 15.0, 5, 2.0)
        + line("vc", 30.0, 5, 2.0)
        + line("patents", 45.0, 5, 2.0)
    )
    located = areas_of(frame(rows))
    assert located["cluster_id"].nunique() == 1
    clusters = located.groupby(["metric", "metric_cluster"]).size()
    assert len(clusters) == 4  # four metric clusters, one area


def test_noise_inside_the_footprint_counts_for_the_area() -> None:
    rows = line("patents", 0.0, 5, 2.0)
    # vc noise 6 km beyond the last member (inside eps/2 = 6.5 km) and 7 km beyond it.
    rows += [("vc", 0.0, 10.0 / KM_PER_DEG, 1.0, 1, "KE", "x")]
    rows += [("vc", 0.0, -7.0 / KM_PER_DEG, 1.0, 1, "KE", "y")]
    located = areas_of(frame(rows))
    vc = located[located["metric"] == "vc"].set_index("city")
    assert (vc["metric_cluster"] == -1).all()
    assert vc.loc["x", "cluster_id"] == located["cluster_id"].iloc[0]
    assert vc.loc["y", "cluster_id"] is None


def test_merging_and_ids_do_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for metric in ("patents", "publications", "vc"):
        for cx in (0.0, 40.0, 90.0):
            for _ in range(30):
                km = cx + rng.normal(0, 3)
                rows.append(
                    (
                        metric,
                        round(rng.normal(0, 0.02), 2),
                        round(km / KM_PER_DEG, 2),
                        float(rng.integers(1, 4)) / 4,
                        1,
                        "KE",
                        "t",
                    )
                )
    base = frame(rows).drop_duplicates(["metric", "lat", "lon"])
    base = base.sort_values(["metric", "lat", "lon"]).reset_index(drop=True)
    expected = areas_of(base).set_index(["metric", "lat", "lon"])["cluster_id"]
    for seed in range(3):
        shuffled = base.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        got = areas_of(shuffled).set_index(["metric", "lat", "lon"])["cluster_id"]
        pd.testing.assert_series_equal(got.sort_index(), expected.sort_index())


def test_cluster_id_is_the_peak_location() -> None:
    rows = line("patents", 0.0, 5, 2.0)
    rows[2] = ("patents", 0.0, 2.0 / KM_PER_DEG, 9.0, 1, "KE", "peak")
    located = areas_of(frame(rows))
    lon = 2.0 / KM_PER_DEG
    assert set(located["cluster_id"]) == {f"C+0.00+{lon:.2f}"}


def test_footprint_covers_members_and_crosses_the_antimeridian_unwrapped() -> None:
    rows = [("patents", 10.0, lon, 2.0, 1, "FJ", "t") for lon in (179.97, 179.99, -179.99, -179.97)]
    locations = frame(rows)
    totals = {"patents": 8.0}
    _, clusters, _ = cluster_locations(
        locations, settings=SETTINGS, totals=totals, metrics=["patents"]
    )
    assert len(clusters) == 1
    shape = clusters.geometry.iloc[0]
    minx, _, maxx, _ = shape.bounds
    assert maxx - minx < 1.0  # not smeared across the globe
    centre_lon = clusters["lon"].iloc[0]
    for lon in (179.97, -179.97):
        unwrapped = lon if abs(lon - centre_lon) < 180 else lon - math.copysign(360, lon)
        assert shape.contains(shapely.Point(unwrapped, 10.0))


def test_discs_are_geos_point_buffers_bit_for_bit() -> None:
    # Grid cells around a centre as the footprints draw them: zeros of both signs, large
    # and small offsets, the radius of the default eps (6.5 km) and an odd one.
    rng = np.random.default_rng(3)
    cells = np.vstack(
        [
            [[0.0, 0.0], [-0.0, -0.0], [0.0, -0.0], [-1.625, 0.0], [3.25, -0.0]],
            np.round(rng.normal(0.0, 40.0, size=(300, 2))) * 1.625,
            rng.uniform(-1e3, 1e3, size=(50, 2)),
        ]
    )
    for radius in (6.5, 0.37):
        expected = shapely.buffer(shapely.points(cells), radius, quad_segs=4)
        got = discs(cells, radius)
        assert list(shapely.to_wkb(got)) == list(shapely.to_wkb(expected))


@pytest.mark.parametrize("axis", ["lon", "lat"])
def test_noise_equidistant_from_two_areas_goes_to_the_first_member_by_lat_lon(axis: str) -> None:
    # Two patents clusters whose border members sit 0.01 degree either side of 0 on one
    # axis (2.2 km apart, not core, so DBSCAN keeps two clusters) and a vc noise location
    # at 0 exactly between them, within eps/2 of both: the tie goes to the member with the
    # smaller latitude, then longitude, whatever the order of the rows.
    def at(metric: str, pos: float, weight: float) -> tuple:
        lat, lon = (0.0, pos) if axis == "lon" else (pos, 0.0)
        return (metric, lat, lon, weight, 1, "KE", f"{metric}{pos:+.2f}")

    rows = [at("patents", p, 2.0) for p in (-0.06, -0.05, -0.04, 0.04, 0.05, 0.06)]
    rows += [at("patents", -0.01, 0.5), at("patents", 0.01, 0.5), at("vc", 0.0, 1.0)]
    base = frame(rows)
    settings = Settings(eps_km=4.0, min_weight={"patents": 4.0, "vc": 4.0})
    picks = []
    for seed in range(40):
        shuffled = base.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        located = areas_of(shuffled, settings).set_index("city")
        assert located["cluster_id"].nunique() == 2
        assert located.loc["vc+0.00", "metric_cluster"] == -1
        assert not located.loc[["patents-0.01", "patents+0.01"], "core"].any()
        west = located.loc["patents-0.01", "cluster_id"]
        picks.append(located.loc["vc+0.00", "cluster_id"] == west)
    assert sum(picks) == 40


def test_nearest_members_breaks_ties_by_latitude_then_longitude_in_any_order() -> None:
    # Members around (0, 0): east and west at 0.01 degree, north at 0.01 degree, and one
    # farther south; points to place at (0, 0) (three tied members), (0, 0.005) (east
    # nearest), and far away (none within 2 km).
    members = np.array([[0.0, 0.01], [0.01, 0.0], [0.0, -0.01], [-0.02, 0.0]])
    points = np.array([[0.0, 0.0], [0.0, 0.005], [1.0, 1.0]])
    for perm in ([0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]):
        m = members[perm]
        got = nearest_members(m[:, 0], m[:, 1], points[:, 0], points[:, 1], max_km=2.0)
        assert got[2] == -1
        chosen = [tuple(m[i]) for i in got[:2]]
        # (0, -0.01) comes before (0, 0.01) and (0.01, 0) by latitude, then longitude.
        assert chosen == [(0.0, -0.01), (0.0, 0.01)]
    # Inclusive at max_km: 0.01 degree of longitude on the equator is about 1.11195 km.
    one = nearest_members(
        np.array([0.0]), np.array([0.01]), np.zeros(1), np.zeros(1), max_km=1.1119
    )
    assert one.tolist() == [-1]
    km = math.radians(0.01) * EARTH_RADIUS_KM
    one = nearest_members(np.array([0.0]), np.array([0.01]), np.zeros(1), np.zeros(1), max_km=km)
    assert one.tolist() == [0]


# --- merge links (why an area is one) -------------------------------------------------


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return float(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h)))


def test_merge_links_states_the_closest_pair_of_each_merge() -> None:
    # patents 0 and publications 0 overlap (0.10 degree of longitude = 11.1 km < 13 km);
    # vc 0 is far away: an area of its own, with no link.
    toy = pd.DataFrame(
        {
            "metric": ["patents", "patents", "publications", "publications", "vc"],
            "lat": [0.0, 0.0, 0.0, 0.0, 10.0],
            "lon": [0.0, 0.05, 0.15, 0.30, 10.0],
            "metric_cluster": [0, 0, 0, 0, 0],
            "cluster_id": ["A", "A", "A", "A", "B"],
        }
    )
    before = toy.copy()
    links = merge_links(toy, eps_km=13.0)
    pd.testing.assert_frame_equal(toy, before)  # input not modified
    assert list(links.columns) == list(LINK_COLUMNS)
    assert links.drop(columns="distance_km").values.tolist() == [
        ["A", "patents", 0, "publications", 0, 0.0, 0.05, 0.0, 0.15]
    ]
    assert links["distance_km"].iloc[0] == pytest.approx(_haversine_km(0, 0.05, 0, 0.15))
    assert merge_links(toy, eps_km=10.0).empty  # 11.1 km apart: no overlap at 10 km


def test_merge_links_agree_with_a_brute_force_oracle() -> None:
    rng = np.random.default_rng(7)
    n = 600
    toy = pd.DataFrame(
        {
            "metric": rng.choice(["patents", "publications", "vc"], n),
            "lat": np.round(48 + rng.normal(0, 0.4, n), 2),
            "lon": np.round(11 + rng.normal(0, 0.6, n), 2),
            "weight": rng.uniform(0.1, 3.0, n),
        }
    )
    settings = Settings(eps_km=8.0, min_weight={"patents": 4.0, "publications": 4.0, "vc": 4.0})
    totals = toy.groupby("metric")["weight"].sum().to_dict()
    clustered, _ = cluster_metrics(
        toy, settings=settings, totals=totals, metrics=["patents", "publications", "vc"]
    )
    located = assign_areas(clustered, settings=settings, totals=totals)
    links = merge_links(located, eps_km=8.0)
    assert len(links) > 3
    members = located[located["metric_cluster"] >= 0]
    groups = {k: g for k, g in members.groupby(["metric", "metric_cluster"])}
    for link in links.itertuples(index=False):
        a = groups[(link.metric_a, link.metric_cluster_a)]
        b = groups[(link.metric_b, link.metric_cluster_b)]
        # the stated pair exists, belongs to the area, and is within eps_km
        assert ((a["lat"] == link.lat_a) & (a["lon"] == link.lon_a)).any()
        assert ((b["lat"] == link.lat_b) & (b["lon"] == link.lon_b)).any()
        assert set(a["cluster_id"]) == set(b["cluster_id"]) == {link.cluster_id}
        stated = _haversine_km(link.lat_a, link.lon_a, link.lat_b, link.lon_b)
        assert link.distance_km == pytest.approx(stated, abs=1e-6)
        assert link.distance_km <= 8.0 + 1e-9
        # and no closer pair exists
        closest = min(
            _haversine_km(la, loa, lb, lob)
            for la, loa in zip(a["lat"], a["lon"], strict=True)
            for lb, lob in zip(b["lat"], b["lon"], strict=True)
        )
        assert link.distance_km == pytest.approx(closest, abs=1e-6)
    # every area made of several metric clusters has at least one link per extra cluster
    per_area = members.groupby("cluster_id").apply(
        lambda g: g[["metric", "metric_cluster"]].drop_duplicates().shape[0]
    )
    linked = links.groupby("cluster_id").size()
    for cid, parts in per_area.items():
        assert linked.get(cid, 0) >= parts - 1


# --- the rule against a brute-force reading of it ------------------------------------------


def _ids_by_brute_force(located: pd.DataFrame, settings: Settings) -> list:
    """The area rule of the module docstring, spelled out with all pairwise distances.

    Metric clusters of different metrics with members within eps_km are joined; others
    join the area of their nearest member within eps_km / 2 (:func:`nearest_members`, the
    k-d tree reading of the tie rule); each area is named after its peak (most activity,
    then latitude, then longitude).
    """
    lat = located["lat"].to_numpy(dtype=float)
    lon = located["lon"].to_numpy(dtype=float)
    labels = located["metric_cluster"].to_numpy()
    metric = located["metric"].to_numpy().astype(str)
    member = np.flatnonzero(labels >= 0)
    keys = sorted({(metric[i], int(labels[i])) for i in member})
    parent = {k: k for k in keys}

    def root(k: tuple) -> tuple:
        while parent[k] != k:
            k = parent[k]
        return k

    xyz = unit_vectors(lat, lon)
    limit = 2.0 * math.sin(settings.eps_km / EARTH_RADIUS_KM / 2.0) * (1 + 1e-12)
    rows = {k: member[(metric[member] == k[0]) & (labels[member] == k[1])] for k in keys}
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            if a[0] == b[0]:
                continue
            d = np.linalg.norm(xyz[rows[a]][:, None, :] - xyz[rows[b]][None, :, :], axis=2)
            if d.min() <= limit:
                parent[max(root(a), root(b))] = min(root(a), root(b))
    area: list = [None] * len(located)
    for i in member:
        area[i] = root((metric[i], int(labels[i])))
    noise = np.flatnonzero(labels < 0)
    near = nearest_members(
        lat[member], lon[member], lat[noise], lon[noise], max_km=settings.eps_km / 2
    )
    for i, m in zip(noise, near, strict=True):
        if m >= 0:
            area[i] = area[member[m]]
    activity = located["activity"].to_numpy(dtype=float)
    peak: dict = {}
    for i, a in enumerate(area):
        if a is not None:
            best = peak.get(a)
            if best is None or (-activity[i], lat[i], lon[i]) < (
                -activity[best],
                lat[best],
                lon[best],
            ):
                peak[a] = i
    names = {a: area_id(lat[p], lon[p], rounding=settings.rounding) for a, p in peak.items()}
    return [names[a] if a is not None else None for a in area]


def _ids_on_arrays(located: pd.DataFrame, settings: Settings) -> list:
    lat = located["lat"].to_numpy(dtype=float)
    lon = located["lon"].to_numpy(dtype=float)
    code = pd.Categorical(located["metric"], categories=list(METRICS)).codes
    area = area_index(
        unit_vectors(lat, lon),
        lat,
        lon,
        code,
        located["metric_cluster"].to_numpy(),
        eps_km=settings.eps_km,
    )
    peaks = area_peaks(area, located["activity"].to_numpy(dtype=float), lat, lon)
    names = [area_id(lat[p], lon[p], rounding=settings.rounding) for p in peaks]
    return [names[a] if a >= 0 else None for a in area]


@pytest.mark.parametrize("eps_km", [4.0, 8.0, 13.0])
def test_area_index_gives_the_areas_of_assign_areas(eps_km: float) -> None:
    # Twelve towns of three metrics: many metric clusters, overlaps, noise near and far.
    rng = np.random.default_rng(11)
    n = 3000
    town = rng.integers(0, 12, n)
    toy = pd.DataFrame(
        {
            "metric": rng.choice(["patents", "publications", "vc"], n),
            "lat": np.round(48 + (town % 4) * 1.0 + rng.normal(0, 0.08, n), 2),
            "lon": np.round(11 + (town // 4) * 1.4 + rng.normal(0, 0.12, n), 2),
            "weight": rng.uniform(0.1, 3.0, n),
        }
    )
    settings = Settings(eps_km=eps_km, min_weight={"patents": 9.0, "publications": 9.0, "vc": 9.0})
    totals = toy.groupby("metric")["weight"].sum().to_dict()
    clustered, _ = cluster_metrics(
        toy, settings=settings, totals=totals, metrics=["patents", "publications", "vc"]
    )
    located = assign_areas(clustered, settings=settings, totals=totals)
    assert located["cluster_id"].nunique() >= 12
    assert (located["cluster_id"].notna() & (located["metric_cluster"] < 0)).any()
    assert (located["cluster_id"].isna()).any()
    assert _ids_by_brute_force(located, settings) == located["cluster_id"].tolist()
    assert _ids_on_arrays(located, settings) == located["cluster_id"].tolist()


@pytest.mark.parametrize("axis", ["lon", "lat"])
def test_area_index_breaks_membership_ties_as_assign_areas(axis: str) -> None:
    def at(metric: str, pos: float, weight: float) -> tuple:
        lat, lon = (0.0, pos) if axis == "lon" else (pos, 0.0)
        return (metric, lat, lon, weight, 1, "KE", f"{metric}{pos:+.2f}")

    rows = [at("patents", p, 2.0) for p in (-0.06, -0.05, -0.04, 0.04, 0.05, 0.06)]
    rows += [at("patents", -0.01, 0.5), at("patents", 0.01, 0.5), at("vc", 0.0, 1.0)]
    settings = Settings(eps_km=4.0, min_weight={"patents": 4.0, "vc": 4.0})
    for seed in range(5):
        shuffled = frame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
        located = areas_of(shuffled, settings)
        assert located["cluster_id"].nunique() == 2
        assert _ids_by_brute_force(located, settings) == located["cluster_id"].tolist()
