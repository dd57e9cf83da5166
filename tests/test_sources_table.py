"""The table adapter: any export read through a column map in the settings TOML."""

from __future__ import annotations

from pathlib import Path

import pytest

from innoclusters.config import load_settings
from innoclusters.errors import InputError, SettingsError
from innoclusters.records import read_records

DEALS = Path(__file__).parent / "data" / "sources" / "table" / "deals.csv"

TOML = """
[sources.vc]
format = "table"

[sources.vc.columns]
doc_id = "Deal ID"
year = "Deal Date"
city = "HQ City"
region = "HQ State"
country = "HQ Country"
org = "Company"
"""


def test_a_column_map_in_the_settings_reads_any_export(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(TOML, encoding="utf-8")
    settings = load_settings(config)
    rs = read_records({"vc": [DEALS]}, options=settings.sources)
    frame = rs.frame().set_index("doc_id")
    # Dates in three spellings give their year.
    assert frame["year"].to_dict() == {"D-001": 2021, "D-002": 2022, "D-003": 2020}
    assert frame["country"].to_dict() == {"D-001": "US", "D-002": "NO", "D-003": "NL"}
    assert frame.loc["D-001", "lat"] == pytest.approx(42.36, abs=0.05)  # geocoded: Boston, MA
    assert frame.loc["D-002", "lat"] == 59.9139  # coordinates win (matched by alias)
    assert frame.loc["D-003", "lon"] == pytest.approx(4.9, abs=0.05)
    assert frame.loc["D-001", "org"] == "Acme Robotics"
    assert frame["weight"].tolist() == [1.0, 1.0, 1.0]
    assert rs.rejects()[["line", "reason"]].values.tolist() == [
        [5, "year 'n/a' is not a whole number"]
    ]
    stats = rs.files[0]
    assert stats.columns["doc_id"] == "Deal ID" and stats.columns["lat"] == "Latitude"
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected) == (4, 3, 1)


def test_column_map_errors_name_the_setting_and_the_column(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"column 'Deal Ref' .* is not in the header"):
        read_records(
            {"vc": [DEALS]}, options={"vc": {"format": "table", "columns": {"doc_id": "Deal Ref"}}}
        )
    with pytest.raises(SettingsError, match="names deal, not records columns"):
        read_records({"vc": [DEALS]}, options={"vc": {"columns": {"deal": "Deal ID"}}})
    bad = tmp_path / "bad.toml"
    bad.write_text('[sources.deals]\nformat = "table"\n', encoding="utf-8")
    with pytest.raises(
        SettingsError, match=r"setting 'sources' must be tables \[sources.<metric>\]"
    ):
        load_settings(bad)


def test_an_unrecognised_file_names_the_closest_source_format(tmp_path: Path) -> None:
    path = tmp_path / "inventors.tsv"
    path.write_text("patent_id\tinventor_id\tname\n1\ta\tx\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_records({"patents": [path]})
    message = str(info.value)
    assert "missing column(s) doc_id, year, lat, lon" in message
    assert "the closest source format, patentsview, lacks inventor_sequence, location_id" in message
