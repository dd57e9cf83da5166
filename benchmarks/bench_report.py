"""Benchmark: size of ``report.html`` and its time to interactive in headless Chromium.

Run by hand (the figures go in the README's report section)::

    .venv/bin/python -m benchmarks.bench_report --out /tmp/bench-report

Two reports are measured:

* the **demo** report (``innoclusters demo`` at its default scale): target under 2 MB and
  interactive in under 1 s;
* a report of **2,000 clusters** (made here around 2,000 real gazetteer towns, each with a
  small footprint, a few locations of three metrics and a merge): target interactive in
  under 3 s.

"Interactive" is the time from the start of navigation until the page's own script has
drawn the map, labels, table and charts (``document.body.dataset.ready``), measured by the
page itself (``performance.now()``), median of 5 loads in a fresh page each. The baseline,
loaded in the same browser in the same run, is a page of the same size whose only script
parses the same data block and does nothing else: report / baseline says what drawing costs
on top of reading the file. Network requests are aborted and counted (there must be none).

Also shown: ``render_report`` time in Python (the gazetteer lookups included), and a
screenshot of the demo report with a card open (``--shot``, for docs/report.png).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas
import numpy as np
import pandas as pd
import shapely

from innoclusters import load_gazetteer
from innoclusters.config import Settings
from innoclusters.publish.report import render_report
from innoclusters.result import CLUSTER_COLUMNS, RunResult

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
_DATA = re.compile(r'<script type="application/json" id="inno-data">(.*?)</script>', re.S)


def many_clusters(n: int = 2000, *, seed: int = 0) -> RunResult:
    """A run of ``n`` clusters around real towns: every part of the report has work."""
    rng = np.random.default_rng(seed)
    gaz = load_gazetteer()
    towns = gaz[(gaz["population"] > 30_000) & (gaz["parent"] < 0)]
    towns = towns.sample(n=n, random_state=seed).reset_index(drop=True)
    metrics = ("patents", "publications", "vc")
    counts = {m: rng.pareto(1.2, n) * 50 + 5 for m in metrics}
    totals = {m: float(counts[m].sum() * 1.25) for m in metrics}
    frame = pd.DataFrame(
        {
            "cluster_id": [f"C{i:05d}" for i in range(n)],
            "name": towns["name"].to_numpy(),
            "economies": towns["country"].to_numpy(),
            **{m: counts[m] for m in metrics},
            **{f"{m}_share": 100 * counts[m] / totals[m] for m in metrics},
            "lat": towns["lat"].to_numpy(),
            "lon": towns["lon"].to_numpy(),
        }
    )
    frame["score"] = frame[[f"{m}_share" for m in metrics]].sum(axis=1)
    frame = frame.sort_values("score", ascending=False, kind="mergesort").reset_index(drop=True)
    frame["rank"] = np.arange(1, n + 1)
    frame["population"] = towns["population"].to_numpy(dtype=float)[:n] * 3
    frame["intensity"] = frame["score"] / (frame["population"] / 1e6)
    frame["intensity_rank"] = pd.array(
        frame["intensity"].rank(ascending=False, method="first").astype(int), dtype="Int64"
    )
    frame["economy_names"] = frame["economies"]
    geometry = [
        shapely.Point(lo, la).buffer(0.12, quad_segs=4)
        for la, lo in zip(frame["lat"], frame["lon"], strict=True)
    ]
    clusters = geopandas.GeoDataFrame(
        frame[[*CLUSTER_COLUMNS, "economy_names"]], geometry=geometry, crs="EPSG:4326"
    )
    rows = []
    for i, (cid, la, lo) in enumerate(
        zip(clusters["cluster_id"], clusters["lat"], clusters["lon"], strict=True)
    ):
        for k, m in enumerate(metrics):
            for j in range(3):
                rows.append(
                    (
                        m,
                        round(la + 0.02 * j, 2),
                        round(lo + 0.02 * k, 2),
                        1.0 + j,
                        2,
                        "",
                        "",
                        i,
                        True,
                        cid,
                    )
                )
    locations = pd.DataFrame(
        rows,
        columns=[
            "metric",
            "lat",
            "lon",
            "weight",
            "records",
            "country",
            "city",
            "metric_cluster",
            "core",
            "cluster_id",
        ],
    )
    noise = pd.DataFrame(
        {
            "metric": "patents",
            "lat": rng.uniform(-50, 65, 20_000).round(2),
            "lon": rng.uniform(-180, 180, 20_000).round(2),
            "weight": 0.5,
            "records": 1,
            "country": "",
            "city": "",
            "metric_cluster": -1,
            "core": False,
            "cluster_id": None,
        }
    )
    manifest = {
        "synthetic": True,
        "notice": "SYNTHETIC DATA: a benchmark of 2,000 invented clusters.",
        "settings": Settings().to_dict(),
        "windows": {m: {"window": [2019, 2023]} for m in metrics},
        "versions": {},
    }
    return RunResult(
        settings=Settings(),
        metrics=metrics,
        clusters=clusters,
        locations=pd.concat([locations, noise], ignore_index=True),
        totals=totals,
        rejects=pd.DataFrame(columns=["file", "line", "metric", "reason"]),
        manifest=manifest,
    )


def baseline_page(report: str) -> str:
    """A page of the same size whose only script parses the same data block."""
    match = _DATA.search(report)
    assert match is not None
    pad = "x" * max(0, len(report) - len(match.group(0)) - 400)
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>baseline</title>"
        f"</head><body><!-- {pad} -->{match.group(0)}<script>"
        "JSON.parse(document.getElementById('inno-data').textContent);"
        "document.body.dataset.readyMs = String(performance.now());"
        "document.body.dataset.ready = '1';</script></body></html>"
    )


def time_to_ready(browser: Any, path: Path, loads: int = 5) -> tuple[float, int]:
    """Median ms from navigation start to ``dataset.ready``, and requests made (aborted)."""
    times = []
    requests = 0
    for _ in range(loads):
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        blocked: list[str] = []

        def route(r: Any, blocked: list[str] = blocked) -> None:
            if r.request.url.startswith(("file:", "data:")):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(path.as_uri())
        page.wait_for_function("document.body.dataset.ready", timeout=120_000)
        times.append(float(page.evaluate("Number(document.body.dataset.readyMs)")))
        requests += len(blocked)
        page.close()
    return statistics.median(times), requests


def main(argv: list[str] | None = None) -> None:
    """Measure and print the figures."""
    from playwright.sync_api import sync_playwright

    from innoclusters.demo import run_demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=tempfile.mkdtemp(prefix="bench-report-"))
    parser.add_argument("--shot", default=None, help="save a screenshot of the demo report")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    demo = run_demo(out / "demo", quiet=True)
    big = many_clusters(2000)
    pages = {}
    for label, result in (("demo", demo), ("2,000 clusters", big)):
        t = time.perf_counter()
        text = render_report(result)
        seconds = time.perf_counter() - t
        path = out / f"report-{len(result.clusters)}.html"
        path.write_text(text, encoding="utf-8")
        base = out / f"baseline-{len(result.clusters)}.html"
        base.write_text(baseline_page(text), encoding="utf-8")
        pages[label] = (result, path, base, seconds)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        print("report              clusters   size MB   render s   ready ms  baseline ms  ratio")
        for label, (result, path, base, seconds) in pages.items():
            ready, requests = time_to_ready(browser, path)
            floor, _ = time_to_ready(browser, base)
            size = path.stat().st_size / 1e6
            print(
                f"{label:18s} {len(result.clusters):9,d} {size:9.2f} {seconds:10.1f} "
                f"{ready:10.0f} {floor:12.0f} {ready / floor:6.1f}"
                + (f"  ({requests} requests!)" if requests else "")
            )
        if args.shot:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
            )
            page.goto(pages["demo"][1].as_uri())
            page.wait_for_function("document.body.dataset.ready")
            page.evaluate("window.innoclusters.select(0)")
            page.wait_for_timeout(300)
            page.screenshot(path=args.shot)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
