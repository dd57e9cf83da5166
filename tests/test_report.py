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
    """The page without the inlined Leaflet (whose comments name its web site)."""
    start = page.index("/* @preserve\n * Leaflet")
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
    assert [p[2] for p in data["profiles"]["C0002"]] == ["Acme & Sons", INJECTION]
    # file names from the manifest and the rejects are shown without their folder
    # ("in/<script>alert(1)</script>.csv" is the file "script>.csv"), escaped
    assert "<td>script&gt;.csv</td>" in page
    assert "in/&lt;script" not in page
    # exactly three script elements: data, Leaflet with topojson-client, the report's own code
    assert len(re.findall(r"<script\b", page)) == 3
    assert page.count("</script>") == 3


def test_quotes_and_ampersands_in_names_are_escaped(page: str) -> None:
    assert "Suva &amp; Labasa" in page
    assert "Apia &#34;West&#34; &#39;Side&#39;" in page or "Apia &quot;West&quot;" in page
    assert _data(page)["clusters"][3]["name"] == "Apia \"West\" 'Side'"


def test_page_is_self_contained(page: str) -> None:
    own = _own_parts(page).replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in own and "https://" not in own
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", page)
    assert "Leaflet 1.9.4" in page and "topojson-client v3.1.0" in page  # inlined
    assert "sourceMappingURL" not in page  # no source map for devtools to fetch
    assert "url(images/" not in page  # Leaflet's stylesheet refers to no image file
    assert "plotly" not in page.lower()


def test_ranking_table_has_every_csv_column_and_all_clusters(page: str) -> None:
    result = hand_result()
    table = page[page.index('id="ranking-table"') : page.index("</table>", page.index("ranking"))]
    headers = re.findall(r'<th scope="col" data-col="([^"]+)"', table)
    assert headers == csv_fields(result.clusters)
    labels = re.findall(r'<button type="button" class="sort" title="[^"]+">([^<]+)</button>', table)
    assert labels[:5] == ["Rank", "Cluster id", "Cluster", "Economies", "PCT applications (count)"]
    assert "Intensity (score per million inhabitants)" in labels
    assert "Articles (% of world)" in labels
    rows = re.findall(r"<tr data-index=\"(\d+)\"( class=\"emerging\" hidden)?>", table)
    assert [int(i) for i, _ in rows] == [0, 1, 2, 3]
    # top = 3: the fourth cluster is an emerging one, hidden until "show all"
    assert [bool(h) for _, h in rows] == [False, False, False, True]
    # numbers carry their raw value for sorting, and show readable decimals
    assert 'data-v="145.3">145.30</td>' in table
    assert 'data-v="120.5">120.5</td>' in table
    # the name is a button: a keyboard reaches every cluster
    assert '<button type="button" class="pick" data-index="0">Tokyo–Yokohama</button>' in table
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
        "eps_km": 13.0,
        "population_source": "GeoNames gazetteer (CC BY 4.0): sum of the places in the footprint",
        "windows": {"patents": "2019–2023", "publications": "", "vc": ""},
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


def test_map_footprints_one_per_cluster_split_at_the_antimeridian(page: str) -> None:
    features = _data(page)["footprints"]["features"]
    assert [f["id"] for f in features] == [0, 1, 2, 3]  # positions in the ranking
    fiji = features[2]["geometry"]
    assert fiji["type"] == "MultiPolygon" and len(fiji["coordinates"]) == 2
    for feature in features:
        geom = feature["geometry"]
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        for poly in polys:
            xy = np.asarray(poly[0])
            assert (np.abs(xy[:, 0]) <= 180).all()
            signed = 0.5 * np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1])
            assert signed > 0  # RFC 7946: exterior rings counterclockwise
    countries = _data(page)["countries"]
    assert countries["type"] == "Topology"
    props = [g["properties"] for g in countries["objects"]["countries"]["geometries"]]
    assert len(props) == 241 and {"JP", "FJ", "US", "DE"} <= {p["iso_a2"] for p in props}


def test_places_labels_and_search_come_from_the_gazetteer(page: str) -> None:
    data = _data(page)
    tokyo = data["places"]["0"]  # places held by cluster #1, with their shares
    names = [p[0] for p in tokyo]
    assert {"Tokyo", "Yokohama", "Kawasaki"} <= set(names)
    assert sum(p[1] for p in tokyo) == pytest.approx(100.0, abs=0.05)
    labels = data["labels"]
    # largest first; Tokyo shows from world zoom, a town of the footprint only close up
    assert labels["name"][0] in {"Shanghai", "Tokyo", "Mexico City", "Beijing", "Dhaka"}
    pops_order = labels["name"].index("Tokyo") < labels["name"].index("Yokohama")
    assert pops_order and labels["zoom"][labels["name"].index("Tokyo")] == 2
    small = [p[0] for p in tokyo if 0 < p[2] < 500_000]
    assert small and all(labels["zoom"][labels["name"].index(n)] >= 6 for n in small)
    keys = {name: k.split("|") for name, cluster, k in data["search"] if cluster == 0}
    assert "tokio" in keys["Tokyo"] and "tokyo" in keys["Tokyo"]  # alternate names, folded


def test_why_one_cluster_from_the_metric_clusters_and_links(page: str) -> None:
    data = _data(page)
    # Tokyo: patents cluster 0 (2 locations) and publications cluster 0 merged, 0 km apart
    assert data["metric_clusters"]["C0001"] == [
        ["patents", 0, 2, 120.5],
        ["publications", 0, 1, 300.25],
    ]
    assert data["links"]["C0001"] == [
        ["patents", 0, "publications", 0, 35.6, 139.7, 35.6, 139.7, 0.0]
    ]
    assert "C0003" not in data["links"]  # one metric cluster: nothing merged


def test_edition_windows_from_the_pipeline_manifest() -> None:
    result = hand_result()
    result.manifest["windows"] = {
        "patents": {"window": [2019, 2023], "records": 10, "weight_in_window": 200.0},
        "publications": {"window": [2018, 2022], "records": 10, "weight_in_window": 500.0},
    }
    page = render_report(result)
    assert "Edition windows: PCT patent applications 2019–2023; scientific articles 2018–2022." in (
        page
    )
    run = page[page.index('<section id="run"') :]
    assert "<td>2019–2023</td>" in run and "<td>2018–2022</td>" in run
    assert "PCT patent applications (patents, 2019–2023)" in run
    assert _data(page)["meta"]["windows"]["publications"] == "2018–2022"


def test_charts_are_svg_with_titles_units_and_text(page: str) -> None:
    for chart_id in ("chart-top10-patents", "chart-economies", "chart-intensity"):
        assert f'<svg class="chart-svg" id="{chart_id}"' in page
        assert f'<title id="{chart_id}-title">' in page and f'<desc id="{chart_id}-desc">' in page
    assert "PCT patent applications, fractional count, 2019–2023" in page  # axis with unit
    assert "score (sum of world shares, %) per million inhabitants" in page
    assert "Japan (JP)" in page  # economies by name
    assert "Synthetic data · innoclusters" in page  # the mark travels with every chart,
    assert page.count('<text class="chart-mark-svg"') == 5  # inside each image too
    assert "chart-slope" not in page  # no previous edition, no second method


def test_slope_chart_with_a_second_method() -> None:
    result = hand_result()
    result.clusters["alt_rank"] = pd.array([2, 1, 4, 3], dtype="Int64")
    page = render_report(result)
    assert '<svg class="chart-svg" id="chart-slope-alt_rank"' in page
    assert "Tokyo–Yokohama: rank 1 then rank 2" not in page  # before = other method
    assert "Tokyo–Yokohama: rank 2 then rank 1" in page


def test_same_run_gives_the_same_bytes_without_paths_or_timings(tmp_path: Path) -> None:
    def made() -> str:
        result = hand_result()
        result.manifest["inputs"][1]["path"] = str(tmp_path / "secret" / "vc.csv")
        result.manifest["population"] = {"source": str(tmp_path / "pop.tif"), "method": "raster"}
        return render_report(result)

    first = made()
    assert made() == first
    assert str(tmp_path) not in first and "secret" not in first
    assert "<td>vc.csv</td>" in first and "pop.tif: raster" in first
    assert "Timings" not in first and "timings" not in first


def test_run_section_from_manifest(page: str) -> None:
    run = page[page.index('<section id="run"') :]
    assert "13 km" in run  # eps_km in the method text
    assert "0.01°" in run  # rounding
    assert "<code>eps_km</code></td><td>13.0</td>" in run
    assert "GeoNames" in page and "CC BY 4.0" in page and "Natural Earth" in page
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
    assert "SYNTHETIC DATA</div>" not in real and "Synthetic data ·" not in real
    assert "chart-mark-svg" not in real.replace(".chart-mark-svg", "")


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
