"""The uncertainty tables and the report partial (rank intervals, what-if panel)."""

from __future__ import annotations

import csv
import io
import json
import re

import jinja2
import pandas as pd
import pytest

from innoclusters.config import Settings
from innoclusters.pipeline import run
from innoclusters.publish.report import render_report
from innoclusters.publish.uncertainty import uncertainty_csv_text, uncertainty_view
from innoclusters.result import RunResult
from innoclusters.uncertainty import interval_text, report_columns
from tests.test_uncertainty import _east, _world


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    folder = tmp_path_factory.mktemp("unc")
    sources = _world(
        folder,
        [(50.0, 8.0, 120, 2.0), (50.0, 8.0 + _east(14.0), 40, 0.5), (48.0, 2.0, 70, 2.0)],
    )
    return run(sources, Settings(eps_km=10.0, min_weight={"patents": 10.0}, uncertainty=4, top=2))


def _render(result: RunResult) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("innoclusters.publish", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("uncertainty.html.j2").render(uncertainty=uncertainty_view(result))


def test_interval_text() -> None:
    assert interval_text(3, 3) == "3"
    assert interval_text(3, 9) == "3–9"
    assert interval_text(3, float("nan")) == "3–…"
    assert interval_text(pd.NA, pd.NA) == "not a cluster"


def test_report_columns_cover_every_cluster(result: RunResult) -> None:
    columns = dict(report_columns(result.extras["uncertainty"], top=2))
    assert set(columns) == {"90 % rank interval", "P(top 2)"}
    for values in columns.values():
        assert set(values) == set(result.clusters["cluster_id"])
    assert result.extras["report_columns"] == report_columns(result.extras["uncertainty"], top=2)


def test_partial_shows_intervals_and_a_whatif_that_computes_nothing(result: RunResult) -> None:
    html = _render(result)
    assert "computes no clusters" in html
    assert 'id="whatif-form"' in html and 'id="whatif-eps"' in html
    found = re.search(r'id="whatif-data">(.*?)</script>', html, re.S)
    assert found is not None
    data = json.loads(found.group(1))
    assert data["top"] == 2
    assert set(data["clusters"]) == set(result.clusters["cluster_id"])
    key = f"{data['nominal']['eps']:g}|1|1"
    assert key in data["runs"]
    # The run's own choices in the grid rank like the run.
    run_ = data["runs"][key]
    scores = [sum(run_[m][i] for m in data["metrics"]) for i in range(len(run_["id"]))]
    best = run_["id"][max(range(len(scores)), key=scores.__getitem__)]
    assert best == str(result.clusters["cluster_id"].iloc[0])


def test_no_uncertainty_renders_nothing(result: RunResult) -> None:
    plain = RunResult(**{**result.__dict__, "extras": {}})
    assert _render(plain).strip() == ""


def test_csv_text_has_fixed_decimals(result: RunResult) -> None:
    text = uncertainty_csv_text(result.extras["uncertainty"].clusters, synthetic=True)
    assert text.startswith("# SYNTHETIC")
    frame = pd.read_csv(io.StringIO(text), comment="#")
    assert list(frame["rank"]) == list(result.clusters["rank"])
    cells = next(csv.DictReader(io.StringIO(text.split("\n", 1)[1])))
    assert re.fullmatch(r"\d\.\d{4}", cells["data_p_top"])


def test_csv_text_neutralises_formula_cells(result: RunResult) -> None:
    found = result.extras["uncertainty"]
    for frame in (found.clusters, found.sensitivity, found.whatif):
        hostile = frame.copy()
        hostile["name"] = '=HYPERLINK("http://x")'
        text = uncertainty_csv_text(hostile)
        back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        assert (back["name"] == '\'=HYPERLINK("http://x")').all()
        assert "\n=" not in text and ",=" not in text
        # numbers are untouched: the rank column reads back as the same integers
        assert back[frame.columns[0]].tolist() == [
            "" if pd.isna(v) else (f"{v:.4f}" if isinstance(v, float) else str(v))
            for v in frame[frame.columns[0]]
        ]


def test_report_page_has_the_pieces(result: RunResult) -> None:
    html = render_report(result)
    assert 'id="whatif-form"' in html and "computes no clusters" in html
    assert "90 % rank interval" in html and "P(top 2)" in html
    plain = RunResult(**{**result.__dict__, "extras": {}})
    assert 'id="uncertainty"' not in render_report(plain)
