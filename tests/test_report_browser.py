"""report.html in a real browser: Debian's Chromium, headless, with the network blocked.

The test fails (it does not skip) when Chromium is missing: ``.ci/run`` installs it, and
``apt-get install chromium`` does on a developer's machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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

    def __init__(self, browser: Any, path: Path) -> None:
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
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


def _check_page(loaded: Loaded, *, n_clusters: int, shapes: int, top: int, shot: Path) -> None:
    page = loaded.page
    assert loaded.js("document.body.dataset.ready") == "1"
    assert loaded.blocked == []
    assert loaded.errors == []
    # the map: one footprint shape per cluster (second choropleth trace; the first is countries)
    counts = loaded.js(
        "Array.from(document.querySelectorAll('#map g.trace.choropleth'))"
        ".map(g => g.querySelectorAll('path.choroplethlocation').length)"
    )
    assert counts[1] == shapes
    assert counts[0] == 177  # Natural Earth countries, drawn from the embedded layer
    centres = loaded.js(
        "document.querySelectorAll('#map g.trace.scattergeo')[1]"
        ".querySelectorAll('path.point').length"
    )
    assert centres == n_clusters
    # the ranking table: top rows visible, every cluster present
    assert loaded.js("document.querySelectorAll('#ranking-table tbody tr').length") == n_clusters
    visible = "document.querySelectorAll('#ranking-table tbody tr:not([hidden])').length"
    assert loaded.js(visible) == top
    # charts were drawn: one per metric plus economies
    assert loaded.js("document.querySelectorAll('#top10 .chart .main-svg').length") >= 1
    # the map's drawing stays beside the card, not over it
    svg = page.locator("#map .main-svg").first.bounding_box()
    card = page.locator("#card").bounding_box()
    assert svg is not None and card is not None and svg["x"] + svg["width"] <= card["x"] + 1
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000


def _names_in_table(loaded: Loaded) -> list[str]:
    return loaded.js(
        "Array.from(document.querySelectorAll('#ranking-table tbody tr:not([hidden])'))"
        ".map(r => r.cells[2].textContent)"
    )


@pytest.fixture(scope="module")
def hand_page(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    folder = tmp_path_factory.mktemp("hand_report")
    path = write_report(hand_result(), folder / "report.html")
    loaded = Loaded(browser, path)
    yield loaded
    loaded.page.close()


def test_hand_report_loads_offline_without_errors(hand_page: Loaded, tmp_path: Path) -> None:
    _check_page(hand_page, n_clusters=4, shapes=4, top=3, shot=tmp_path / "hand_report.png")


def test_injected_name_stays_text(hand_page: Loaded) -> None:
    page = hand_page.page
    cell = page.locator("#ranking-table tbody tr[data-index='1'] td").nth(2)
    assert cell.text_content() == INJECTION
    assert hand_page.js("document.querySelectorAll('body script').length") == 3
    assert hand_page.js("typeof window.__injected") == "undefined"
    cell.click()
    card = page.locator("#card")
    assert card.locator("h3").text_content() == f"#2 {INJECTION}"
    profile = card.locator(".profiles td").all_text_contents()
    assert INJECTION in profile and "Acme & Sons" in profile
    assert hand_page.errors == []


def test_clicking_a_row_opens_its_card(hand_page: Loaded) -> None:
    page = hand_page.page
    page.locator("#ranking-table tbody tr[data-index='0']").click()
    card = page.locator("#card")
    assert card.locator("h3").is_visible()
    assert card.locator("h3").text_content() == "#1 Tokyo–Yokohama"
    text = card.text_content() or ""
    assert "37,000,000" in text and "JP (Japan)" in text
    assert "Canon Inc." in text  # profile panel from result.extras["profiles"]
    assert "12.5" in text  # its share, a fraction in the data, shown in percent
    assert page.locator("#ranking-table tbody tr.selected").get_attribute("data-index") == "0"
    page.locator("#card .close").click()
    assert card.locator("h3").count() == 0 and card.locator("#card-hint").is_visible()
    assert page.locator("#ranking-table tbody tr.selected").count() == 0


def test_sorting_and_searching_the_table(hand_page: Loaded) -> None:
    page = hand_page.page
    page.locator("#show-all").check()
    before = _names_in_table(hand_page)
    assert len(before) == 4
    header = page.locator("#ranking-table th[data-col='publications']")
    header.click()
    ascending = _names_in_table(hand_page)
    assert ascending == [before[3], before[2], before[1], before[0]]  # 10 < 30 < 90.5 < 300.25
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert _names_in_table(hand_page) == [before[0], before[1], before[2], before[3]]
    page.locator("#ranking-table th[data-col='intensity']").click()
    # ascending intensity: Tokyo (11.6) before Suva (87.5); unknown intensity sorts last
    assert _names_in_table(hand_page)[:2] == [before[0], before[2]]
    page.locator("#table-search").fill("suva")
    assert _names_in_table(hand_page) == ["Suva & Labasa"]
    page.locator("#table-search").fill("")
    page.locator("#show-all").uncheck()
    assert len(_names_in_table(hand_page)) == 3


def test_clicking_a_shape_on_the_map_opens_its_card(hand_page: Loaded) -> None:
    page = hand_page.page
    page.locator("#ranking-table tbody tr[data-index='0']").click()  # zooms onto Tokyo
    page.wait_for_timeout(300)
    page.locator("#card .close").click()
    shape = page.locator("#map g.trace.choropleth").nth(1).locator("path.choroplethlocation")
    box = shape.first.bounding_box()
    assert box is not None and box["width"] > 5
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    assert page.locator("#card h3").text_content() == "#1 Tokyo–Yokohama"


@pytest.fixture(scope="module")
def demo_page(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from innoclusters.demo import run_demo

    folder = tmp_path_factory.mktemp("demo_report")
    result = run_demo(folder, scale=0.005, seed=3, quiet=True)
    path = write_report(result, folder / "report_test.html")
    loaded = Loaded(browser, path)
    yield result, loaded
    loaded.page.close()


def test_demo_report_in_the_browser(demo_page: Any, tmp_path: Path) -> None:
    result, loaded = demo_page
    clusters = result.clusters
    n = len(clusters)
    assert n > 20
    shapes = int(clusters.geometry.notna().sum() - clusters.geometry.is_empty.sum())
    top = min(result.settings.top, n)
    _check_page(loaded, n_clusters=n, shapes=shapes, top=top, shot=tmp_path / "demo_report.png")
    assert loaded.page.locator("#synthetic-banner").is_visible()
    # click the third row: its card names that cluster
    third = clusters.iloc[2]
    loaded.page.locator("#ranking-table tbody tr[data-index='2']").click()
    assert loaded.page.locator("#card h3").text_content() == f"#{third['rank']} {third['name']}"
    # sort by score ascending: the last cluster of the top list comes first
    loaded.page.locator("#ranking-table th[data-col='score']").click()
    first = _names_in_table(loaded)[0]
    assert first == clusters.iloc[:top].sort_values("score", kind="mergesort")["name"].iloc[0]
    assert loaded.errors == [] and loaded.blocked == []
