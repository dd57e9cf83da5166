"""OpenAlex adapter: a hand-written works snapshot (partitioned gzipped JSON Lines) and API page."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from innoclusters.records import read_records
from innoclusters.sources import SourceSpec

DATA = Path(__file__).parent / "data" / "sources" / "openalex"
PART1 = DATA / "snapshot/data/works/updated_date=2024-01-01/part_000.gz"
PART2 = DATA / "snapshot/data/works/updated_date=2024-02-01/part_000.gz"


def test_snapshot_counts_per_author_then_per_institution() -> None:
    rs = read_records({"publications": [DATA / "snapshot"]})  # detected
    frame = rs.frame()
    w100 = frame[frame["doc_id"] == "W100"].sort_values("lat")
    # Two authors: the first with two institutions (1/2 x 1/2 each), the second with one.
    assert w100["org"].tolist() == [
        "Massachusetts Institute of Technology",
        "Harvard University",
        "University of Oxford",
    ]
    assert w100["weight"].tolist() == [0.25, 0.25, 0.5]
    assert w100[["lat", "lon"]].values.tolist() == [
        [42.3601, -71.0942],
        [42.377, -71.1167],
        [51.7534, -1.254],
    ]
    assert set(w100["year"]) == {2021} and w100["country"].tolist() == ["US", "US", "GB"]
    # W300's second author has no institution: the work's 1 goes to the first author.
    assert frame.loc[frame["doc_id"] == "W300", "weight"].tolist() == [1.0]
    assert math.isclose(frame["weight"].sum(), 2.0)
    rejects = rs.rejects().sort_values(["file", "line"])
    assert rejects[["line", "doc_id", "reason"]].values.tolist() == [
        [3, "W300", "author without institution"],
        [1, "W400", "institution I9 has no coordinates in the institutions snapshot"],
        [2, "W500", "work without authors"],
    ]
    stats = {Path(s.path): s for s in rs.files}
    first, second = stats[PART1], stats[PART2]
    assert (first.rows_read, first.rows_accepted, first.rows_filtered) == (6, 4, 1)
    assert first.rows_rejected == 1 and dict(first.filtered) == {"type": 1}
    assert (second.rows_read, second.rows_accepted, second.rows_rejected) == (2, 0, 2)


def test_types_filter_is_a_setting() -> None:
    spec = SourceSpec("openalex", (DATA / "snapshot",), {"types": ["article", "review"]})
    frame = read_records({"publications": [spec]}).frame()
    assert "W200" in set(frame["doc_id"])


def test_api_pages_with_a_ror_dump() -> None:
    ror = DATA / "ror" / "v1.45-2024-05-01-ror-data_schema_v2.json"
    spec = SourceSpec("openalex", (DATA / "api",), {"ror": str(ror)})
    rs = read_records({"publications": [spec]})
    frame = rs.frame().sort_values("lat")
    assert frame["doc_id"].tolist() == ["W600"] * 3
    assert frame["weight"].tolist() == pytest.approx([1 / 3] * 3)
    assert frame["country"].tolist() == ["US", "GB", "GB"]
    assert frame["lon"].tolist() == [-71.0942, -1.254, -1.254]
    (stats,) = rs.files
    assert (stats.rows_read, stats.rows_accepted, stats.rows_filtered) == (4, 3, 1)
