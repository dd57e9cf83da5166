"""publish.charts: plain SVG charts with a title, axis units, a text alternative, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from innoclusters.publish.charts import Bar, Slope, bar_chart, nice_ticks, slope_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_nice_ticks_cover_the_maximum_in_round_steps() -> None:
    assert nice_ticks(120.5) == [0, 50, 100, 150]
    assert nice_ticks(9.0) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0.37) == [0, 0.1, 0.2, 0.3, 0.4]
    assert nice_ticks(0.0) == [0.0, 1.0]
    assert nice_ticks(float("nan")) == [0.0, 1.0]


def test_bar_chart_has_title_units_text_alternative_and_escapes() -> None:
    bars = [
        Bar(label="<script>alert(1)</script>", value=40.0, text="40.0", index=1),
        Bar(label="Suva & Labasa", value=10.0, text="10.0", index=None),
    ]
    svg = bar_chart(
        chart_id="c1", title="Top 10 by PCT", axis_label="PCT applications (count)", bars=bars
    )
    root = ET.fromstring(svg)  # well-formed XML: every string was escaped
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Top 10 by PCT"  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text  # type: ignore[union-attr]
    assert desc == "<script>alert(1)</script>: 40.0; Suva & Labasa: 10.0."
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "PCT applications (count)" in texts and "<script>alert(1)</script>" in texts
    assert "<script" not in svg
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "bar"]
    assert [g.get("data-index") for g in groups] == ["1", None]
    # bar lengths are proportional to the values on the 0..40 axis
    widths = [float(g.find(f"{SVG}rect").get("width")) for g in groups]  # type: ignore[union-attr]
    assert widths[0] / widths[1] == 4.0
    assert re.search(r">40</text>", svg) and not re.search(r">50</text>", svg)


def test_slope_chart_places_entrants_and_exits_on_the_out_row() -> None:
    lines = [
        Slope(label="Up", before=3, after=1, index=0),
        Slope(label="New", before=None, after=2, index=1),
        Slope(label="Gone", before=1, after=None),
    ]
    svg = slope_chart(
        chart_id="s", title="Ranks", before_label="2024", after_label="2025", lines=lines, top=3
    )
    root = ET.fromstring(svg)
    groups = {g.find(f"{SVG}title").text: g for g in root.iter(f"{SVG}g")}  # type: ignore[union-attr]
    assert groups["Up"].get("class") == "bar slope up"
    assert groups["New"].get("class") == "bar slope up"
    assert groups["Gone"].get("class") == "bar slope down"
    out_y = float(groups["New"].find(f"{SVG}line").get("y1"))  # type: ignore[union-attr]
    assert out_y == float(groups["Gone"].find(f"{SVG}line").get("y2"))  # type: ignore[union-attr]
    desc = root.find(f"{SVG}desc").text or ""  # type: ignore[union-attr]
    assert "New: not in the top then rank 2" in desc and "Gone: rank 1 then not in the top" in desc
