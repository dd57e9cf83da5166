"""clusters.xlsx: read back with openpyxl and compare with clusters.csv and the clusters frame."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from innoclusters.publish.tables import clusters_csv_text
from innoclusters.publish.xlsx import CREATED, SHEETS, write_xlsx
from tests._publish_data import INJECTION, assert_matches_csv, hand_result


def _rows(sheet) -> tuple[list[str], list[list[object]]]:
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    return [str(v) for v in values[0]], values[1:]


def _same_as_csv(header: list[str], rows: list[list[object]], csv_text: str) -> None:
    csv = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False, comment="#")
    assert header == list(csv.columns)
    assert len(rows) == len(csv)
    for row, (_, expected) in zip(rows, csv.iterrows(), strict=True):
        for col, value in zip(header, row, strict=True):
            assert_matches_csv(col, value, expected[col])


def test_workbook_sheets_and_ranking_match_clusters_csv(tmp_path: Path) -> None:
    result = hand_result()
    path = write_xlsx(result, tmp_path / "clusters.xlsx")
    book = openpyxl.load_workbook(path)
    assert tuple(book.sheetnames) == SHEETS
    header, rows = _rows(book["Ranking"])
    _same_as_csv(header, rows, clusters_csv_text(result.clusters))
    assert rows[1][header.index("name")] == INJECTION  # stored as plain text
    for name in SHEETS:
        assert book[name].freeze_panes == "A2", name
    sheet = book["Ranking"]
    score = sheet.cell(row=2, column=header.index("score") + 1)
    assert isinstance(score.value, float) and score.number_format == "0.0000"
    population = sheet.cell(row=2, column=header.index("population") + 1)
    assert population.value == 37_000_000 and population.number_format == "#,##0"
    assert not list(tmp_path.glob(".*tmp"))


def test_top_10_per_metric_sheet(tmp_path: Path) -> None:
    result = hand_result()
    book = openpyxl.load_workbook(write_xlsx(result, tmp_path / "c.xlsx"))
    header, rows = _rows(book["Top 10 per metric"])
    assert header[:3] == ["metric", "position", "rank"]
    table = pd.DataFrame(rows, columns=header)
    clusters = result.clusters
    for metric in result.metrics:
        got = table[table["metric"] == metric]
        expected = clusters[clusters[metric] > 0].sort_values(metric, ascending=False)
        assert got["cluster_id"].tolist() == expected["cluster_id"].tolist()
        assert got["count"].tolist() == pytest.approx(expected[metric].tolist())
        assert got["share"].tolist() == pytest.approx(expected[f"{metric}_share"].tolist())
        assert got["position"].tolist() == list(range(1, len(got) + 1))
    # vc: C0003 has 0 deals and C0004 none known, so only two clusters are listed
    assert table[table["metric"] == "vc"]["cluster_id"].tolist() == ["C0002", "C0001"]


def test_clusters_per_economy_counts_each_economy_of_a_cross_border_cluster(
    tmp_path: Path,
) -> None:
    result = hand_result()  # top = 3
    book = openpyxl.load_workbook(write_xlsx(result, tmp_path / "c.xlsx"))
    header, rows = _rows(book["Clusters per economy"])
    assert header == ["economy", "economy_name", "top_3_clusters", "all_clusters"]
    got = {r[0]: (r[1], r[2], r[3]) for r in rows}
    assert got == {
        "JP": ("Japan", 1, 1),
        "US": ("United States", 1, 1),
        "CA": ("Canada", 1, 1),
        "FJ": ("Fiji", 1, 1),
        "WS": ("Samoa", 0, 1),
    }
    assert rows[-1][0] == "WS"


def test_intensity_and_settings_sheets(tmp_path: Path) -> None:
    result = hand_result()
    book = openpyxl.load_workbook(write_xlsx(result, tmp_path / "c.xlsx"))
    header, rows = _rows(book["Intensity"])
    table = pd.DataFrame(rows, columns=header)
    clusters = result.clusters.set_index("cluster_id")
    known = clusters[clusters["population"].notna()].sort_values("intensity", ascending=False)
    assert table["cluster_id"].tolist() == known.index.tolist() == ["C0003", "C0001"]
    assert table["intensity_rank"].tolist() == [1, 2]
    assert table["intensity"].tolist() == pytest.approx(known["intensity"].tolist())
    fiji = table.iloc[0]
    assert fiji["publications_per_million"] == pytest.approx(30.0 / 400_000 * 1e6)
    _, rows = _rows(book["Settings"])
    settings = {r[0]: r[1] for r in rows}
    assert settings["synthetic"] is True
    assert settings["settings.eps_km"] == 13.0
    assert settings["settings.top"] == 3
    assert settings["rows.rejected"] == 3
    assert settings["totals.publications"] == 500.0
    assert settings["inputs[0].path"] == f"in/{INJECTION}.csv"
    assert settings["metrics"] == "patents, publications, vc"


def test_real_data_without_synthetic_flag_has_no_notice(tmp_path: Path) -> None:
    result = hand_result(synthetic=False)
    book = openpyxl.load_workbook(write_xlsx(result, tmp_path / "c.xlsx"))
    _, rows = _rows(book["Settings"])
    assert "synthetic" not in {r[0] for r in rows}


def test_pipeline_workbook_matches_clusters_csv(write_world, tmp_path: Path) -> None:
    from innoclusters.pipeline import run
    from innoclusters.publish.tables import write_clusters_csv

    result = run(write_world())
    csv_path = write_clusters_csv(result, tmp_path / "clusters.csv")
    book = openpyxl.load_workbook(write_xlsx(result, tmp_path / "clusters.xlsx"))
    header, rows = _rows(book["Ranking"])
    assert len(rows) == len(result.clusters) > 0
    _same_as_csv(header, rows, csv_path.read_text(encoding="utf-8"))
    _, top_rows = _rows(book["Top 10 per metric"])
    for metric in result.metrics:
        counts = [r[6] for r in top_rows if r[0] == metric]
        best = result.clusters[metric].nlargest(len(counts)).tolist()
        assert counts == pytest.approx(best)


def test_formula_like_text_stays_text(tmp_path: Path) -> None:
    result = hand_result()
    result.clusters["name"] = ["=1+2", '=HYPERLINK("http://x","y")', "@SUM(A1)", "-cmd"]
    path = write_xlsx(result, tmp_path / "c.xlsx")
    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets
        for name in sheets:
            assert "<f>" not in archive.read(name).decode("utf-8"), name
    book = openpyxl.load_workbook(path)
    header, _ = _rows(book["Ranking"])
    col = header.index("name") + 1
    cells = [book["Ranking"].cell(row=r, column=col) for r in range(2, 6)]
    assert [c.value for c in cells] == list(result.clusters["name"])
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)
    lon = book["Ranking"].cell(row=3, column=header.index("lon") + 1)
    assert lon.value == -74.0 and lon.data_type == "n"  # a negative number stays a number


def test_identical_runs_give_byte_identical_workbooks(tmp_path: Path) -> None:
    first = hand_result()
    second = hand_result()
    second.manifest["timings_s"] = {"records": 9.9, "publish": 1.2}
    a = write_xlsx(first, tmp_path / "a.xlsx").read_bytes()
    b = write_xlsx(second, tmp_path / "b.xlsx").read_bytes()
    assert a == b
    with zipfile.ZipFile(tmp_path / "a.xlsx") as archive:
        core = archive.read("docProps/core.xml").decode("utf-8")
    assert CREATED.strftime("%Y-%m-%dT%H:%M:%SZ") in core
