"""Locations: rounding, exact order-independent sums, windows, dominant country and city."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from innoclusters.locations import build_locations, grid_index_sql, rounded_sql
from innoclusters.profiles import cluster_profiles
from innoclusters.records import read_records


def locations_of(tmp: Path, frame: pd.DataFrame, rounding: float = 0.01) -> pd.DataFrame:
    path = tmp / "p.csv"
    frame.to_csv(path, index=False)
    records = read_records({"patents": [path]}, geocode=False)
    locations, _ = build_locations(records, rounding=rounding, windows={"patents": (1900, 2100)})
    return locations


def test_rounding_and_sums(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "doc_id": ["a", "a", "b", "c", "d"],
            "year": 2020,
            "lat": [35.6812, 35.6849, 35.6790, 10.0, -0.004],
            "lon": [139.7671, 139.7651, 139.7700, 179.999, -179.999],
            "country": ["JP", "JP", "JP", "FJ", "FJ"],
            "city": ["Tokyo", "Tokyo", "Chiyoda", "X", "Y"],
        }
    )
    loc = locations_of(tmp_path, frame)
    tokyo = loc[(loc["lat"] == 35.68) & (loc["lon"] == 139.77)]
    assert len(tokyo) == 1
    # a's two rows count 1/2 each and round to the same place with b.
    assert tokyo["weight"].iloc[0] == 2.0 and tokyo["records"].iloc[0] == 3
    # Tokyo holds 1/2 + 1/2 and Chiyoda 1: a tie, broken alphabetically.
    assert tokyo["city"].iloc[0] == "Chiyoda"
    # 179.999 rounds to 180, which is the same meridian as -180.
    assert set(loc.loc[loc["lat"] == 10.0, "lon"]) == {-180.0}
    assert set(loc.loc[loc["lat"] == 0.0, "lon"]) == {-180.0}


def test_ties_pick_the_alphabetically_first_value(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "doc_id": ["a", "b"],
            "year": 2020,
            "lat": [1.0, 1.0],
            "lon": [2.0, 2.0],
            "country": ["FR", "DE"],
            "city": ["Zeta", "Alpha"],
        }
    )
    loc = locations_of(tmp_path, frame)
    assert loc["country"].tolist() == ["DE"] and loc["city"].tolist() == ["Alpha"]


rows = st.lists(
    st.tuples(
        st.integers(0, 30),  # document
        st.integers(0, 3),  # place
    ),
    min_size=1,
    max_size=60,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows, seed=st.integers(0, 1000))
def test_weights_are_exactly_order_independent_and_conserved(
    tmp_path: Path, rows: list[tuple[int, int]], seed: int
) -> None:
    places = [(1.0, 1.0), (1.004, 1.0), (2.0, 2.0), (3.0, 3.0)]
    frame = pd.DataFrame(
        {
            "doc_id": [f"d{d}" for d, _ in rows],
            "year": 2020,
            "lat": [places[p][0] for _, p in rows],
            "lon": [places[p][1] for _, p in rows],
        }
    )
    first = locations_of(tmp_path, frame)
    shuffled = locations_of(tmp_path, frame.sample(frac=1.0, random_state=seed))
    pd.testing.assert_frame_equal(first, shuffled)  # bit-identical weights
    n_docs = frame["doc_id"].nunique()
    assert abs(first["weight"].sum() - n_docs) < 1e-9


def test_one_rounding_rule_wraps_the_antimeridian_and_keeps_the_poles() -> None:
    con = duckdb.connect()
    values = [179.9, 179.8, -179.9, 180.0, -180.0, 0.124, 0.125, -0.125, 90.0, -90.0]
    con.execute("CREATE TABLE t AS SELECT unnest(?::DOUBLE[]) AS x", [values])
    lat = con.execute(f"SELECT {rounded_sql('x', rounding=0.25)} FROM t").fetchall()
    lon = con.execute(f"SELECT {rounded_sql('x', rounding=0.25, longitude=True)} FROM t").fetchall()
    # Halves go away from zero; on longitude +180 is -180; latitudes stay within the poles.
    assert [v for (v,) in lon] == [
        -180.0,
        179.75,
        -180.0,
        -180.0,
        -180.0,
        0.0,
        0.25,
        -0.25,
        90.0,
        -90.0,
    ]
    assert [v for (v,) in lat][-2:] == [90.0, -90.0]
    assert con.execute(
        f"SELECT {grid_index_sql('180.0', rounding=0.01, longitude=True)}"
    ).fetchone() == (-18000,)


def test_locations_and_profiles_share_the_rounding(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "doc_id": ["a", "b", "c"],
            "year": 2020,
            "lat": [-16.51, -16.49, 10.0],
            "lon": [179.98, -179.99, 12.3449],
            "country": ["FJ", "FJ", "IT"],
            "org": ["East", "West", "Centre"],
        }
    )
    loc = locations_of(tmp_path, frame, rounding=0.05)
    assert loc[["lat", "lon", "weight"]].values.tolist() == [
        [-16.5, -180.0, 2.0],
        [10.0, 12.35, 1.0],
    ]
    records = read_records({"patents": [tmp_path / "p.csv"]}, geocode=False)
    located = loc.assign(cluster_id=["C1", "C2"])
    prof = cluster_profiles(records, located, rounding=0.05, windows={"patents": (1900, 2100)})
    orgs = prof[prof["kind"] == "org"]
    assert orgs.groupby("cluster_id")["weight"].sum().to_dict() == {"C1": 2.0, "C2": 1.0}
