"""Profiles: top organisations and fields per cluster and metric, with shares that add up."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from innoclusters.config import Settings
from innoclusters.pipeline import run
from innoclusters.profiles import NOT_GIVEN, OTHER, PROFILE_COLUMNS, order_profiles

ALPHA = (10.0, 10.0)
BRAVO = (10.0, 20.0)
NOISE = (-30.0, -50.0)

# (doc_id, year, (lat, lon), org, field); a document with two rows counts 1/2 per row.
PATENTS = [
    ("p1", 2023, ALPHA, "Acme", "F1"),
    ("p2", 2023, ALPHA, "Acme", "F1"),
    ("p3", 2023, ALPHA, "Acme", "F2"),
    ("p3", 2023, ALPHA, "Beta", "F2"),
    ("p4", 2023, ALPHA, "Beta", None),
    ("p5", 2023, ALPHA, "Gamma", "F3"),
    ("p6", 2023, ALPHA, None, "F1"),
    ("p7", 2010, ALPHA, "Zeta", "F9"),  # outside the window
    ("p8", 2023, NOISE, "Noise", "F1"),  # in no cluster
    *[(f"b{i}", 2022, BRAVO, None, None) for i in range(4)],
]
PUBLICATIONS = [(f"a{i}", 2022, ALPHA) for i in range(4)]


def _sources(folder: Path) -> dict[str, list[Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    pat = pd.DataFrame(
        [(d, y, lat, lon, "JP", o, f) for d, y, (lat, lon), o, f in PATENTS],
        columns=["doc_id", "year", "lat", "lon", "country", "org", "field"],
    )
    pub = pd.DataFrame(
        [(d, y, lat, lon, "JP") for d, y, (lat, lon) in PUBLICATIONS],
        columns=["doc_id", "year", "lat", "lon", "country"],
    )
    pat.to_csv(folder / "patents.csv", index=False)
    pub.to_csv(folder / "publications.csv", index=False)
    return {"patents": [folder / "patents.csv"], "publications": [folder / "publications.csv"]}


@pytest.fixture
def profiles(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    settings = Settings(
        min_weight={"patents": 3.0, "publications": 3.0}, years={"patents": (2019, 2023)}
    )
    result = run(_sources(tmp_path / "in"), settings)
    return result.extras["profiles"], pd.DataFrame(result.clusters)


def _rows(frame: pd.DataFrame, cid: str, metric: str, kind: str) -> list[tuple[object, ...]]:
    part = frame[(frame["cluster_id"] == cid) & (frame["metric"] == metric)]
    part = part[part["kind"] == kind]
    return [
        (None if pd.isna(r) else int(r), v, w)
        for r, v, w in zip(part["rank"], part["value"], part["weight"], strict=True)
    ]


def test_exact_top_values_other_and_not_given(profiles: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, clusters = profiles
    assert tuple(frame.columns) == PROFILE_COLUMNS
    alpha = "C+10.00+10.00"
    assert list(clusters["cluster_id"]) == [alpha, "C+10.00+20.00"]
    # Acme 1 + 1 + 1/2, Beta 1/2 + 1, Gamma 1, no org 1: 6 documents in the window.
    assert _rows(frame, alpha, "patents", "org") == [
        (1, "Acme", 2.5),
        (2, "Beta", 1.5),
        (3, "Gamma", 1.0),
        (None, NOT_GIVEN, 1.0),
    ]
    # F1 3, F2 1 (two halves), F3 1, no field 1.
    assert _rows(frame, alpha, "patents", "field") == [
        (1, "F1", 3.0),
        (2, "F2", 1.0),
        (3, "F3", 1.0),
        (None, NOT_GIVEN, 1.0),
    ]
    acme = frame[(frame["value"] == "Acme") & (frame["metric"] == "patents")]
    assert acme["share"].tolist() == [pytest.approx(2.5 / 6)]
    # Bravo's records have no org or field; publications have none anywhere: no rows.
    assert _rows(frame, "C+10.00+20.00", "patents", "org") == [(None, NOT_GIVEN, 4.0)]
    assert "publications" not in set(frame["metric"])
    assert not frame["value"].isin(["Zeta", "Noise", "F9"]).any()


def test_shares_add_up_and_weights_match_the_cluster_counts(
    profiles: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    frame, clusters = profiles
    sums = frame.groupby(["cluster_id", "metric", "kind"])["share"].sum()
    assert sums.to_numpy() == pytest.approx(1.0, abs=1e-12)
    weights = frame.groupby(["cluster_id", "metric", "kind"])["weight"].sum().unstack("kind")
    counts = clusters.set_index("cluster_id")["patents"]
    for (cid, _), row in weights.iterrows():
        assert row["org"] == pytest.approx(counts[cid]) and row["field"] == pytest.approx(
            counts[cid]
        )


def test_values_below_the_top_are_gathered(tmp_path: Path) -> None:
    from innoclusters.profiles import cluster_profiles
    from innoclusters.records import read_records

    sources = _sources(tmp_path / "in")
    result = run(sources, Settings(min_weight={"patents": 3.0, "publications": 3.0}))
    records = read_records(sources)
    frame = cluster_profiles(
        records,
        result.locations,
        rounding=0.01,
        windows={"patents": (2019, 2023)},
        top=2,
    )
    assert _rows(frame, "C+10.00+10.00", "patents", "org") == [
        (1, "Acme", 2.5),
        (2, "Beta", 1.5),
        (None, OTHER, 1.0),
        (None, NOT_GIVEN, 1.0),
    ]
    # A tie (F2 and F3 weigh 1) is broken alphabetically.
    assert _rows(frame, "C+10.00+10.00", "patents", "field") == [
        (1, "F1", 3.0),
        (2, "F2", 1.0),
        (None, OTHER, 1.0),
        (None, NOT_GIVEN, 1.0),
    ]
    shares = frame.groupby(["cluster_id", "metric", "kind"])["share"].sum()
    assert shares.to_numpy() == pytest.approx(1.0, abs=1e-12)
    # On a cursor of the connection (as the pipeline runs it, on a thread), rows shuffled
    # and ordered again: the same frame.
    cursor = records.connection.cursor()
    again = cluster_profiles(
        records,
        result.locations,
        rounding=0.01,
        windows={"patents": (2019, 2023)},
        top=2,
        connection=cursor,
    )
    cursor.close()
    shuffled = again.sample(frac=1.0, random_state=1).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        order_profiles(shuffled, sorted(set(frame["cluster_id"]))), frame, check_exact=True
    )
