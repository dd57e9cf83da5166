"""REGPAT adapter: hand-written PCT_Inv_reg and PCT_IPC tables (pipe-separated, quoted)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from innoclusters.records import read_records
from innoclusters.sources import SourceSpec, prepare

DATA = Path(__file__).parent / "data" / "sources" / "regpat"


def test_pct_inventors_geocoded_and_counted_by_inv_share() -> None:
    rs = read_records({"patents": [DATA]})  # detected from the file names
    frame = rs.frame().sort_values(["doc_id", "lon"])
    assert frame["doc_id"].tolist() == [
        "WO2019000001",
        "WO2019000001",
        "WO2020000002",
        "WO2020000002",
    ]
    assert frame["year"].tolist() == [2018, 2018, 2019, 2019]  # app_year
    assert frame["country"].tolist() == ["DE", "JP", "PT", "FR"]
    munich = frame.iloc[0]
    assert (munich["lat"], munich["lon"]) == pytest.approx((48.14, 11.58), abs=0.05)
    # WO2020000002: the unplaced inventor (0.25) is rejected; Paris 0.25 and Lisbon 0.5
    # share the application's 1 in proportion: 1/3 and 2/3.
    w2 = frame[frame["doc_id"] == "WO2020000002"].set_index("country")["weight"]
    assert w2.to_dict() == pytest.approx({"FR": 1 / 3, "PT": 2 / 3})
    assert frame.loc[frame["doc_id"] == "WO2019000001", "weight"].tolist() == [0.5, 0.5]
    rejects = rs.rejects().sort_values("line")
    assert rejects["line"].tolist() == [5, 7]
    assert rejects["reason"].iloc[0].startswith("place not found: Atlantis Nowhere")
    assert rejects["reason"].iloc[1] == "pct_nbr not in 202401_PCT_IPC.txt; missing year"
    (stats,) = rs.files
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected) == (6, 4, 2)
    assert stats.adapter == "regpat"


def test_priority_year_is_an_option() -> None:
    spec = SourceSpec("regpat", (DATA,), {"year": "priority"})
    frame = read_records({"patents": [spec]}).frame()
    assert sorted(set(frame["year"])) == [2017, 2018]


def test_zipped_tables_are_planned_from_their_header_alone(tmp_path: Path) -> None:
    """Planning only (the Spark engine) reads the inventor table's header, unzips nothing."""
    folder = tmp_path / "regpat"
    folder.mkdir()
    for path in DATA.iterdir():
        with zipfile.ZipFile(folder / f"{path.name}.zip", "w") as archive:
            archive.write(path, path.name)
    work = tmp_path / "work"
    work.mkdir()
    (planned,) = prepare(SourceSpec("regpat", (folder,)), work, plan_only=True)
    assert planned.path == folder / "202401_PCT_Inv_reg.txt.zip"
    assert [p.name for p in work.iterdir()] == ["0_202401_PCT_Inv_reg.txt"]  # its head
    assert (
        read_records({"patents": [folder]})
        .frame()
        .equals(read_records({"patents": [DATA]}).frame())
    )
