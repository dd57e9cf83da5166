"""Crunchbase adapter: bulk export and old open snapshot, hand-written in the upstream layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from innoclusters.records import read_records
from innoclusters.sources.crunchbase import vc_round_types

DATA = Path(__file__).parent / "data" / "sources" / "crunchbase"


def test_bulk_export_counts_vc_rounds_at_the_funded_company() -> None:
    rs = read_records({"vc": [f"crunchbase:{DATA / 'bulk'}"]})
    frame = rs.frame().set_index("doc_id").sort_index()
    ids = [f"a1e7c2b0-000{i}-4c1d-8e2f-00000000000{i}" for i in (1, 2, 4, 7)]
    assert frame.index.tolist() == ids
    assert frame["year"].tolist() == [2021, 2022, 2020, 2023]
    assert frame["country"].tolist() == ["US", "SE", "DE", "IN"]  # alpha-3 upstream
    assert frame["weight"].tolist() == [1.0] * 4  # one deal, one location
    assert frame["org"].tolist() == [
        "Acme Robotics",
        "Nordic Batteries",
        "Spree Labs",
        "Mumbai Health",
    ]
    # Geocoded from the organisation's city (Spree Labs is not in organizations.csv: the
    # round's own place is used).
    assert frame.loc[ids[0], ["lat", "lon"]].tolist() == pytest.approx([37.77, -122.42], abs=0.05)
    assert frame.loc[ids[2], ["lat", "lon"]].tolist() == pytest.approx([52.52, 13.41], abs=0.05)
    rejects = rs.rejects()
    assert rejects[["line", "reason"]].values.tolist() == [[7, "missing year"]]
    (stats,) = rs.files
    assert (stats.rows_read, stats.rows_accepted, stats.rows_filtered, stats.rows_rejected) == (
        7,
        4,
        2,
        1,
    )
    assert dict(stats.filtered) == {"not a VC round": 2}
    assert stats.columns["country"] == "organizations.country_code"


def test_open_snapshot_rounds_with_companies_filling_places() -> None:
    rs = read_records({"vc": [DATA / "open"]})  # detected from rounds.csv
    frame = rs.frame().set_index("doc_id").sort_index()
    assert frame["year"].tolist() == [2012, 2013, 2011]
    assert frame["country"].tolist() == ["US", "GB", "IL"]
    assert frame.iloc[2][["lat", "lon"]].tolist() == pytest.approx([32.08, 34.78], abs=0.05)
    (stats,) = rs.files
    assert stats.adapter == "crunchbase"
    assert (stats.rows_read, stats.rows_accepted, stats.rows_filtered) == (4, 3, 1)


def test_open_investments_count_each_round_once() -> None:
    rs = read_records({"vc": [f"crunchbase:{DATA / 'open_investments'}"]})
    frame = rs.frame()
    assert sorted(frame["doc_id"]) == [
        "/funding-round/0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "/funding-round/1b2c3d4e5f60718293a4b5c6d7e8f90a",
    ]
    assert frame["weight"].sum() == 2.0
    assert dict(rs.files[0].filtered) == {"another investor of the round": 1}


def test_the_round_type_mapping_is_data() -> None:
    assert vc_round_types("bulk")[:3] == ["pre_seed", "seed", "angel"]
    assert "series_j" in vc_round_types("bulk") and "debt_financing" not in vc_round_types("bulk")
    assert vc_round_types("open") == ["venture", "seed", "angel"]
