"""Locations: rounding, exact order-independent sums, windows, dominant country and city."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from innoclusters.locations import (
    build_locations,
    grid_degrees_sql,
    grid_index_sql,
    locations_from_parts,
    rounded_sql,
)
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


def test_locations_from_parts_sums_exactly_and_picks_the_heaviest_value() -> None:
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE _parts (metric VARCHAR, li BIGINT, lo BIGINT, country VARCHAR,
        city VARCHAR, w DECIMAL(38, 18), n BIGINT)"""
    )
    hand = [
        # 0.1 + 0.1 + 0.1 is exactly 0.3: a tie, to the first in byte order ("Abc").
        ("vc", 5, -7, "DE", "Zed", "0.1", 1),
        ("vc", 5, -7, "DE", "Zed", "0.1", 1),
        ("vc", 5, -7, None, "Zed", "0.1", 1),
        ("vc", 5, -7, "FR", "Abc", "0.3", 2),
        # Byte order: "Z" (0x5A) before "É" (0xC3); NULL never wins; all NULL gives NULL.
        ("patents", -3, 4, None, "Évry", "2", 1),
        ("patents", -3, 4, "FR", "Zwolle", "2", 1),
        ("patents", 9, 9, None, None, "1", 1),
    ]
    rng = np.random.default_rng(7)
    countries = [None, "DE", "FR", "ÉT"]
    cities = [None, "Zürich", "Zwolle", "Évry", "Ångby", "a"]
    wide = ["12345678901234567890.123456789012345678", "-9.999999999999999999", "0.5"]
    random_rows = [
        (
            str(rng.choice(["patents", "publications", "vc"])),
            int(rng.integers(-2, 3)),
            int(rng.integers(-18000, -17997)),
            countries[rng.integers(len(countries))],
            cities[rng.integers(len(cities))],
            wide[rng.integers(3)] if rng.random() < 0.2 else f"{rng.random():.18f}",
            int(rng.integers(1, 5)),
        )
        for _ in range(300)
    ]
    # One location of 40 parts (found by sorting them, not by pairs).
    many = [("vc", 0, 0, "DE", cities[i % 6], f"0.{i % 7}", 1) for i in range(40)]
    con.executemany("INSERT INTO _parts VALUES (?, ?, ?, ?, ?, ?, ?)", hand + random_rows + many)
    got = locations_from_parts(con, rounding=0.01)

    hand_rows = got[got["metric"].isin(["vc", "patents"])].set_index(["metric", "lat", "lon"])
    assert hand_rows.loc[("vc", 0.05, -0.07), ["country", "city"]].tolist() == ["FR", "Abc"]
    assert hand_rows.loc[("vc", 0.05, -0.07), "records"] == 5
    assert hand_rows.loc[("patents", -0.03, 0.04), ["country", "city"]].tolist() == [
        "FR",
        "Zwolle",
    ]
    assert hand_rows.loc[("patents", 0.09, 0.09), ["country", "city"]].isna().all()

    # An independent statement of the rule: exact sums, heaviest non-null value, ties to
    # the smallest; sorted by metric, lat, lon.
    dominant = """(SELECT metric, li, lo, {col} FROM (
        SELECT metric, li, lo, {col}, sum(w) AS s FROM _parts
        WHERE {col} IS NOT NULL GROUP BY ALL)
        QUALIFY row_number() OVER (PARTITION BY metric, li, lo ORDER BY s DESC, {col}) = 1)"""
    expected = (
        con.sql(
            f"""SELECT t.metric, {grid_degrees_sql("t.li", rounding=0.01)} AS lat,
              {grid_degrees_sql("t.lo", rounding=0.01)} AS lon, t.weight, t.records,
              c.country, y.city
            FROM (SELECT metric, li, lo, CAST(sum(w) AS DOUBLE) AS weight,
                    CAST(sum(n) AS BIGINT) AS records FROM _parts GROUP BY ALL) AS t
            LEFT JOIN {dominant.format(col="country")} AS c USING (metric, li, lo)
            LEFT JOIN {dominant.format(col="city")} AS y USING (metric, li, lo)
            ORDER BY t.metric, t.li, t.lo"""
        )
        .to_arrow_table()
        .to_pandas()
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    con.execute("DELETE FROM _parts")
    empty = locations_from_parts(con, rounding=0.01)
    assert empty.empty and empty.dtypes.equals(got.dtypes)
