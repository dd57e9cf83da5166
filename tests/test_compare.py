"""Comparisons: matching across runs, entrants and exits, growth, method comparison, CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from innoclusters.compare import (
    RunView,
    compare_runs,
    emerging_clusters,
    match_clusters,
    method_comparison,
    ordinal,
    read_run,
    view_of,
)
from innoclusters.config import Settings
from innoclusters.errors import InputError, SettingsError
from innoclusters.pipeline import run
from innoclusters.publish import write_outputs
from innoclusters.publish.comparison import write_comparison
from innoclusters.publish.tables import SYNTHETIC_NOTICE
from innoclusters.uncertainty import recorded_uncertainty
from tests.test_cli import cli
from tests.test_report_browser import CHROMIUM_ARGS, Loaded, chromium_path


def _locs(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    """Locations of one metric: (cluster_id, lat, lon, activity)."""
    frame = pd.DataFrame(rows, columns=["cluster_id", "lat", "lon", "activity"])
    frame.insert(0, "metric", "patents")
    frame["cluster_id"] = frame["cluster_id"].astype("object").where(frame["cluster_id"] != "")
    return frame


PREVIOUS = _locs(
    [
        ("P", 0, 0, 4),
        ("P", 0, 1, 3),
        ("P", 0, 2, 3),
        ("Q", 5, 0, 4),
        ("R", 5, 1, 3),
        ("S", 9, 9, 2),
        ("U", 3, 3, 5),
        ("Y", 4, 4, 1),
        ("Y", 4, 5, 9),
        ("", 7, 7, 1),  # noise
    ]
)
CURRENT = _locs(
    [
        ("P1", 0, 0, 4),
        ("P1", 0, 1, 3),
        ("P2", 0, 2, 3),
        ("P2", 0, 3, 2),
        ("QR", 5, 0, 4),
        ("QR", 5, 1, 3),
        ("T", 8, 8, 5),
        ("U2", 3, 3, 6),
        ("U2", 3, 4, 1),
        ("W", 7, 7, 1),
        ("W", 2, 2, 9),
        ("X", 4, 4, 1),
        ("X", 4, 6, 9),
        ("", 9, 9, 2),  # S's place is noise now
    ]
)


def test_matching_split_merge_appear_vanish() -> None:
    current, previous = match_clusters(
        CURRENT,
        PREVIOUS,
        current_rank={"P1": 1, "P2": 2, "QR": 3, "T": 4, "U2": 5, "W": 6, "X": 7},
        previous_rank={"P": 1, "Q": 2, "R": 3, "S": 4, "U": 5, "Y": 6},
    )
    cur = current.set_index("cluster_id")
    assert list(cur.index) == ["P1", "P2", "QR", "T", "U2", "W", "X"]
    # P split into P1 and P2.
    assert cur.loc["P1", "previous_cluster_id"] == "P" and cur.loc["P1", "change"] == "split"
    assert cur.loc["P1", "shared"] == 1.0 and cur.loc["P1", "split_with"] == "P2"
    assert cur.loc["P2", "previous_cluster_id"] == "P" and cur.loc["P2", "change"] == "split"
    assert cur.loc["P2", "shared"] == pytest.approx(3 / 5) and cur.loc["P2", "split_with"] == "P1"
    # Q and R merged into QR; Q holds most of QR's activity.
    assert cur.loc["QR", "previous_cluster_id"] == "Q" and cur.loc["QR", "change"] == "merged"
    assert cur.loc["QR", "merged_from"] == "Q;R"
    assert cur.loc["QR", "shared"] == pytest.approx(4 / 7)
    # T appears; W only shares a former noise location; X shares 10 % with Y (< 25 %).
    for new in ("T", "W", "X"):
        assert cur.loc[new, "change"] == "new" and pd.isna(cur.loc[new, "previous_cluster_id"])
    assert cur.loc["U2", "change"] == "continuing"
    assert cur.loc["U2", "shared"] == pytest.approx(6 / 7)

    prev = previous.set_index("previous_cluster_id")
    assert prev["fate"].to_dict() == {
        "P": "split",
        "Q": "continues",
        "R": "merged",
        "S": "vanished",
        "U": "continues",
        "Y": "vanished",
    }
    assert prev.loc["P", "successor_cluster_id"] == "P1"
    assert prev.loc["P", "shared"] == pytest.approx(0.7)
    assert prev.loc["P", "continued_by"] == "P1;P2"
    assert prev.loc["R", "successor_cluster_id"] == "QR" and prev.loc["R", "shared"] == 1.0
    assert pd.isna(prev.loc["S", "successor_cluster_id"])


def test_matching_with_a_lower_threshold_links_the_small_overlap() -> None:
    current, previous = match_clusters(CURRENT, PREVIOUS, min_shared=0.05)
    cur = current.set_index("cluster_id")
    assert cur.loc["X", "previous_cluster_id"] == "Y" and cur.loc["X", "change"] == "continuing"
    assert previous.set_index("previous_cluster_id").loc["Y", "fate"] == "continues"


def _view(label: str, locations: pd.DataFrame) -> RunView:
    """A run of hand-made locations; clusters ranked by their activity."""
    located = locations.assign(
        weight=locations["activity"],
        metric_cluster=locations["cluster_id"].notna().astype(int) - 1,
    )
    totals = located.groupby("cluster_id")["activity"].sum().sort_values(ascending=False)
    clusters = pd.DataFrame(
        {
            "rank": range(1, len(totals) + 1),
            "cluster_id": totals.index,
            "name": totals.index,
            "economies": "",
        }
    )
    manifest = {"settings": {"eps_km": 13.0, "top": 1}, "metrics": ["patents"]}
    return RunView(label=label, clusters=clusters, locations=located, manifest=manifest)


def test_a_cluster_that_grew_past_the_quarter_continues_its_previous_cluster() -> None:
    # The previous top 1, A, lies wholly inside B, which grew fivefold: A holds 20 % of B's
    # activity (below a quarter), yet B is A's successor. B continues A; A did not "merge"
    # into B (no other cluster became B's predecessor), and the top 1 has no entrant and no
    # exit (it used to have one entrant and no exit).
    previous = _locs([("A", 0, 0, 2), ("A", 0, 1, 2), ("Z", 9, 9, 1)])
    current = _locs(
        [("B", 0, 0, 2), ("B", 0, 1, 2), ("B", 0, 2, 8), ("B", 0, 3, 8), ("Z2", 9, 9, 1)]
    )
    links, fates = match_clusters(
        current, previous, current_rank={"B": 1, "Z2": 2}, previous_rank={"A": 1, "Z": 2}
    )
    b = links.set_index("cluster_id").loc["B"]
    assert b["previous_cluster_id"] == "A" and b["change"] == "continuing"
    assert b["shared"] == pytest.approx(0.2) and b["merged_from"] == ""
    a = fates.set_index("previous_cluster_id").loc["A"]
    assert a["successor_cluster_id"] == "B" and a["fate"] == "continues"
    assert a["shared"] == 1.0 and a["continued_by"] == "B"
    comp = compare_runs(_view("now", current), _view("before", previous), top=1)
    assert comp.entrants.empty and comp.exits.empty
    assert comp.clusters.set_index("cluster_id").loc["B", "rank_change"] == 0
    # Two previous clusters inside one grown cluster, each holding 10 % of it: the better
    # ranked is the predecessor, the other merged into it.
    previous = _locs([("A", 0, 0, 5), ("C", 0, 1, 5), ("Z", 9, 9, 9)])
    links, fates = match_clusters(current, previous, previous_rank={"C": 1, "A": 2, "Z": 3})
    b = links.set_index("cluster_id").loc["B"]
    assert b["previous_cluster_id"] == "C" and b["change"] == "merged"
    assert b["merged_from"] == "C;A" and b["shared"] == pytest.approx(0.1)
    assert fates.set_index("previous_cluster_id")["fate"].to_dict() == {
        "A": "merged",
        "C": "continues",
        "Z": "continues",
    }


def test_ordinals() -> None:
    got = [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112)]
    expected = "1st 2nd 3rd 4th 11th 12th 13th 21st 22nd 23rd 101st 111th 112th"
    assert got == expected.split()


# --- two editions of a constructed world ------------------------------------------------

# city -> (country, lat, lon, {year: documents}); one address per document. The places are
# in the open Pacific, far from any gazetteer place, so clusters keep the names of the data.
CITIES: dict[str, tuple[str, float, float, dict[int, int]]] = {
    "Alpha": ("JP", 10.0, -170.0, dict.fromkeys(range(2019, 2025), 11)),
    "Beta": ("US", 10.0, -160.0, {2019: 30, 2020: 5, 2021: 5, 2022: 5, 2023: 5}),
    "Gamma": ("CN", 10.0, -150.0, {2019: 4, 2020: 4, 2021: 4, 2022: 4, 2023: 4, 2024: 30}),
    "Delta": ("FR", 10.0, -140.0, {2019: 5}),
    "Epsilon": ("KR", 10.0, -130.0, {2024: 4}),
    # Sigma-West and Sigma-East are 17 km apart, linked in 2019 only by Sigma-Bridge.
    "Sigma-West": ("DE", -40.0, -120.0, dict.fromkeys(range(2019, 2025), 3)),
    "Sigma-Bridge": ("DE", -40.0, -119.9, {2019: 5}),
    "Sigma-East": ("DE", -40.0, -119.8, dict.fromkeys(range(2019, 2025), 2)),
}
SETTINGS = Settings(min_weight={"patents": 3.0}, top=2)


def _write_world(folder: Path) -> dict[str, list[Path]]:
    rows = []
    for city, (cc, lat, lon, years) in CITIES.items():
        for year, n in years.items():
            rows += [(f"{city}-{year}-{i}", year, lat, lon, cc, city) for i in range(n)]
    frame = pd.DataFrame(rows, columns=["doc_id", "year", "lat", "lon", "country", "city"])
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "patents.csv", index=False)
    return {"patents": [folder / "patents.csv"]}


@pytest.fixture
def editions(tmp_path: Path) -> tuple[Path, Path, dict[str, list[Path]]]:
    sources = _write_world(tmp_path / "in")
    write_outputs(run(sources, SETTINGS.replace(edition=2024)), tmp_path / "e2024")
    write_outputs(run(sources, SETTINGS.replace(edition=2025)), tmp_path / "e2025")
    return tmp_path / "e2024", tmp_path / "e2025", sources


def test_two_editions_entrant_exit_split_rank_change(
    editions: tuple[Path, Path, dict[str, list[Path]]],
) -> None:
    e2024, e2025, _ = editions
    before, now = read_run(e2024), read_run(e2025)
    assert before.label == "2024" and now.label == "2025"
    # 2024 (2019-2023): Alpha 55, Beta 50, Sigma 30, Gamma 20, Delta 5.
    sigma = "Sigma-West–Sigma-East–Sigma-Bridge"
    assert list(before.clusters["name"]) == ["Alpha", "Beta", sigma, "Gamma", "Delta"]
    # 2025 (2020-2024): Alpha 55, Gamma 46, Beta 20, Sigma-West 15, Sigma-East 10, Epsilon 4.
    assert list(now.clusters["name"]) == [
        "Alpha",
        "Gamma",
        "Beta",
        "Sigma-West",
        "Sigma-East",
        "Epsilon",
    ]
    comp = compare_runs(now, before)
    table = comp.clusters.set_index("name")
    assert table["previous_rank"].dropna().to_dict() == {
        "Alpha": 1,
        "Gamma": 4,
        "Beta": 2,
        "Sigma-West": 3,
        "Sigma-East": 3,
    }
    assert pd.isna(table.loc["Epsilon", "previous_rank"])
    assert table.loc["Sigma-East", "previous_name"] == sigma
    assert int(table.loc["Sigma-East", "rank_change"]) == -2
    assert int(table.loc["Gamma", "rank_change"]) == 2
    assert int(table.loc["Beta", "rank_change"]) == -1
    assert int(table.loc["Alpha", "rank_change"]) == 0
    assert pd.isna(table.loc["Epsilon", "rank_change"])
    assert table["change"].to_dict() == {
        "Alpha": "continuing",
        "Gamma": "continuing",
        "Beta": "continuing",
        "Sigma-West": "split",
        "Sigma-East": "split",
        "Epsilon": "new",
    }
    fates = comp.previous.set_index("previous_name")["fate"].to_dict()
    assert fates == {
        "Alpha": "continues",
        "Beta": "continues",
        sigma: "split",
        "Gamma": "continues",
        "Delta": "vanished",
    }
    # Top 2: Gamma enters, Beta drops out.
    assert list(comp.entrants["name"]) == ["Gamma"]
    assert comp.entrants["text"].iloc[0] == "Gamma (2nd) enters the top 2, up from 4th in 2024."
    assert list(comp.exits["previous_name"]) == ["Beta"]
    assert comp.exits["text"].iloc[0] == "Beta (2nd in 2024) drops out of the top 2; now 3rd."
    assert comp.economies.to_dict("list") == {
        "economy": ["JP", "CN", "US"],
        "clusters": [1, 1, 0],
        "previous_clusters": [1, 0, 1],
        "change": [0, 1, -1],
    }
    assert comp.movers.empty  # Alpha is the only cluster in the top 2 both times.
    growth = comp.growth.set_index("name")
    assert growth.loc["Gamma", ["before", "now"]].tolist() == [20.0, 46.0]
    assert growth.loc["Gamma", "growth_pct"] == pytest.approx(130.0)
    assert growth.loc["Beta", "growth_pct"] == pytest.approx(-60.0)
    assert growth.loc["Alpha", "growth_pct"] == pytest.approx(0.0)
    # The bridge is gone, so each half of Sigma is measured on its own ground.
    assert growth.loc["Sigma-East", ["before", "now"]].tolist() == [10.0, 10.0]
    assert growth.loc["Epsilon", "before"] == 0.0 and pd.isna(growth.loc["Epsilon", "growth_pct"])
    top = comp.top_by_metric
    assert list(top.loc[top["run"] == "previous", "name"]) == list(before.clusters["name"])
    assert comp.summary()[:2] == [
        "1 cluster enters the top 2: Gamma (2nd).",
        "1 cluster drops out of the top 2: Beta.",
    ]


def test_a_split_piece_is_flagged_and_never_the_biggest_fall(
    editions: tuple[Path, Path, dict[str, list[Path]]],
) -> None:
    # In the top 5, Sigma (3rd in 2024) split into Sigma-West (4th, its larger part, so its
    # successor) and Sigma-East (5th). Sigma-East broke off; it did not fall from 3rd to 5th.
    e2024, e2025, _ = editions
    comp = compare_runs(read_run(e2025), read_run(e2024), top=5)
    sigma = "Sigma-West–Sigma-East–Sigma-Bridge"
    table = comp.clusters.set_index("name")
    assert table["split_from"].to_dict() == {
        "Alpha": "",
        "Gamma": "",
        "Beta": "",
        "Sigma-West": sigma,
        "Sigma-East": sigma,
        "Epsilon": "",
    }
    assert int(table.loc["Sigma-East", "rank_change"]) == -2  # still listed with its change
    movers = comp.movers
    assert movers[["direction", "name", "rank_change", "split_from"]].values.tolist() == [
        ["up", "Gamma", 2, ""],
        ["down", "Beta", -1, ""],
        ["down", "Sigma-West", -1, sigma],
    ]
    assert "Biggest fall: Beta, from 2nd to 3rd (-1)." in comp.summary()


def test_run_with_previous_adds_columns_and_files(
    editions: tuple[Path, Path, dict[str, list[Path]]], tmp_path: Path
) -> None:
    e2024, _, sources = editions
    result = run(sources, SETTINGS.replace(edition=2025, emerging=3), previous=e2024)
    clusters = result.clusters.set_index("name")
    assert clusters.loc["Gamma", "previous_rank"] == 4
    assert clusters.loc["Gamma", "rank_change"] == 2
    assert clusters.loc["Gamma", "patents_growth_pct"] == pytest.approx(130.0)
    emerging = result.extras["emerging"]
    assert list(emerging["name"]) == ["Beta", "Sigma-West", "Sigma-East"]
    assert list(emerging["rank_change"]) == [-1, -1, -2]
    assert emerging["patents_growth_pct"].iloc[0] == pytest.approx(-60.0)
    out = tmp_path / "out"
    write_outputs(result, out)
    csv = pd.read_csv(out / "clusters.csv")
    assert list(csv.columns[-5:]) == [
        "previous_rank",
        "rank_change",
        "change",
        "previous_cluster_id",
        "patents_growth_pct",
    ]
    assert csv.loc[csv["name"] == "Epsilon", "previous_rank"].isna().all()
    entrants = pd.read_csv(out / "entrants.csv")
    assert entrants["name"].tolist() == ["Gamma"]
    exits = pd.read_csv(out / "exits.csv")
    assert exits["previous_name"].tolist() == ["Beta"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["comparison"]["entrants"] == 1 and manifest["comparison"]["exits"] == 1
    assert {"changes.csv", "growth.csv", "emerging.csv", "profiles.csv"} <= set(manifest["outputs"])


def test_read_run_needs_the_run_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such run folder"):
        read_run(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "clusters.csv").write_text("rank,cluster_id,name\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing locations\.parquet, manifest\.json"):
        read_run(tmp_path / "half")
    # A manifest that is not JSON, or not an object, is named with how to fix it (one reader
    # for compare, `innoclusters uncertainty` and the report: innoclusters._io.read_manifest).
    (tmp_path / "half" / "locations.parquet").write_bytes(b"")
    (tmp_path / "half" / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"manifest\.json: not readable JSON \(.*\); run the job"):
        read_run(tmp_path / "half")
    (tmp_path / "half" / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match=r"manifest\.json: not a run manifest"):
        read_run(tmp_path / "half")
    assert recorded_uncertainty(tmp_path / "half") is None


# --- method comparison ---------------------------------------------------------------

# city -> (lat, lon, patents, vc), every document at the city's one location.
METHOD_WORLD = {"X": (0.0, 0.0, 10, 1), "Y": (0.0, 5.0, 6, 8), "Z": (0.0, 10.0, 4, 1)}
METHOD_SETTINGS = Settings(min_weight={"patents": 3.0, "vc": 1.0}, years={})


def _method_sources(folder: Path) -> dict[str, list[Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    sources: dict[str, list[Path]] = {}
    for metric, col in (("patents", 2), ("vc", 3)):
        rows = []
        for city, spec in METHOD_WORLD.items():
            lat, lon = spec[0], spec[1]
            rows += [(f"{city}{i}", 2022, lat, lon, "US", city) for i in range(int(spec[col]))]
        path = folder / f"{metric}.csv"
        pd.DataFrame(rows, columns=["doc_id", "year", "lat", "lon", "country", "city"]).to_csv(
            path, index=False
        )
        sources[metric] = [path]
    return sources


@pytest.mark.parametrize(
    ("alt", "separate", "alt_ranks"),
    [
        # Patents alone: X 50 %, Y 30 %, Z 20 %.
        ({"patents": 1.0}, {"metrics": ("patents",)}, {"X": 1, "Y": 2, "Z": 3}),
        # VC at a quarter: X 52.5, Y 50, Z 22.5.
        ({"patents": 1.0, "vc": 0.25}, {"metric_weights": {"vc": 0.25}}, {"X": 1, "Y": 2, "Z": 3}),
        # VC alone: Y 80 %, then X and Z tie at 10 % (broken by id).
        ({"vc": 1.0}, {"metrics": ("vc",)}, {"Y": 1, "X": 2, "Z": 3}),
    ],
)
def test_method_comparison_equals_separate_runs(
    tmp_path: Path, alt: dict[str, float], separate: dict[str, object], alt_ranks: dict[str, int]
) -> None:
    sources = _method_sources(tmp_path / "in")
    result = run(sources, METHOD_SETTINGS.replace(also_method=alt))
    # Patents + VC: Y 30 + 80 = 110, X 50 + 10 = 60, Z 20 + 10 = 30.
    assert list(result.clusters["name"]) == ["Y", "X", "Z"]
    table = result.extras["method_comparison"].table.set_index("name")
    assert table["alt_rank"].to_dict() == alt_ranks
    assert table["rank_difference"].to_dict() == {
        n: alt_ranks[n] - r for n, r in zip(table.index, table["rank"], strict=True)
    }
    other = run(sources, METHOD_SETTINGS.replace(**separate))
    # Match the separate run's clusters to these through shared locations.
    links, _ = match_clusters(result.locations, other.locations)
    rank_other = dict(zip(other.clusters["cluster_id"], other.clusters["rank"], strict=True))
    by_id = result.extras["method_comparison"].table.set_index("cluster_id")
    for cid, prev in zip(links["cluster_id"], links["previous_cluster_id"], strict=True):
        assert by_id.loc[cid, "alt_rank"] == rank_other[prev]
    assert list(result.clusters["alt_rank"]) == [alt_ranks[n] for n in result.clusters["name"]]


def test_method_comparison_needs_the_metrics() -> None:
    clusters = pd.DataFrame(
        {"rank": [1], "cluster_id": ["C"], "name": ["C"], "economies": ["US"], "score": [1.0]}
    )
    locations = pd.DataFrame(
        {"metric": ["patents"], "lat": [0.0], "lon": [0.0], "weight": [1.0], "cluster_id": ["C"]}
    )
    with pytest.raises(SettingsError, match="uses vc"):
        method_comparison(
            clusters, locations, method={"patents": 1.0}, alt_method={"patents": 1.0, "vc": 1.0}
        )
    mc = method_comparison(
        clusters, locations, method={"patents": 1.0}, alt_method={"patents": 2.0}
    )
    assert mc.alt_label == "patents×2" and mc.table["alt_score"].iloc[0] == 200.0


# --- command line ---------------------------------------------------------------------


def test_cli_editions_and_compare(
    editions: tuple[Path, Path, dict[str, list[Path]]], tmp_path: Path
) -> None:
    e2024, e2025, sources = editions
    out = tmp_path / "cli-2025"
    proc = cli(
        "run",
        "--patents",
        str(sources["patents"][0]),
        "--eps-km",
        "13",
        "--top",
        "2",
        "--edition",
        "2025",
        "--previous",
        str(e2024),
        "--emerging",
        "2",
        "--also-method",
        "patents=2",
        "--config",
        str(_density_file(tmp_path)),
        "--out",
        str(out),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    csv = pd.read_csv(out / "clusters.csv")
    assert csv.set_index("name").loc["Gamma", "rank_change"] == 2
    assert (csv["alt_rank"] == csv["rank"]).all()  # one metric: doubling changes nothing
    assert pd.read_csv(out / "emerging.csv")["name"].tolist() == ["Beta", "Sigma-West"]

    cmp_out = tmp_path / "cmp"
    proc = cli("compare", str(e2024), str(e2025), "--out", str(cmp_out))
    assert proc.returncode == 0, proc.stderr
    assert "1 cluster enters the top 2: Gamma (2nd)." in proc.stderr
    info = json.loads((cmp_out / "comparison.json").read_text())
    assert info["label"] == "2025" and info["previous_label"] == "2024"
    assert pd.read_csv(cmp_out / "exits.csv")["previous_name"].tolist() == ["Beta"]

    proc = cli("compare", str(e2024), str(tmp_path / "missing"), "--out", str(cmp_out))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such run folder" in proc.stderr


def _density_file(folder: Path) -> Path:
    path = folder / "density.toml"
    path.write_text("[min_weight]\npatents = 3\n", encoding="utf-8")
    return path


def test_view_of_a_result_matches_the_folder(
    editions: tuple[Path, Path, dict[str, list[Path]]],
) -> None:
    _, e2025, sources = editions
    result = run(sources, SETTINGS.replace(edition=2025))
    view = view_of(result)
    folder = read_run(e2025)
    assert view.label == folder.label == "2025"
    assert list(view.clusters["cluster_id"]) == list(folder.clusters["cluster_id"])
    links, _ = match_clusters(view.locations, folder.locations)
    assert (links["cluster_id"] == links["previous_cluster_id"]).all()
    assert (links["shared"] == 1.0).all()


def test_emerging_without_a_previous_run_and_written_files(tmp_path: Path) -> None:
    clusters = pd.DataFrame(
        {
            "rank": [1, 2, 3, 4, 5],
            "cluster_id": list("abcde"),
            "name": list("ABCDE"),
            "economies": ["US", "CN", "US", "DE", "JP"],
            "score": [5.0, 4.0, 3.0, 2.0, 1.0],
        }
    )
    emerging = emerging_clusters(clusters, top=2, count=2)
    assert emerging["name"].tolist() == ["C", "D"]
    assert emerging["previous_rank"].isna().all() and emerging["rank_change"].isna().all()
    assert "patents_growth_pct" not in emerging.columns
    assert emerging_clusters(clusters, top=4, count=10)["name"].tolist() == ["E"]

    # The parts of a RunResult that write_comparison reads.
    result = SimpleNamespace(manifest={"synthetic": True}, extras={"emerging": emerging})
    written = write_comparison(result, tmp_path)  # type: ignore[arg-type]
    assert written == [tmp_path / "emerging.csv"]
    lines = (tmp_path / "emerging.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == SYNTHETIC_NOTICE
    assert lines[1] == "rank,cluster_id,name,economies,score,previous_rank,rank_change"
    assert lines[2] == "3,c,C,US,3.0000,,"


# --- report and workbook --------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_report_and_workbook_show_the_comparisons(
    editions: tuple[Path, Path, dict[str, list[Path]]], tmp_path: Path, chromium: Any
) -> None:
    e2024, _, sources = editions
    settings = SETTINGS.replace(edition=2025, emerging=2, also_method={"patents": 2.0})
    result = run(sources, settings, previous=e2024)
    out = tmp_path / "out"
    write_outputs(result, out)

    book = pd.ExcelFile(out / "clusters.xlsx")
    assert book.sheet_names[-1] == "Settings"
    assert {
        "Entrants to the top 2",
        "Exits from the top 2",
        "Biggest movers",
        "Growth of the top 2 (%)",
        "Method comparison",
        "Emerging clusters",
    } <= set(book.sheet_names)
    assert pd.read_excel(book, "Entrants to the top 2")["name"].tolist() == ["Gamma"]
    exits = pd.read_excel(book, "Exits from the top 2")
    assert exits[["name", "rank_2024", "rank_now"]].values.tolist() == [["Beta", 2, 3]]
    assert pd.read_excel(book, "Emerging clusters")["name"].tolist() == ["Beta", "Sigma-West"]

    loaded = Loaded(chromium, out / "report.html")
    try:
        assert loaded.errors == [] and loaded.blocked == []
        nav = loaded.js("Array.from(document.querySelectorAll('nav a')).map(a => a.textContent)")
        assert {"What changed", "Method comparison", "Emerging clusters"} <= set(nav)
        for section in ("changes", "method-comparison", "emerging"):
            assert loaded.page.locator(f"section#{section}").is_visible()
        assert loaded.page.locator("section#changes h2").text_content() == (
            "What changed since 2024"
        )
        texts = loaded.page.locator("section#changes p").all_text_contents()
        assert "1 cluster enters the top 2: Gamma (2nd)." in texts

        def cells(table: str) -> list[list[str]]:
            return loaded.js(
                f"Array.from(document.querySelectorAll('#{table} tbody tr'))"
                ".map(r => Array.from(r.cells).map(c => c.textContent))"
            )

        entrants = cells("entrants-table")
        assert len(entrants) == 1 and entrants[0][:3] == ["2", "C+10.00-150.00", "Gamma"]
        assert entrants[0][-1] == "Gamma (2nd) enters the top 2, up from 4th in 2024."
        assert cells("exits-table")[0][-1] == "Beta (2nd in 2024) drops out of the top 2; now 3rd."
        method = cells("method-table")
        assert [row[1] for row in method] == [str(c) for c in result.clusters["cluster_id"][:2]]
        assert [row[-1] for row in method] == ["0", "0"]
        assert [row[2] for row in cells("emerging-table")] == ["Beta", "Sigma-West"]
        # The movers table is empty here (Alpha alone stays in the top 2) and says so.
        assert loaded.page.locator("#movers-table").text_content() == "None."
        loaded.page.locator("nav a", has_text="What changed").click()
        assert loaded.js("location.hash") == "#changes"
    finally:
        loaded.page.close()
