"""Records: validation, rejects with file and line, fractional counting, formats."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from innoclusters import records as records_module
from innoclusters.errors import InputError, SettingsError
from innoclusters.locations import years_present
from innoclusters.records import RecordSet, inspect_records, read_records

HEADER = "doc_id,year,lat,lon,country,weight\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_valid_rows_are_accepted_with_typed_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", HEADER + "a,2020,35.5,139.5,jp,\nb,2021,-33.9,151.2,AU,0.5\n")
    rs = read_records({"patents": [path]})
    frame = rs.frame()
    # Only what later stages read (no file or reason column: issue 14's narrow records).
    assert list(frame.columns) == [
        *("metric", "doc_id", "year", "lat", "lon", "country", "weight"),
        *("city", "region", "org", "field"),
    ]
    assert list(frame["doc_id"]) == ["a", "b"]
    assert list(frame["year"]) == [2020, 2021]
    assert list(frame["country"]) == ["JP", "AU"]  # upper-cased
    assert list(frame["weight"]) == [1.0, 0.5]  # explicit weight kept
    assert rs.files[0].rows_read == 2 and rs.files[0].rows_accepted == 2


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (",2020,1,2,FR,", "missing doc_id"),
        ("a,,1,2,FR,", "missing year"),
        ("a,20x0,1,2,FR,", "year '20x0' is not a whole number"),
        ("a,2020.5,1,2,FR,", "year '2020.5' is not a whole number"),
        ("a,1850,1,2,FR,", "year 1850 outside 1900-2100"),
        ("a,2020,nan,2,FR,", "lat 'nan' is not a number"),
        ("a,2020,1,inf,FR,", "lon 'inf' is not a number"),
        ("a,2020,91,2,FR,", "lat 91 outside -90..90"),
        ("a,2020,1,-180.5,FR,", "lon -180.5 outside -180..180"),
        ("a,2020,1,,FR,", "missing lon"),
        ("a,2020,,,FR,", "missing lat/lon and city"),
        ("a,2020,1,2,FR,-0.5", "weight -0.5 is negative"),
        ("a,2020,1,2,FR,abc", "weight 'abc' is not a number"),
        (
            "a,2020,1,2,QQ,",
            "country 'QQ' is not a known country; use an ISO 3166 code or an English name",
        ),
        ("  ,2020,1,2,FR,", "missing doc_id"),
    ],
)
def test_bad_rows_are_rejected_with_line_and_reason(tmp_path: Path, row: str, reason: str) -> None:
    path = write(tmp_path, "p.csv", HEADER + "ok,2020,1,2,FR,\n" + row + "\n")
    rs = read_records({"patents": [path]})
    rejects = rs.rejects()
    assert list(rejects["reason"]) == [reason]
    assert list(rejects["line"]) == [3]  # header is line 1, the good row line 2
    assert list(rejects["file"]) == [str(path)]
    stats = rs.files[0]
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected) == (2, 1, 1)


def test_every_problem_of_a_row_is_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", HEADER + ",1800,100,2,QQ,\n")
    reason = read_records({"patents": [path]}).rejects()["reason"].iloc[0]
    assert reason == (
        "missing doc_id; year 1800 outside 1900-2100; lat 100 outside -90..90; "
        "country 'QQ' is not a known country; use an ISO 3166 code or an English name"
    )


def test_malformed_rows_are_rejected_with_their_lines(tmp_path: Path) -> None:
    body = (
        HEADER.encode()
        + b"a,2020,1,2,FR,\n"  # line 2
        + b"b,2020,1\n"  # line 3: too few columns
        + b"d,2020,1,2,FR,,9\n"  # line 4: too many columns
        + b"e,2020,1,200,FR,\n"  # line 5: out of range
        + b"f,2021,3,4,DE,\n"  # line 6
    )
    path = write(tmp_path, "p.csv", body)
    rs = read_records({"patents": [path]})
    rejects = rs.rejects()
    assert list(rejects["line"]) == [3, 4, 5]
    assert rejects["reason"].iloc[0].startswith("malformed row")
    assert rejects["reason"].iloc[1].startswith("malformed row")
    assert rejects["reason"].iloc[2] == "lon 200 outside -180..180"
    assert sorted(rs.frame()["doc_id"]) == ["a", "f"]
    stats = rs.files[0]
    assert stats.rows_read == 5 and stats.rows_accepted == 2 and stats.rows_rejected == 3


def test_reject_lines_are_exact_after_blank_lines_and_quoted_line_breaks(tmp_path: Path) -> None:
    text = (
        "doc_id,year,lat,lon,org\n"  # 1
        "a,2020,1,2,x\n"  # 2
        "\n"  # 3: blank
        'b,2020,1,2,"two\nlines"\n'  # 4-5: one row
        "\n"  # 6: blank
        "c,2020,1,200,x\n"  # 7: rejected
        "d,2020,1\n"  # 8: malformed
        '"e",2020,"1","2","three\n\nlines"\n'  # 9-11
        "f,1800,1,2,x\n"  # 12: rejected
    )
    path = write(tmp_path, "p.csv", text)
    rs = read_records({"patents": [path]}, geocode=False)
    rejects = rs.rejects()
    assert list(rejects["line"]) == [7, 8, 12]
    assert list(rejects["doc_id"].fillna("")) == ["c", "", "f"]
    assert sorted(rs.frame()["doc_id"]) == ["a", "b", "e"]
    js = write(
        tmp_path,
        "p.jsonl",
        '{"doc_id": "a", "year": 2020, "lat": 1, "lon": 2}\n\n'
        '{"doc_id": "b", "year": 2020, "lat": 100, "lon": 2}\n',
    )
    assert list(read_records({"patents": [js]}, geocode=False).rejects()["line"]) == [3]


def test_a_file_in_another_encoding_is_an_error_naming_it(tmp_path: Path) -> None:
    text = "doc_id,year,city,country\na,2020,Zürich,CH\nb,2020,Köln,DE\n"
    path = write(tmp_path, "p.csv", text.encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_records({"patents": [path]})
    message = str(info.value)
    assert str(path) in message
    assert "line 2 is not valid UTF-8 text (2 such line(s))" in message
    assert "--encoding" in message
    frame = read_records({"patents": [path]}, encoding="latin-1").frame()
    assert sorted(frame["doc_id"]) == ["a", "b"]
    assert frame.set_index("doc_id").loc["a", "lat"] == pytest.approx(47.37, abs=0.05)
    # cp1252 is not read natively by DuckDB: transcoded, and the right characters come out.
    cp = write(tmp_path, "w.csv", "doc_id,year,lat,lon,org\na,2020,1,2,Café’s\n".encode("cp1252"))
    assert read_records({"patents": [cp]}, encoding="cp1252").frame()["org"].tolist() == ["Café’s"]
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        read_records({"patents": [cp]}, encoding="klingon")


def test_headers_match_whatever_their_case_spaces_and_aliases(tmp_path: Path) -> None:
    text = " Doc ID ,YEAR,Latitude, lng ,City,Country Code\na,2020,48.86,2.35,Lyon,fr\n"
    path = write(tmp_path, "p.csv", text)
    rs = read_records({"patents": [path]})
    row = rs.frame().iloc[0]
    # Coordinates win over the city: this row stays in Paris, not at Lyon's centre.
    assert (row["doc_id"], row["year"], row["lat"], row["lon"]) == ("a", 2020, 48.86, 2.35)
    assert row["country"] == "FR" and row["city"] == "Lyon"
    # DuckDB trims the spaces around header names itself.
    assert dict(rs.files[0].columns) == {
        "doc_id": "Doc ID",
        "year": "YEAR",
        "lat": "Latitude",
        "lon": "lng",
        "city": "City",
        "country": "Country Code",
    }
    assert rs.files[0].to_dict()["columns"]["lon"] == "lng"
    both = write(tmp_path, "b.csv", "doc_id,year,lat,Latitude,lon\na,2020,1,1,1\n")
    with pytest.raises(InputError, match="columns 'lat' and 'Latitude' both mean lat"):
        read_records({"patents": [both]})


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("doc_id,pub_year,lat,lon", "missing column(s) year for patents"),
        ("doc_id,pub_year,lat,lon", "did you mean 'pub_year' for year?"),
        ("doc_id,Years,lat,lon", "'Years' for year"),
        ("doc_id,year,lat_deg,lon", "'lat_deg' for lat"),
        ("id,year,lat,lon", "missing column(s) doc_id"),
    ],
)
def test_missing_column_messages_name_near_misses(
    tmp_path: Path, header: str, expected: str
) -> None:
    path = write(tmp_path, "p.csv", header + "\na,2020,1,2\n")
    with pytest.raises(InputError) as info:
        read_records({"patents": [path]})
    assert expected in str(info.value)


def test_country_names_and_codes_are_normalised(tmp_path: Path) -> None:
    text = HEADER + "".join(
        f"d{i},2020,{i},{i},{c},\n"
        for i, c in enumerate(["USA", "United States", "UK", " US", "fra", "Deutschland"])
    )
    rs = read_records({"patents": [write(tmp_path, "p.csv", text)]})
    assert rs.frame().sort_values("doc_id")["country"].tolist() == ["US", "US", "GB", "US", "FR"]
    assert rs.rejects()["reason"].tolist() == [
        "country 'Deutschland' is not a known country; use an ISO 3166 code or an English name"
    ]


def test_mixed_explicit_and_missing_weights_keep_a_document_at_one(tmp_path: Path) -> None:
    text = (
        "doc_id,year,lat,lon,weight\n"
        "A,2020,1,1,0.5\nA,2020,1,2,\nA,2020,1,3,\n"  # 0.5 given: the others share 0.5
        "B,2020,1,1,0.25\nB,2020,1,2,0.25\n"  # all given: kept as they are
        "C,2020,1,1,1\nC,2020,1,2,\n"  # nothing left to share: 0
    )
    frame = read_records({"patents": [write(tmp_path, "p.csv", text)]}, geocode=False).frame()
    weights = frame.groupby("doc_id")["weight"].apply(list).to_dict()
    assert weights == {"A": [0.5, 0.25, 0.25], "B": [0.25, 0.25], "C": [1.0, 0.0]}
    assert frame.loc[frame["doc_id"] == "A", "weight"].sum() == 1.0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "the file is empty"),
        ("nocols.csv", "doc_id,lat,lon\na,1,2\n", "missing column(s) year for patents"),
        ("semi.csv", "doc_id;year;lat;lon\na;2020;1;2\n", "separated by semicolons"),
        ("data.xlsx", "x", "unknown file type '.xlsx'"),
        ("broken.parquet", "not parquet", "cannot be read as PARQUET"),
    ],
)
def test_unusable_files_raise_one_clear_error(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(InputError) as info:
        read_records({"patents": [path]})
    text = str(info.value)
    assert message in text
    assert str(path) in text
    assert "\n" not in text


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        read_records({"patents": [tmp_path]})
    with pytest.raises(InputError, match="no such file"):
        read_records({"patents": [tmp_path / "nope.csv"]})


def test_fractional_counting_shares_one_among_accepted_rows(tmp_path: Path) -> None:
    text = (
        "doc_id,year,lat,lon\n"
        "A,2020,1,1\nA,2020,1,2\nA,2020,1,3\n"  # three addresses: 1/3 each
        "B,2020,1,1\nB,2020,99,2\n"  # one rejected: the other gets 1
        "C,2020,95,1\n"  # all rejected: counts 0
    )
    path = write(tmp_path, "p.csv", text)
    frame = read_records({"patents": [path]}, geocode=False).frame()
    by_doc = frame.groupby("doc_id")["weight"].agg(["sum", "count"])
    assert by_doc.loc["A", "count"] == 3
    assert math.isclose(by_doc.loc["A", "sum"], 1.0)
    assert by_doc.loc["B", "sum"] == 1.0
    assert "C" not in by_doc.index
    assert math.isclose(frame["weight"].sum(), 2.0)


def test_documents_span_files_of_one_metric(tmp_path: Path) -> None:
    a = write(tmp_path, "a.csv", "doc_id,year,lat,lon\nX,2020,1,1\n")
    b = write(tmp_path, "b.csv", "doc_id,year,lat,lon\nX,2020,2,2\n")
    frame = read_records({"patents": [a, b]}, geocode=False).frame()
    assert list(frame["weight"]) == [0.5, 0.5]


def test_parquet_and_json_lines(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "doc_id": ["a", "b", "c"],
            "year": [2020, 2021, 2022],
            "lat": [1.0, float("nan"), 3.0],
            "lon": [1.0, 2.0, 3.0],
            "country": ["FR", "DE", None],
        }
    )
    pq = tmp_path / "p.parquet"
    frame.to_parquet(pq)
    js = tmp_path / "p.jsonl"
    frame.to_json(js, orient="records", lines=True)
    for path in (pq, js):
        rs = read_records({"publications": [path]}, geocode=False)
        assert sorted(rs.frame()["doc_id"]) == ["a", "c"]
        rejects = rs.rejects()
        assert list(rejects["line"]) == [2]
        assert rejects["reason"].iloc[0] in ("missing lat", "lat 'nan' is not a number")


def test_metric_column_must_match(tmp_path: Path) -> None:
    path = write(
        tmp_path, "p.csv", "metric,doc_id,year,lat,lon\npatents,a,2020,1,1\nvc,b,2020,1,1\n"
    )
    rejects = read_records({"patents": [path]}, geocode=False).rejects()
    assert list(rejects["reason"]) == ["metric 'vc' in a patents file"]


def test_input_files_are_described(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", HEADER + "a,2020,1,2,FR,\n")
    stats = read_records({"vc": [path]}).files[0]
    assert stats.metric == "vc" and stats.format == "csv"
    assert stats.size_bytes == path.stat().st_size
    assert len(stats.sha256) == 64


def test_rows_with_a_place_instead_of_coordinates_are_geocoded(tmp_path: Path) -> None:
    text = (
        "doc_id,year,city,region,country\n"
        "a,2020,São Paulo,,BR\n"  # line 2
        "b,2020,Cambridge,MA,US\n"  # line 3
        "c,2020,Cambrdige,,GB\n"  # line 4: misspelt, must not be guessed
        "c,2020,London,,GB\n"  # line 5
    )
    path = write(tmp_path, "p.csv", text)
    rs = read_records({"patents": [path]})
    frame = rs.frame().set_index("doc_id")
    assert frame.loc["a", "lat"] == pytest.approx(-23.55, abs=0.1)
    assert frame.loc["b", "lon"] == pytest.approx(-71.1, abs=0.1)
    assert frame.loc["b", "country"] == "US"
    # c's misspelt row is rejected, so its London row carries the whole document.
    assert frame.loc["c", "weight"] == 1.0
    rejects = rs.rejects()
    assert list(rejects["line"]) == [4]
    assert rejects["reason"].iloc[0].startswith("place not found: Cambrdige, , GB")
    assert rs.geocoding["patents"]["rows_to_geocode"] == 4
    assert rs.geocoding["patents"]["rows_geocoded"] == 3
    assert rs.files[0].rows_accepted == 3 and rs.files[0].rows_rejected == 1


def test_country_is_found_for_coordinates_without_one(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "doc_id,year,lat,lon\na,2020,48.857,2.352\n")
    rs = read_records({"patents": [path]})
    assert rs.frame()["country"].tolist() == ["FR"]


def test_inspect_summarises_without_geocoding(tmp_path: Path) -> None:
    text = (
        "Doc ID,Year,Lat,Lon,City,Country\n"
        "a,2019,48.86,2.35,,FR\n"  # 2
        "a,2019,,,Lyon,FR\n"  # 3: a place to geocode
        "\n"  # 4: blank
        "b,2021,35.68,139.69,,Japan\n"  # 5
        "c,1800,1,2,,FR\n"  # 6: bad year
        "d,2020,1\n"  # 7: malformed
    )
    (found,) = inspect_records({"patents": [write(tmp_path, "p.csv", text)]})
    assert found["adapter"] == "table" and found["columns"]["lat"] == "Lat"
    assert (found["rows_read"], found["rows_valid"], found["rows_invalid"]) == (5, 3, 2)
    assert (found["rows_with_coordinates"], found["rows_to_geocode"]) == (2, 1)
    assert found["documents"] == 2 and found["years"] == [2019, 2021]
    assert found["rows_per_year"] == {2019: 2, 2021: 1}
    assert found["countries"] == [["FR", 2], ["JP", 1]]
    assert [(p["line"], p["doc_id"]) for p in found["problems"]] == [(6, "c"), (7, None)]
    assert found["problems"][0]["reason"] == "year 1800 outside 1900-2100"


def test_inspect_goes_on_past_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.csv", "doc_id,lat,lon\na,1,2\n")
    good = write(tmp_path, "good.csv", HEADER + "a,2020,1,2,FR,\n")
    first, second = inspect_records({"patents": [bad, good]})
    assert first["path"] == str(bad) and first["metric"] == "patents"
    assert "missing column(s) year" in first["error"]
    assert second["path"] == str(good) and second["rows_valid"] == 1


def test_progress_is_reported_in_steps_that_never_go_back_and_end_at_one(
    tmp_path: Path,
) -> None:
    rows = "".join(f"d{i},2020,{i % 80}.5,{i % 170}.25,FR,\n" for i in range(3000))
    path = write(tmp_path, "p.csv", HEADER + rows + ",2020,1,2,FR,\n")
    seen: list[tuple[float, str]] = []
    rs = read_records({"patents": [path]}, progress=lambda f, step: seen.append((f, step)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    steps = list(dict.fromkeys(step for _, step in seen))
    assert steps == [
        "validating 1 file(s) (0 MB)",
        "3,001 rows read; geocoding places without coordinates",
        "3,001 rows read; fractional weights",
        "3,001 rows read; rejects",
        "3,001 rows read",
    ]
    assert rs.files[0].rows_read == 3001 and rs.files[0].rows_rejected == 1


def test_adapters_report_the_megabytes_of_their_tables_first() -> None:
    granted = Path(__file__).parent / "data" / "sources" / "patentsview" / "granted"
    seen: list[tuple[float, str]] = []
    read_records({"patents": [f"patentsview:{granted}"]}, progress=lambda f, s: seen.append((f, s)))
    assert seen[0] == (0.0, "reading the patentsview tables (0 MB)")
    assert seen[-1] == (1.0, "10 rows read")
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_out_of_memory_names_the_memory_limit_not_the_file(tmp_path: Path) -> None:
    """DuckDB running out of memory is a setting to raise, not a broken input file."""
    path = tmp_path / "p.parquet"
    duckdb.execute(
        "COPY (SELECT 'd' || (i // 3) AS doc_id, 2020 AS year, 10.0 + (i % 1000) / 100 AS lat, "
        "5.0 AS lon, 'FR' AS country, repeat('x', 40) || i AS org FROM range(300000) t(i)) "
        f"TO '{path}'"
    )
    config = {"memory_limit": "8MB", "threads": 1, "temp_directory": str(tmp_path / "spill")}
    con = duckdb.connect(config=config)
    with pytest.raises(SettingsError, match=r"ran out of memory .*raise the memory_limit"):
        read_records({"patents": [path]}, connection=con)


def test_records_tables_read_in_two_scans_give_what_the_row_path_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = "doc_id,year,lat,lon,country,weight,city,org\n"
    a = write(
        tmp_path,
        "a.csv",
        head + "A,2020,1,1,FR,0.5,,x\nA,2020,1,2,FR,,,y\n"  # A spans a.csv and b.jsonl
        "B,2020,99,2,FR,,,\nB,2021,3,3,Narnia,,,\n"  # every row of B rejected
        "\n"  # a blank line
        'C,2019,4,4,fr,,"Le\nMans",z\n'  # a quoted line break
        "D,2020,1\n"  # malformed
        "E,2020,,,FR,,Lyon,\n",  # a place, not geocoded
    )
    b = write(tmp_path, "b.jsonl", '{"doc_id": "A", "year": 2020, "lat": 5, "lon": 5}\n')
    p = write(tmp_path, "p.csv", "doc_id,year,lat,lon,weight\nA,2020,1,1,\nA,2020,2,2,0.25\n")
    sources = {"patents": [a, b], "publications": [p]}

    def read() -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, object]]]:
        rs = read_records(sources, geocode=False)
        # The years and metrics counted while reading are those a scan of the records gives.
        scanned = RecordSet(connection=rs.connection, files=rs.files)
        want = {"patents": [2019, 2020], "publications": [2020]}
        assert years_present(rs) == years_present(scanned) == want
        assert rs.metrics() == scanned.metrics() == ("patents", "publications")
        frame = rs.frame()
        frame = frame.sort_values(list(frame.columns)).reset_index(drop=True)
        return frame, rs.rejects(), [f.to_dict() for f in rs.files]

    ran: list[bool] = []
    two_scans = records_module._read_tables
    monkeypatch.setattr(
        records_module, "_read_tables", lambda *a, **k: ran.append(two_scans(*a, **k)) or ran[-1]
    )
    frame, rejects, files = read()
    assert ran == [True]
    monkeypatch.setattr(records_module, "_read_tables", lambda *a, **k: False)
    want_frame, want_rejects, want_files = read()
    pd.testing.assert_frame_equal(frame, want_frame, check_exact=True)
    pd.testing.assert_frame_equal(rejects, want_rejects, check_exact=True)
    assert files == want_files
    assert rejects["line"].tolist() == [4, 5, 9]
    assert rejects["doc_id"].tolist()[:2] == ["B", "B"]
    weights = frame.groupby(["metric", "doc_id"])["weight"].sum().to_dict()
    assert weights == {
        ("patents", "A"): 1.0,
        ("patents", "C"): 1.0,
        ("patents", "E"): 1.0,
        ("publications", "A"): 1.0,
    }


def test_doc_ids_and_regions_are_stored_only_when_kept(tmp_path: Path) -> None:
    text = "doc_id,year,lat,lon,country,city,region\na,2020,1,2,FR,Paris,IDF\nb,2021,x,2,FR,,\n"
    path = write(tmp_path, "p.csv", text)
    full = read_records({"patents": [path]})
    lean = read_records({"patents": [path]}, keep=())
    assert full.columns == records_module.RECORD_COLUMNS
    spare = ("doc_id", "region")
    assert lean.columns == tuple(c for c in records_module.RECORD_COLUMNS if c not in spare)
    assert list(lean.frame().columns) == list(lean.columns)
    pd.testing.assert_frame_equal(lean.frame(), full.frame()[list(lean.columns)])
    pd.testing.assert_frame_equal(lean.rejects(), full.rejects())
    assert lean.rejects()["doc_id"].tolist() == ["b"]
    # Asking for what was not kept fails loudly, never with NULLs.
    with pytest.raises(SettingsError, match=r"uncertainty reads the records' doc_id, which"):
        lean.require("doc_id", purpose="rank uncertainty")
    with pytest.raises(duckdb.BinderException):
        lean.connection.execute("SELECT doc_id FROM records")
    full.require("doc_id", "region", purpose="rank uncertainty")
    with pytest.raises(SettingsError, match="keep names 'org'"):
        read_records({"patents": [path]}, keep=("org",))
