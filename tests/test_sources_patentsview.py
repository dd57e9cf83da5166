"""PatentsView adapter: hand-written tables in the upstream layout (zipped TSV, gzipped TSV)."""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import duckdb
import pytest

from innoclusters import records
from innoclusters.errors import InputError, SettingsError
from innoclusters.records import inspect_records, read_records
from innoclusters.sources import SourceSpec, base, prepare
from innoclusters.sources.base import deferred, feeding, streamed, unzip_progress

DATA = Path(__file__).parent / "data" / "sources" / "patentsview"
GRANTED = DATA / "granted"
PREGRANT = DATA / "pregrant"


def test_granted_patents_by_filing_year_with_every_row_accounted_for() -> None:
    rs = read_records({"patents": [f"patentsview:{GRANTED}"]})
    frame = rs.frame()
    by_doc = frame.groupby("doc_id")
    assert sorted(by_doc.groups) == ["10000001", "10000002", "10000005"]
    assert by_doc["year"].first().to_dict() == {
        "10000001": 2019,
        "10000002": 2020,
        "10000005": 2021,
    }
    # Fractional per patent over its inventors placed.
    assert frame.loc[frame["doc_id"] == "10000001", "weight"].tolist() == pytest.approx([1 / 3] * 3)
    assert by_doc["weight"].sum().to_dict() == pytest.approx(
        {"10000001": 1.0, "10000002": 1.0, "10000005": 1.0}
    )
    assert math.isclose(frame["weight"].sum(), 3.0)
    tokyo = frame[frame["country"] == "JP"].iloc[0]
    assert (tokyo["lat"], tokyo["lon"], tokyo["city"]) == (35.6895, 139.6917, "Tokyo")
    sj = frame[(frame["doc_id"] == "10000001") & (frame["country"] == "US")]
    assert len(sj) == 2 and set(sj["region"]) == {"CA"}
    # Cambridge has no coordinates upstream: geocoded offline from its city and country.
    cam = frame[frame["doc_id"] == "10000005"].iloc[0]
    assert cam["country"] == "GB"
    assert cam["lat"] == pytest.approx(52.2, abs=0.1) and cam["lon"] == pytest.approx(0.12, abs=0.1)
    rejects = rs.rejects()
    assert rejects["line"].tolist() == [8, 11]
    assert rejects["doc_id"].tolist() == ["10000005", "10000006"]
    assert rejects["reason"].tolist() == [
        "location_id 'loc-gone' not in g_location_disambiguated",
        "patent_id not in g_patent; missing year",
    ]
    assert set(rejects["file"]) == {str(GRANTED / "g_inventor_disambiguated.tsv.zip")}
    (stats,) = rs.files
    assert stats.adapter == "patentsview"
    assert stats.rows_read == 10
    assert (stats.rows_accepted, stats.rows_filtered, stats.rows_rejected) == (5, 3, 2)
    assert dict(stats.filtered) == {"patent type": 2, "withdrawn": 1}
    assert stats.columns["year"] == "g_application.filing_date"
    assert len(stats.files) == 4


def test_grant_year_is_an_option() -> None:
    spec = SourceSpec("patentsview", (GRANTED,), {"year": "grant"})
    frame = read_records({"patents": [spec]}).frame()
    years = frame.groupby("doc_id")["year"].first().to_dict()
    assert years == {"10000001": 2021, "10000002": 2022, "10000005": 2023}


def test_patent_types_is_a_setting() -> None:
    spec = SourceSpec("patentsview", (GRANTED,), {"patent_types": ["utility", "design"]})
    rs = read_records({"patents": [spec]})
    assert "10000003" in set(rs.frame()["doc_id"])
    assert dict(rs.files[0].filtered) == {"patent type": 1, "withdrawn": 1}


def test_pregrant_publications_and_detection_from_the_folder() -> None:
    rs = read_records({"patents": [PREGRANT]})  # no adapter named: detected from the files
    frame = rs.frame().sort_values(["doc_id", "lat"])
    assert frame["doc_id"].tolist() == ["20230000001", "20230000001", "20230000002"]
    assert frame["weight"].tolist() == [0.5, 0.5, 1.0]
    assert frame["year"].tolist() == [2021, 2021, 2022]
    assert frame["country"].tolist() == ["KR"] * 3
    assert rs.files[0].adapter == "patentsview" and rs.files[0].rows_read == 3
    spec = SourceSpec("patentsview", (PREGRANT,), {"year": "publication"})
    assert set(read_records({"patents": [spec]}).frame()["year"]) == {2023}


def test_missing_tables_and_bad_settings_are_named(tmp_path: Path) -> None:
    only = tmp_path / "pv"
    only.mkdir()
    (only / "g_inventor_disambiguated.tsv.zip").write_bytes(
        (GRANTED / "g_inventor_disambiguated.tsv.zip").read_bytes()
    )
    with pytest.raises(InputError) as info:
        read_records({"patents": [f"patentsview:{only}"]})
    assert "also needs g_location_disambiguated, g_application, g_patent" in str(info.value)
    with pytest.raises(SettingsError, match="'year' must be one of filing, grant"):
        read_records({"patents": [SourceSpec("patentsview", (GRANTED,), {"year": "x"})]})
    with pytest.raises(InputError, match="unknown source format 'patentview'"):
        read_records({"patents": [f"patentview:{GRANTED}"]})


def test_a_bad_place_is_reported_on_every_row_that_names_it(tmp_path: Path) -> None:
    """Places are validated once each; each inventor row at a bad place carries its reason."""
    folder = tmp_path / "pg"
    folder.mkdir()
    for name in ("pg_inventor_disambiguated.tsv", "pg_published_application.tsv"):
        (folder / name).write_text((PREGRANT / name).read_text(encoding="utf-8"))
    inventors = (folder / "pg_inventor_disambiguated.tsv").read_text(encoding="utf-8")
    inventors += "20230000002\t1\tfl:x\tXi\tLi\tM\tloc-nowhere\n"
    inventors += "20230000002\t2\tfl:y\tYu\tLo\tF\tloc-nowhere\n"
    (folder / "pg_inventor_disambiguated.tsv").write_text(inventors, encoding="utf-8")
    places = (
        "location_id\tdisambig_city\tdisambig_state\tdisambig_country\tlatitude\tlongitude\t"
        "county\tstate_fips\tcounty_fips\n"
        "loc-seoul\tSeoul\t\tKorea, Republic of\t37.5665\t126.978\t\t\t\n"
        "loc-daejeon\tDaejeon\t\tKR\tnorth\t127.3845\t\t\t\n"
        "loc-nowhere\t\t\tXX\t\t\t\t\t\n"
    )
    (folder / "pg_location_disambiguated.tsv").write_text(places, encoding="utf-8")
    rs = read_records({"patents": [f"patentsview:{folder}"]})
    frame = rs.frame()
    # Seoul's country is a name: read as KR; document 2 keeps its one placed inventor whole.
    assert frame[["doc_id", "country", "weight"]].values.tolist() == [
        ["20230000001", "KR", 1.0],
        ["20230000002", "KR", 1.0],
    ]
    rejects = rs.rejects()
    assert rejects["line"].tolist() == [3, 5, 6]
    nowhere = (
        "missing lat/lon and city; country 'XX' is not a known country; use an ISO 3166 "
        "code or an English name"
    )
    assert rejects["reason"].tolist() == ["lat 'north' is not a number", nowhere, nowhere]
    (stats,) = rs.files
    assert (stats.rows_read, stats.rows_accepted, stats.rows_rejected) == (5, 2, 3)


def test_a_patent_listed_twice_upstream_is_still_one_document(tmp_path: Path) -> None:
    """Keys are taken as unique, as PatentsView documents them; a repeat is still read right."""
    folder = tmp_path / "pg"
    folder.mkdir()
    for name in ("pg_inventor_disambiguated.tsv", "pg_location_disambiguated.tsv.gz"):
        (folder / name).write_bytes((PREGRANT / name).read_bytes())
    lines = (PREGRANT / "pg_published_application.tsv").read_text(encoding="utf-8")
    repeated = lines + lines.splitlines()[1] + "\n"  # publication 20230000001 twice
    (folder / "pg_published_application.tsv").write_text(repeated, encoding="utf-8")
    rs = read_records({"patents": [f"patentsview:{folder}"]})
    frame = rs.frame().sort_values(["doc_id", "lat"])
    assert frame["doc_id"].tolist() == ["20230000001", "20230000001", "20230000002"]
    assert frame["weight"].tolist() == [0.5, 0.5, 1.0]
    assert (rs.files[0].rows_read, rs.files[0].rows_accepted) == (3, 3)
    (found,) = inspect_records({"patents": [f"patentsview:{folder}"]})
    assert (found["rows_read"], found["documents"]) == (3, 2)


def test_unzipping_reports_its_progress(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    with unzip_progress(lambda path, done, total: calls.append((path.name, done, total))):
        (prepared,) = prepare(SourceSpec("patentsview", (GRANTED,)), tmp_path)
        # The inventor table is unzipped while it is staged, through a named pipe; the
        # patent tables are copied out meanwhile, the place table before.
        assert [z.name for _target, z in prepared.feeds] == [
            "g_inventor_disambiguated.tsv.zip",
            "g_application.tsv.zip",
            "g_patent.tsv.zip",
        ]
        pipe, *later = (target for target, _zip in prepared.feeds)
        assert pipe.is_fifo() and all(t.stat().st_size == 0 for t in later)
        with feeding(prepared.feeds):
            # One statement reads the pipe once (as DuckDB reads /dev/stdin).
            staged = duckdb.connect().execute(prepared.staged).fetchall()
        for target, zipped in prepared.feeds[1:]:
            with zipfile.ZipFile(zipped) as archive:
                assert target.read_bytes() == archive.read(archive.namelist()[0])
    finals = {name: (done, total) for name, done, total in calls}
    assert sorted(finals) == sorted(p.name for p in GRANTED.glob("*.zip"))
    assert all(done == total > 0 for done, total in finals.values())
    with zipfile.ZipFile(GRANTED / "g_inventor_disambiguated.tsv.zip") as archive:
        text = archive.read(archive.namelist()[0]).decode()
    lines = text.splitlines()[1:]
    fields = [line.split("\t") for line in lines]
    assert [list(r) for r in staged] == [[f[0], f[6]] for f in fields]


def test_a_streamed_zip_never_hangs_and_a_damaged_one_is_named(tmp_path: Path) -> None:
    zipped = GRANTED / "g_inventor_disambiguated.tsv.zip"
    pipe, feed = streamed(zipped, tmp_path)
    assert feed == (pipe, zipped) and pipe.is_fifo()
    # A query that fails before it opens the pipe: the feeder is stood in for.
    with pytest.raises(duckdb.Error), feeding([feed]):
        duckdb.sql("SELECT no_such_column FROM range(1)").fetchall()
    # Damaged data inside a well-formed zip: an error naming the zip, not a short read.
    damaged = tmp_path / "g_inventor_disambiguated.tsv.zip"
    raw = bytearray(zipped.read_bytes())
    raw[60:70] = b"0123456789"
    damaged.write_bytes(bytes(raw))
    pipe, feed = streamed(damaged, tmp_path)
    assert feed is not None
    with pytest.raises(InputError, match="not a readable zip file"), feeding([feed]):
        duckdb.connect().execute(f"SELECT count(*) FROM read_text('{pipe}')").fetchall()
    # Copied out to a file while another query runs: the same error, when the block ends.
    target, feed = deferred(damaged, tmp_path)
    assert feed == (target, damaged) and not target.is_fifo()
    with pytest.raises(InputError, match="not a readable zip file"), feeding([feed]):
        pass


def test_a_feeder_that_fails_otherwise_raises_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while a member is copied out (or inflated into a pipe) is not lost in its
    thread, leaving a shortened file read as if whole: it is raised when the block ends."""

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(base, "_copy_out", full)
    zipped = GRANTED / "g_application.tsv.zip"
    _target, later = deferred(zipped, tmp_path)
    pipe, streaming = streamed(zipped, tmp_path)
    assert later is not None and streaming is not None
    with pytest.raises(OSError, match="No space left"), feeding([streaming, later]):
        duckdb.connect().execute(f"SELECT count(*) FROM read_text('{pipe}')").fetchall()


def test_without_named_pipes_the_zip_is_copied_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pipes(path: object) -> None:
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "mkfifo", no_pipes)
    path, feed = streamed(GRANTED / "g_inventor_disambiguated.tsv.zip", tmp_path)
    assert feed is None and path.is_file()
    assert path.read_text(encoding="utf-8").startswith("patent_id\tinventor_sequence")


def test_the_one_pass_path_gives_what_the_row_path_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records, rejects (line, reason) and counts are the same whichever path reads the rows.

    The granted tables plus rows with every problem: a blank location, a place without
    coordinates or city, a place with a bad latitude, a year that is not a date, a patent
    missing from g_patent, a blank patent_id, a filtered patent at a bad place.
    """
    folder = tmp_path / "pv"
    folder.mkdir()
    for name in ("g_inventor_disambiguated", "g_location_disambiguated", "g_application"):
        with zipfile.ZipFile(GRANTED / f"{name}.tsv.zip") as archive:
            text = archive.read(archive.namelist()[0]).decode()
        text = text.replace("loc-cam\tCambridge\t\tGB\t\t", "loc-cam\tCambridge\t\tGB\t52.2\t0.12")
        extra = {
            "g_inventor_disambiguated": [
                "10000002\t1\tfl:x\tX\tY\tF\t ",
                "10000002\t2\tfl:x\tX\tY\tF\tloc-north",
                "10000002\t3\tfl:x\tX\tY\tF\tloc-none",
                "10000007\t0\tfl:x\tX\tY\tF\tloc-sj",
                "10000008\t0\tfl:x\tX\tY\tF\tloc-tok",
                " \t0\tfl:x\tX\tY\tF\tloc-tok",
                "10000004\t1\tfl:x\tX\tY\tF\tloc-north",
            ],
            "g_location_disambiguated": [
                "loc-north\tOslo\t\tNO\tnorth\t10.7\t\t\t",
                "loc-none\t\t\tNO\t\t\t\t\t",
            ],
            "g_application": [
                "16/7\t10000007\t16\tsoon\t16\t0",
                "16/8\t10000008\t16\t2020-02-02\t16\t0",
            ],
        }[name]
        (folder / f"{name}.tsv").write_text(text + "\n".join(extra) + "\n", encoding="utf-8")
    with zipfile.ZipFile(GRANTED / "g_patent.tsv.zip") as archive:
        text = archive.read(archive.namelist()[0]).decode()
    text += "10000007\tutility\t2023-02-14\tX\tB2\t1\t0\tx.xml\n"
    (folder / "g_patent.tsv").write_text(text, encoding="utf-8")

    def read() -> tuple[object, ...]:
        rs = read_records({"patents": [f"patentsview:{folder}"]})
        (stats,) = rs.files
        counts = (stats.rows_read, stats.rows_accepted, stats.rows_rejected, dict(stats.filtered))
        frame = rs.frame()
        return frame.values.tolist(), rs.rejects().values.tolist(), counts

    keyed = records._read_keyed
    calls: list[object] = []
    monkeypatch.setattr(records, "_read_keyed", lambda *a: calls.append(a) or keyed(*a))
    one_pass = read()
    assert len(calls) == 1
    monkeypatch.setattr(records, "_one_pass", lambda *args: False)
    assert read() == one_pass and len(calls) == 1
    _frame, rejects, counts = one_pass
    assert counts == (17, 5, 8, {"patent type": 2, "withdrawn": 2})
    assert [(r[1], r[4]) for r in rejects] == [
        (8, "location_id 'loc-gone' not in g_location_disambiguated"),
        (11, "patent_id not in g_patent; missing year"),
        (12, "no location_id"),
        (13, "lat 'north' is not a number"),
        (14, "missing lat/lon and city"),
        (15, "year 'soon' is not a whole number"),
        (16, "patent_id not in g_patent"),
        (17, "patent_id not in g_patent; missing doc_id; missing year"),
    ]


def test_planning_only_unzips_nothing(tmp_path: Path) -> None:
    """An engine that reads the upstream files itself (Spark) has them found, not unzipped."""
    (planned,) = prepare(SourceSpec("patentsview", (GRANTED,)), tmp_path, plan_only=True)
    assert list(tmp_path.iterdir()) == [] and planned.feeds == ()
    assert sorted(planned.files) == sorted(GRANTED.glob("*.zip"))
    assert planned.path == GRANTED / "g_inventor_disambiguated.tsv.zip"
