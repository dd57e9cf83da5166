"""de Rassenfosse-Kozak-Seliger adapter: a hand-written geoc_inv.txt."""

from __future__ import annotations

from pathlib import Path

import pytest

from innoclusters.records import read_records

DATA = Path(__file__).parent / "data" / "sources" / "rasenfosse"


def test_first_filings_placed_at_their_coordinates() -> None:
    rs = read_records({"patents": [f"rasenfosse:{DATA}"]})
    frame = rs.frame().sort_values(["doc_id", "lat"])
    assert frame["doc_id"].tolist() == ["16023", "16023", "16023", "21077"]
    assert frame["year"].tolist() == [2001, 2001, 2001, 2003]
    assert frame["weight"].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0])
    assert frame["country"].tolist() == ["BE", "NL", "NL", "CN"]
    assert frame["lon"].tolist() == [4.7005, 5.4028, 5.4697, 114.0579]
    rejects = rs.rejects()
    assert rejects[["line", "doc_id", "reason"]].values.tolist() == [
        [6, "21078", "missing lat/lon and city"]
    ]
    (stats,) = rs.files
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected) == (5, 4, 1)
