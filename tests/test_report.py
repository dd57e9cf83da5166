"""report.html: content generated from the run, escaping, self-containment, noise thinning."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from innoclusters.publish.geojson import csv_fields
from innoclusters.publish.report import noise_cells, render_report, safe_json, write_report
from tests._publish_data import INJECTION, hand_result

_DATA = re.compile(r'<script type="application/json" id="inno-data">(.*?)</script>', re.S)


def _data(page: str) -> dict:
    match = _DATA.search(page)
    assert match is not None
    return json.loads(match.group(1))


def _own_parts(page: str) -> str:
    """The page without the inlined plotly.js (which names its CDN in unused defaults)."""
    start = page.index("/**\n* plotly.js")
    end = page.index("</script>", start)
    return page[:start] + page[end:]


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(hand_result())


def test_script_injection_name_is_text_everywhere(page: str) -> None:
    assert INJECTION not in page
    assert "alert(1)" in page  # it is there, as text
    assert html.escape(INJECTION, quote=False) in page or html.escape(INJECTION) in page
    block = _DATA.search(page).group(1)  # type: ignore[union-attr]
    assert "<" not in block and ">" not in block and "&" not in block
    data = _data(page)
    assert data["clusters"][1]["name"] == INJECTION
    assert [p["value"] for p in data["profiles"]["C0002"]] == ["Acme & Sons", INJECTION]
    # the file name from the manifest and the rejects is escaped too
    assert f"in/{html.escape(INJECTION)}.csv" in page
    assert f"{html.escape(INJECTION)}.csv" in page
    # exactly three script elements: data, plotly.js, the report's own code
    assert len(re.findall(r"<script\b", page)) == 3
    assert page.count("</script>") == 3


def test_quotes_and_ampersands_in_names_are_escaped(page: str) -> None:
    assert "Suva &amp; Labasa" in page
    assert "Apia &#34;West&#34; &#39;Side&#39;" in page or "Apia &quot;West&quot;" in page
    assert _data(page)["clusters"][3]["name"] == "Apia \"West\" 'Side'"


def test_page_is_self_contained(page: str) -> None:
    own = _own_parts(page)
    assert "http://" not in own and "https://" not in own
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", page)
    assert "plotly.js v" in page  # the library itself is inlined
    assert "PlotlyGeoAssets" in page  # the CDN base map is replaced by an embedded one


def test_ranking_table_has_every_csv_column_and_all_clusters(page: str) -> None:
    result = hand_result()
    table = page[page.index('id="ranking-table"') : page.index("</table>", page.index("ranking"))]
    headers = re.findall(r'<th scope="col" data-col="([^"]+)"', table)
    assert headers == csv_fields(result.clusters)
    rows = re.findall(r"<tr data-index=\"(\d+)\"( class=\"emerging\" hidden)?>", table)
    assert [int(i) for i, _ in rows] == [0, 1, 2, 3]
    # top = 3: the fourth cluster is an emerging one, hidden until "show all"
    assert [bool(h) for _, h in rows] == [False, False, False, True]
    # numbers carry their raw value for sorting, and show the CSV decimals
    assert 'data-v="145.3">145.3000</td>' in table
    assert ">37,000,000</td>" in table


def test_card_data_and_views_match_the_clusters(page: str) -> None:
    result = hand_result()
    data = _data(page)
    clusters = result.clusters
    assert [c["cluster_id"] for c in data["clusters"]] == clusters["cluster_id"].tolist()
    assert [c["score"] for c in data["clusters"]] == pytest.approx(clusters["score"].tolist())
    assert data["clusters"][1]["population"] is None  # NaN -> null
    assert data["meta"] == {
        "top": 3,
        "metrics": ["patents", "publications", "vc"],
        "metric_labels": {
            "patents": "PCT patent applications",
            "publications": "scientific articles",
            "vc": "venture-capital deals",
        },
        "synthetic": True,
    }
    assert [r["cluster_id"] for r in data["top10"]["patents"]] == [
        "C0001",
        "C0002",
        "C0003",
        "C0004",
    ]
    assert [r["cluster_id"] for r in data["top10"]["vc"]] == ["C0002", "C0001"]
    econ = {r["economy"]: r["top_clusters"] for r in data["economies"]}
    assert econ == {"JP": 1, "US": 1, "CA": 1, "FJ": 1, "WS": 0}
    assert [r["cluster_id"] for r in data["intensity"]] == ["C0003", "C0001"]


def test_map_footprints_one_per_cluster_split_and_wound_for_d3(page: str) -> None:
    features = _data(page)["footprints"]["features"]
    assert [f["id"] for f in features] == ["C0001", "C0002", "C0003", "C0004"]
    fiji = features[2]["geometry"]
    assert fiji["type"] == "MultiPolygon" and len(fiji["coordinates"]) == 2
    for feature in features:
        geom = feature["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        for poly in polys:
            xy = np.asarray(poly[0])
            assert (np.abs(xy[:, 0]) <= 180).all()
            signed = 0.5 * np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1])
            assert signed < 0  # d3-geo wants exterior rings clockwise
    countries = _data(page)["countries"]["features"]
    assert len(countries) == 177 and {"JPN", "FJI", "USA"} <= {f["id"] for f in countries}


def test_run_section_from_manifest(page: str) -> None:
    run = page[page.index('<section id="run">') :]
    assert "13 km" in run  # eps_km in the method text
    assert "0.01°" in run  # rounding
    assert "<code>eps_km</code></td><td>13.0</td>" in run
    assert "3 rows were rejected" in run
    assert '<td>patents</td><td>lat out of range</td><td class="num">2</td>' in run
    assert "Rows read: 251; accepted: 248; rejected: 3." in run
    assert "200.000" in run and "500.000" in run  # world totals
    assert "every metric weighted equally" in run
    assert "The top 3 clusters by score form the ranking." in run


def test_synthetic_banner_only_for_synthetic_data() -> None:
    synthetic = render_report(hand_result(synthetic=True))
    real = render_report(hand_result(synthetic=False, profiles=False))
    assert 'id="synthetic-banner"' in synthetic and "(synthetic data)</title>" in synthetic
    assert 'id="synthetic-banner"' not in real and "synthetic data" not in real.lower()[:2000]
    assert _data(real)["profiles"] is None


def test_intensity_section_only_when_population_is_known() -> None:
    result = hand_result()
    result.clusters["population"] = np.nan
    result.clusters["intensity"] = np.nan
    result.clusters["intensity_rank"] = pd.array([pd.NA] * 4, dtype="Int64")
    page = render_report(result)
    assert 'id="intensity"' not in page and 'href="#intensity"' not in page
    assert _data(page)["intensity"] == []


def test_noise_is_thinned_on_a_grid_conserving_weight() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    locations = pd.DataFrame(
        {
            "lat": rng.uniform(-50, 60, n),
            "lon": rng.uniform(-180, 180, n),
            "weight": rng.uniform(0.1, 2.0, n),
            "cluster_id": [None] * (n - 10) + ["C1"] * 10,
        }
    )
    cells, grid, n_noise = noise_cells(locations, max_points=1500)
    assert n_noise == n - 10
    assert grid is not None and 0 < len(cells) <= 1500
    assert cells["locations"].sum() == n - 10
    noise_weight = locations.loc[locations["cluster_id"].isna(), "weight"].sum()
    assert cells["weight"].sum() == pytest.approx(noise_weight)
    few, grid_few, _ = noise_cells(locations.head(100), max_points=1500)
    assert grid_few is None and len(few) == 100


def test_safe_json_cannot_close_a_script_element() -> None:
    text = safe_json({"a": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028"}


def test_write_report_is_atomic_and_complete(tmp_path: Path) -> None:
    path = write_report(hand_result(), tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert not list(tmp_path.glob(".*tmp"))
