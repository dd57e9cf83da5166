"""report.html in a real browser: Debian's Chromium, headless, with the network blocked.

The test fails (it does not skip) when Chromium is missing: ``.ci/run`` installs it, and
``apt-get install chromium`` does on a developer's machine. axe-core (the accessibility
checker) is vendored from npm in ``tests/data/axe-core`` and injected from the file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from innoclusters.geo import EARTH_RADIUS_KM
from innoclusters.publish.links import write_links
from innoclusters.publish.report import write_report
from tests._publish_data import INJECTION, hand_result

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

AXE = Path(__file__).parent / "data" / "axe-core" / "axe.min.js"

#: Every visible label on the map (clusters and places), as rectangles.
_LABEL_BOXES = """Array.from(document.querySelectorAll('.cluster-label, .place-label'))
  .filter(n => !n.hidden).map(n => { const r = n.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom, n.textContent, n.className]; })"""


def chromium_path() -> str:
    """Debian's Chromium, or fail with the command that installs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "Chromium is needed for the report's browser test; install it with "
            "'apt-get update && apt-get install -y chromium' (.ci/run does this)"
        )
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Loaded:
    """A report page loaded with every non-file request aborted and recorded."""

    def __init__(self, browser: Any, path: Path, *, width: int = 1400, height: int = 1000) -> None:
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())
        self.page.wait_for_function("document.body.dataset.ready", timeout=60_000)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def serious_axe_findings(self) -> list[str]:
        """axe-core's serious and critical violations on the page as it is now."""
        self.page.add_script_tag(path=str(AXE))
        return self.js(
            "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
        )


def _paths(loaded: Loaded, pane: str) -> int:
    return loaded.js(f"document.querySelectorAll('.leaflet-{pane}-pane path').length")


def _assert_no_overlap(boxes: list[list[Any]]) -> None:
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a[2] <= b[0] + 0.5 or b[2] <= a[0] + 0.5 or a[3] <= b[1] + 0.5
            assert apart or b[3] <= a[1] + 0.5, (a, b)


def _names_in_table(loaded: Loaded) -> list[str]:
    return loaded.js(
        "Array.from(document.querySelectorAll('#ranking-table tbody tr:not([hidden])'))"
        ".map(r => r.cells[2].textContent)"
    )


def _card_title(loaded: Loaded) -> str:
    return loaded.page.locator("#card h3").text_content() or ""


@pytest.fixture(scope="module")
def hand_page(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    folder = tmp_path_factory.mktemp("hand_report")
    path = write_report(hand_result(), folder / "report.html")
    loaded = Loaded(browser, path)
    yield loaded
    loaded.page.close()


@pytest.fixture(scope="module")
def hand_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(hand_result(), tmp_path_factory.mktemp("hand") / "report.html")


def test_hand_report_loads_offline_without_errors(hand_page: Loaded, tmp_path: Path) -> None:
    page = hand_page.page
    assert hand_page.blocked == [] and hand_page.errors == []
    # the top 3 footprints and dots are drawn; the emerging cluster waits for its layer
    assert _paths(hand_page, "topFoot") == 3 and _paths(hand_page, "topDots") == 3
    assert _paths(hand_page, "emergingFoot") == 0
    assert hand_page.js("document.querySelectorAll('.leaflet-land-pane canvas').length") == 1
    page.locator("#layer-emerging").check()
    assert _paths(hand_page, "emergingFoot") == 1 and _paths(hand_page, "emergingDots") == 1
    page.locator("#layer-emerging").uncheck()
    # the ranking: every cluster present, the top 3 shown
    assert hand_page.js("document.querySelectorAll('#ranking-table tbody tr').length") == 4
    assert len(_names_in_table(hand_page)) == 3
    # charts: one per metric, economies, intensity; each an image with a name and text
    svgs = hand_page.js(
        "Array.from(document.querySelectorAll('svg.chart-svg')).map(s => "
        "[s.getAttribute('role'), document.getElementById(s.id + '-desc').textContent])"
    )
    assert len(svgs) == 5 and all(role == "img" and len(desc) > 20 for role, desc in svgs)
    # the map stays beside the card, not under it
    box = page.locator("#map").bounding_box()
    card = page.locator("#card").bounding_box()
    assert box is not None and card is not None and box["x"] + box["width"] <= card["x"] + 1
    page.screenshot(path=str(tmp_path / "hand_report.png"))
    assert (tmp_path / "hand_report.png").stat().st_size > 10_000


def test_injected_name_stays_text(hand_page: Loaded) -> None:
    page = hand_page.page
    button = page.locator("#ranking-table tbody tr[data-index='1'] button.pick")
    assert button.text_content() == INJECTION
    assert hand_page.js("document.querySelectorAll('body script').length") == 3
    assert hand_page.js("typeof window.__injected") == "undefined"
    labels = hand_page.js(
        "Array.from(document.querySelectorAll('.cluster-label')).map(n => n.textContent)"
    )
    assert f"2{INJECTION}" in labels  # the map label, as text
    button.click()
    assert _card_title(hand_page) == f"#2 {INJECTION}"
    profile = page.locator("#card .profiles td").all_text_contents()
    assert INJECTION in profile and "Acme & Sons" in profile
    assert (
        hand_page.js("document.querySelectorAll('#card script, .leaflet-pane script').length") == 0
    )
    assert hand_page.errors == [] and hand_page.blocked == []


def test_selecting_a_row_opens_its_card_and_highlights_its_footprint(hand_page: Loaded) -> None:
    page = hand_page.page
    page.locator("#ranking-table tbody tr[data-index='0'] button.pick").click()
    assert _card_title(hand_page) == "#1 Tokyo–Yokohama"
    text = page.locator("#card").text_content() or ""
    assert "37,000,000 inhabitants" in text and "JP (Japan)" in text
    assert "11.64 score per million inhabitants" in text
    assert "Canon Inc." in text and "12.5 %" in text  # profile share, a fraction, in percent
    assert "PCT patent applications 2019–2023" in text  # the metric's edition window
    assert "Merged from 2 metric clusters" in text and "0.0 km apart" in text
    places = page.locator("#card .places-table td").all_text_contents()
    assert "Tokyo" in places and "Yokohama" in places
    assert page.locator("#ranking-table tbody tr.selected").get_attribute("data-index") == "0"
    assert hand_page.js("document.querySelectorAll('path.footprint-highlight').length") == 1
    # the map moved onto the footprint: Tokyo's towns are labelled
    shown = hand_page.js(
        "Array.from(document.querySelectorAll('.place-label')).filter(n => !n.hidden)"
        ".map(n => n.textContent)"
    )
    assert {"Tokyo", "Yokohama"} <= set(shown)
    _assert_no_overlap(hand_page.js(_LABEL_BOXES))
    page.locator("#card .close").click()
    assert page.locator("#card h3").count() == 0 and page.locator("#card-hint").is_visible()
    assert page.locator("#ranking-table tbody tr.selected").count() == 0
    assert hand_page.js("document.querySelectorAll('path.footprint-highlight').length") == 0


def test_sorting_the_table(hand_page: Loaded) -> None:
    page = hand_page.page
    page.locator("#show-all").check()
    before = _names_in_table(hand_page)
    assert len(before) == 4
    header = page.locator("#ranking-table th[data-col='publications']")
    header.locator("button").click()
    assert _names_in_table(hand_page) == before[::-1]  # 10 < 30 < 90.5 < 300.25
    assert header.get_attribute("aria-sort") == "ascending"
    header.locator("button").click()
    assert _names_in_table(hand_page) == before
    page.locator("#ranking-table th[data-col='intensity'] button").click()
    # ascending intensity: Tokyo (11.6) before Suva (87.5); unknown intensity sorts last
    assert _names_in_table(hand_page)[:2] == [before[0], before[2]]
    page.locator("#ranking-table th[data-col='rank'] button").click()
    page.locator("#show-all").uncheck()
    assert len(_names_in_table(hand_page)) == 3


def test_clicking_a_footprint_on_the_map_opens_its_card(hand_page: Loaded) -> None:
    page = hand_page.page
    page.locator("#ranking-table tbody tr[data-index='0'] button.pick").click()  # onto Tokyo
    page.locator("#card .close").click()
    shape = page.locator(".leaflet-topFoot-pane path").first
    box = None
    for i in range(page.locator(".leaflet-topFoot-pane path").count()):
        candidate = page.locator(".leaflet-topFoot-pane path").nth(i).bounding_box()
        if candidate and candidate["width"] > 50:
            box = candidate
    assert shape.count() and box is not None
    # a corner of Tokyo's square footprint, away from the centre dot and labels
    page.mouse.click(box["x"] + 12, box["y"] + box["height"] - 12)
    assert _card_title(hand_page) == "#1 Tokyo–Yokohama"


def test_search_by_another_spelling_opens_the_card_and_highlights(hand_page: Loaded) -> None:
    page = hand_page.page
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    search = page.locator("#search")
    search.fill("Tokio")  # GeoNames' German and Spanish name of Tokyo
    options = page.locator("#suggestions li").all_text_contents()
    assert options and options[0].startswith("Tokyo") and "#1 Tokyo–Yokohama" in options[0]
    search.press("Enter")
    assert _card_title(hand_page) == "#1 Tokyo–Yokohama"
    assert hand_page.js("document.querySelectorAll('path.footprint-highlight').length") == 1
    top = hand_page.js("document.getElementById('map').getBoundingClientRect().top")
    assert 0 <= top < 400  # the map was brought into view
    assert hand_page.js("document.activeElement.id") == "card-title"
    search.fill("tōkyō")  # accents folded
    assert page.locator("#suggestions li").first.text_content().startswith("Tokyo")  # type: ignore[union-attr]
    search.fill("Suva &")
    search.press("ArrowDown")
    search.press("Enter")
    assert _card_title(hand_page) == "#3 Suva & Labasa"
    search.fill("zzqx")
    assert page.locator("#suggestions").is_hidden()
    assert "No cluster or place matches" in (page.locator("#search-status").text_content() or "")
    assert hand_page.errors == [] and hand_page.blocked == []


def test_keyboard_only_path_to_a_card(browser: Any, hand_path: Path) -> None:
    loaded = Loaded(browser, hand_path)
    try:
        page = loaded.page
        presses = 0
        while presses < 40:
            page.keyboard.press("Tab")
            presses += 1
            if loaded.js("document.activeElement.matches('#ranking-table button.pick')"):
                break
        assert loaded.js("document.activeElement.textContent") == "Tokyo–Yokohama"
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        assert _card_title(loaded) == f"#2 {INJECTION}"
        assert loaded.js("document.activeElement.id") == "card-title"  # focus went to the card
        page.keyboard.press("Tab")
        assert loaded.js("document.activeElement.matches('#card .close')")
        # the search too: type, choose with the arrow keys, open with Enter
        page.locator("#search").focus()
        page.keyboard.type("yokoham")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        assert _card_title(loaded) == "#1 Tokyo–Yokohama"
        # every scroll area takes focus, so a keyboard can scroll it
        unfocusable = loaded.js(
            "Array.from(document.querySelectorAll('.table-wrap')).filter(d => d.tabIndex < 0)"
            ".length"
        )
        assert unfocusable == 0
        assert loaded.errors == [] and loaded.blocked == []
    finally:
        page.close()


def test_axe_core_finds_nothing_serious(browser: Any, hand_path: Path) -> None:
    loaded = Loaded(browser, hand_path)
    try:
        assert loaded.serious_axe_findings() == []
        loaded.page.locator("#ranking-table tbody tr[data-index='0'] button.pick").click()
        loaded.page.locator("#search").fill("tok")
        assert (
            loaded.js(
                "axe.run().then(r => r.violations.filter(v => "
                "['serious', 'critical'].includes(v.impact)).map(v => v.id))"
            )
            == []
        )
        assert loaded.blocked == []
    finally:
        loaded.page.close()


def test_phone_width_has_no_horizontal_scroll(browser: Any, hand_path: Path) -> None:
    loaded = Loaded(browser, hand_path, width=390, height=844)
    try:
        width = "document.documentElement.scrollWidth"
        assert loaded.js(width) <= 390
        loaded.page.locator("#show-all").check()
        loaded.page.locator("#ranking-table tbody tr[data-index='1'] button.pick").click()
        assert _card_title(loaded) == f"#2 {INJECTION}"
        assert loaded.js(width) <= 390
        assert loaded.page.locator("#synthetic-banner").is_visible()
        assert loaded.serious_axe_findings() == []
    finally:
        loaded.page.close()


def test_print_shows_the_whole_ranking_and_the_synthetic_mark(
    browser: Any, hand_path: Path
) -> None:
    loaded = Loaded(browser, hand_path)
    try:
        page = loaded.page
        page.emulate_media(media="print")
        clipped = loaded.js(
            "Array.from(document.querySelectorAll('.table-wrap'))"
            ".filter(d => d.scrollHeight > d.clientHeight + 1).length"
        )
        assert clipped == 0
        assert loaded.js(
            "getComputedStyle(document.getElementById('synthetic-banner')).position"
        ) == (
            "fixed"  # repeated on every printed page
        )
        assert page.locator("#search").is_hidden()
        rows = loaded.js(
            "document.querySelectorAll('#ranking-table tbody tr:not([hidden])').length"
        )
        assert rows == 3  # the whole top 3
    finally:
        page.close()


@pytest.fixture(scope="module")
def demo_page(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from innoclusters.demo import run_demo

    folder = tmp_path_factory.mktemp("demo_report")
    result = run_demo(folder, scale=0.005, seed=3, quiet=True)
    path = write_report(result, folder / "report_test.html")
    loaded = Loaded(browser, path)
    yield result, loaded, folder
    loaded.page.close()


def test_demo_top_labels_drawn_without_overlap(demo_page: Any) -> None:
    result, loaded, _ = demo_page
    clusters = result.clusters
    top = min(result.settings.top, len(clusters))
    assert len(clusters) > 20
    assert loaded.errors == [] and loaded.blocked == []
    assert _paths(loaded, "topDots") == top
    boxes = loaded.js(_LABEL_BOXES)
    assert f"1{clusters['name'].iloc[0]}" in [b[4] for b in boxes]  # #1 labelled at world zoom
    cluster_boxes = [b for b in boxes if "cluster-label" in b[5]]
    assert len(cluster_boxes) >= 10
    _assert_no_overlap(boxes)
    # each label reads "<rank><name>" of a top cluster
    names = {f"{r}{n}" for r, n in zip(clusters["rank"], clusters["name"], strict=True)}
    assert all(b[4] in names for b in cluster_boxes)
    # zoomed in on Europe: more labels, still none overlapping
    loaded.page.locator("#map").hover()
    loaded.page.mouse.wheel(0, -600)
    loaded.page.wait_for_timeout(600)
    _assert_no_overlap(loaded.js(_LABEL_BOXES))


def test_demo_search_by_german_spelling(demo_page: Any) -> None:
    result, loaded, _ = demo_page
    clusters = result.clusters
    munich = clusters[clusters["name"].str.contains("Munich")]
    assert len(munich) == 1
    title = f"#{munich['rank'].iloc[0]} {munich['name'].iloc[0]}"
    for spelling in ("München", "Muenchen", "munich"):
        loaded.page.locator("#search").fill(spelling)
        loaded.page.locator("#search").press("Enter")
        assert _card_title(loaded) == title, spelling
        assert loaded.js("document.querySelectorAll('path.footprint-highlight').length") == 1
    assert loaded.errors == [] and loaded.blocked == []


def test_demo_links_csv_agrees_with_the_locations(demo_page: Any) -> None:
    result, loaded, folder = demo_page
    links = pd.read_csv(write_links(result, folder / "links.csv"), comment="#")
    assert len(links) > 5
    eps = result.settings.eps_km
    loc = result.locations
    members = loc[loc["metric_cluster"] >= 0]

    def xyz(frame: pd.DataFrame) -> np.ndarray:
        la, lo = np.radians(frame["lat"].to_numpy()), np.radians(frame["lon"].to_numpy())
        return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))

    for link in links.itertuples(index=False):
        a = members[(members["metric"] == link.metric_a)]
        a = a[a["metric_cluster"] == link.metric_cluster_a]
        b = members[(members["metric"] == link.metric_b)]
        b = b[b["metric_cluster"] == link.metric_cluster_b]
        assert set(a["cluster_id"]) == set(b["cluster_id"]) == {link.cluster_id}
        chord = np.linalg.norm(xyz(a)[:, None, :] - xyz(b)[None, :, :], axis=2)
        km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord / 2, 1.0))
        assert link.distance_km <= eps + 1e-3
        assert link.distance_km == pytest.approx(km.min(), abs=1e-3)  # no closer pair
        i, j = np.unravel_index(np.argmin(km), km.shape)
        stated = (
            2
            * EARTH_RADIUS_KM
            * np.arcsin(
                np.linalg.norm(
                    xyz(pd.DataFrame({"lat": [link.lat_a], "lon": [link.lon_a]}))
                    - xyz(pd.DataFrame({"lat": [link.lat_b], "lon": [link.lon_b]}))
                )
                / 2
            )
        )
        assert stated == pytest.approx(km[i, j], abs=1e-6)
    # the card says the same
    first = links.iloc[0]
    pos = int(np.flatnonzero(result.clusters["cluster_id"].to_numpy() == first["cluster_id"])[0])
    loaded.js(f"window.innoclusters.select({pos})")
    text = loaded.page.locator("#card .why").text_content() or ""
    assert f"{first['metric_a']} #{first['metric_cluster_a']} + {first['metric_b']}" in text
    assert f"{first['distance_km']:.1f} km apart" in text


def test_demo_axe_and_no_request_after_use(demo_page: Any, tmp_path: Path) -> None:
    result, loaded, _ = demo_page
    loaded.page.locator("#layer-noise").check()
    loaded.page.locator("#layer-emerging").check()
    loaded.page.locator("#ranking-table tbody tr[data-index='2'] button.pick").click()
    third = result.clusters.iloc[2]
    assert _card_title(loaded) == f"#{third['rank']} {third['name']}"
    assert loaded.serious_axe_findings() == []
    loaded.page.screenshot(path=str(tmp_path / "demo_report.png"))
    assert loaded.errors == [] and loaded.blocked == []


def test_entrants_and_exits_are_tagged_on_the_map(browser: Any, tmp_path: Path) -> None:
    result = hand_result()
    # previous ranks: Tokyo stays 1st, the injection is new, Suva was 5th, Apia was 2nd
    result.clusters["previous_rank"] = pd.array([1, None, 5, 2], dtype="Int64")
    loaded = Loaded(browser, write_report(result, tmp_path / "report.html"))
    try:
        tags = loaded.js(
            "Array.from(document.querySelectorAll('.cluster-label .tag'))"
            ".map(t => [t.parentNode.dataset.index, t.className, t.textContent])"
        )
        assert tags == [["1", "tag entrant", "new"], ["2", "tag entrant", "new"]]
        loaded.page.locator("#layer-emerging").check()
        exits = loaded.js(
            "Array.from(document.querySelectorAll('.cluster-label:not([hidden]) .tag.exit'))"
            ".map(t => [t.parentNode.dataset.index, t.textContent])"
        )
        assert exits == [["3", "out of the top 3"]]
        _assert_no_overlap(loaded.js(_LABEL_BOXES))
        assert "entrants to the top 3 are tagged" in (
            loaded.page.locator("#map-section").text_content() or ""
        )
        assert loaded.errors == [] and loaded.blocked == []
    finally:
        loaded.page.close()
