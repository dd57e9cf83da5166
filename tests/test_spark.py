"""The Spark engine: identical locations, clusters.csv and rejects to the DuckDB engine.

One Spark session (``local[2]``, two shuffle partitions: the data are tiny) serves the
module; the engines run once each on a small demo world (Parquet, fractional weights; 35 k
locations, core densities three times the defaults so that clustering and naming take less
of the time, still about 80 clusters) plus a CSV and a JSON Lines file with rows to
geocode, rows without a country, rows to reject and a malformed row; and once each on the
fixture files of every source adapter (tests/data/sources, in the upstream layouts:
zipped and gzipped TSV, gzipped JSON Lines partitions, an API page with a ROR dump,
pipe-separated REGPAT, Crunchbase's three layouts) in one call, records compared row by row.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyspark.sql
import pytest
from typer.testing import CliRunner

from innoclusters.cli import _split_multi, app
from innoclusters.config import DEFAULT_MIN_SHARE, Settings
from innoclusters.demo import generate_world
from innoclusters.engines.spark import SparkRecords, _first_line, spark_session
from innoclusters.errors import InputError, SettingsError
from innoclusters.pipeline import run
from innoclusters.publish import write_outputs
from innoclusters.records import RecordSet, read_records
from innoclusters.sources import SourceSpec

MASTER = "local[2]"

#: Core densities of the world's runs: three times the defaults (fewer, larger clusters).
MIN_SHARE = {metric: 3 * share for metric, share in DEFAULT_MIN_SHARE.items()}

SOURCES = Path(__file__).parent / "data" / "sources"

#: Every adapter's fixture files, in one call of each engine.
ADAPTER_SOURCES: dict[str, list[Any]] = {
    "patents": [
        f"patentsview:{SOURCES / 'patentsview' / 'granted'}",  # zipped TSV
        SOURCES / "patentsview" / "pregrant",  # TSV and gzipped TSV, detected
        SOURCES / "regpat",
        SOURCES / "rasenfosse",
    ],
    "publications": [
        SOURCES / "openalex" / "snapshot",  # gzipped JSON Lines partitions, institutions
        SourceSpec(
            "openalex",
            (SOURCES / "openalex" / "api",),
            {"ror": str(SOURCES / "openalex/ror/v1.45-2024-05-01-ror-data_schema_v2.json")},
        ),
    ],
    "vc": [
        f"crunchbase:{SOURCES / 'crunchbase' / 'bulk'}",
        SOURCES / "crunchbase" / "open",
        f"crunchbase:{SOURCES / 'crunchbase' / 'open_investments'}",
    ],
}

EXTRA_PATENTS = """doc_id,year,lat,lon,country,city,org
x-1,2021,47.5596,7.5886,CH,Basel,Roche
x-1,2021,47.5601,7.5891,,Basel,Novartis
x-2,2022,,,CH,Basel,Roche
x-2,2022,,,,Zurich,ETH
x-3,2022,,,DE,Nowhereville,
x-4,2022,95.0,7.58,CH,,
x-5,x,47.56,7.59,CH,,
,2022,47.56,7.59,CH,,
x-6,2022,47.56,7.59,CH,,Roche,extra
x-7,2022,47.5590,7.5880,Narnia,,
x-8,2021,51.5072,-0.1276,GB,London,UCL
"""

EXTRA_VC = [
    {"doc_id": "v-1", "year": 2022, "lat": 47.56, "lon": 7.59, "country": "CH"},
    {"doc_id": "v-2", "year": 2022, "lat": 47.56, "lon": None, "country": "CH"},
    {"doc_id": "v-3", "year": "2021-06-30", "lat": 51.51, "lon": -0.13, "country": "GBR"},
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = spark_session(MASTER)
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    folder = tmp_path_factory.mktemp("world")
    sources = generate_world(folder, scale=0.001, seed=5)
    csv = folder / "extra_patents.csv"
    csv.write_text(EXTRA_PATENTS, encoding="utf-8")
    jsonl = folder / "extra_vc.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in EXTRA_VC) + "\n", encoding="utf-8")
    return {
        "patents": [*sources["patents"], csv],
        "publications": sources["publications"],
        "vc": [*sources["vc"], jsonl],
    }


@pytest.fixture(scope="module")
def outputs(
    spark: Any, world: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Both engines' output folders: DuckDB through the library, Spark through the CLI."""
    base = tmp_path_factory.mktemp("runs")
    duck = run(world, Settings(min_share=MIN_SHARE), synthetic=True)
    write_outputs(duck, base / "duckdb")
    config = base / "settings.toml"
    config.write_text(
        "[min_share]\n" + "".join(f"{m} = {s!r}\n" for m, s in MIN_SHARE.items()),
        encoding="utf-8",
    )
    args = ["run", "--engine", "spark", "--spark-master", MASTER, "--quiet"]
    args += ["--config", str(config)]
    for metric, paths in world.items():
        args += [f"--{metric}", *map(str, paths)]
    result = CliRunner().invoke(app, [*_split_multi(args), "--out", str(base / "spark")])
    assert result.exit_code == 0, result.output
    return {"duckdb": base / "duckdb", "spark": base / "spark"}


def test_locations_are_identical(outputs: dict[str, Path]) -> None:
    duck = pd.read_parquet(outputs["duckdb"] / "locations.parquet")
    spark = pd.read_parquet(outputs["spark"] / "locations.parquet")
    assert len(duck) > 1000 and duck["weight"].sum() > 1000
    # fractional weights that are not dyadic: exact sums are what makes them equal
    assert (duck["weight"] * 3 % 1).abs().gt(1e-9).any()
    pd.testing.assert_frame_equal(duck, spark, check_exact=True)


def test_clusters_csv_is_identical(outputs: dict[str, Path]) -> None:
    duck = (outputs["duckdb"] / "clusters.csv").read_bytes()
    assert len(pd.read_csv(outputs["duckdb"] / "clusters.csv")) >= 50
    assert (outputs["spark"] / "clusters.csv").read_bytes() == duck


def test_rejects_and_row_accounting_are_the_same(outputs: dict[str, Path]) -> None:
    # The first line says the data are synthetic (the demo world's files are marked so).
    duck = pd.read_csv(outputs["duckdb"] / "rejects.csv", skiprows=1)
    spark = pd.read_csv(outputs["spark"] / "rejects.csv", skiprows=1)
    assert len(duck) == 7
    keys = ["file", "line", "metric", "doc_id"]
    pd.testing.assert_frame_equal(duck[keys], spark[keys])
    malformed = duck["reason"].str.startswith("malformed row")
    assert malformed.sum() == 1 and spark["reason"][malformed].str.startswith("malformed").all()
    pd.testing.assert_series_equal(duck["reason"][~malformed], spark["reason"][~malformed])
    reasons = " | ".join(duck["reason"])
    for expected in (
        "outside -90..90",
        "'x' is not a whole number",
        "missing doc_id",
        "place not found",
        "not a known country",
        "missing lon",
    ):
        assert expected in reasons
    manifests = [
        json.loads((outputs[e] / "manifest.json").read_text(encoding="utf-8"))
        for e in ("duckdb", "spark")
    ]
    for key in ("rows", "inputs", "windows", "totals", "geocoding", "min_weight_used", "synthetic"):
        assert manifests[0][key] == manifests[1][key], key
    rows = manifests[1]["rows"]
    assert rows["read"] == rows["accepted"] + rows["rejected"] + rows["filtered"]
    assert manifests[1]["settings"]["engine"] == "spark"
    assert manifests[1]["geocoding"]["countries_assigned"] >= 1


def test_profiles_are_identical(outputs: dict[str, Path]) -> None:
    names = sorted(p.name for p in outputs["duckdb"].iterdir())
    assert names == sorted(p.name for p in outputs["spark"].iterdir())
    for name in names:
        if name.startswith("profiles") or name == "clusters.geojson":
            duck = (outputs["duckdb"] / name).read_bytes()
            assert (outputs["spark"] / name).read_bytes() == duck, name


@pytest.fixture(scope="module")
def adapted(spark: Any) -> tuple[RecordSet, SparkRecords]:
    """Both engines' records of every adapter's fixture files (one Spark engine call)."""
    duck = read_records(ADAPTER_SOURCES)
    settings = Settings(engine="spark", spark_master=MASTER)
    return duck, SparkRecords.read(ADAPTER_SOURCES, settings, connection=duckdb.connect())


def test_source_adapters_give_identical_records(
    adapted: tuple[RecordSet, SparkRecords],
) -> None:
    duck, spark = adapted
    # (Which file each record came from is compared in the per-file counts below.)
    cols = ["metric", "doc_id", "year", "lat", "lon", "country", "weight", "city", "region"]
    cols += ["org"]

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[cols].astype({"year": "int64"})
        frame = frame.astype({c: object for c in ("city", "region", "org")})
        frame = frame.where(frame.notna(), None)
        return frame.sort_values(cols, na_position="first").reset_index(drop=True)

    left, right = ordered(duck.frame()), ordered(spark.frame.toPandas())
    assert len(left) == 32 and set(left["metric"]) == {"patents", "publications", "vc"}
    pd.testing.assert_frame_equal(left, right, check_exact=True)


def test_source_adapters_give_identical_rejects_and_row_accounting(
    adapted: tuple[RecordSet, SparkRecords],
) -> None:
    duck, spark = adapted
    keys = ["file", "line"]
    left = duck.rejects().sort_values(keys).reset_index(drop=True)
    right = spark.records.rejects().sort_values(keys).reset_index(drop=True)
    assert len(left) == 9
    pd.testing.assert_frame_equal(left, right, check_dtype=False)
    # Per file: rows read = used + filtered + rejected, the filters by name, the columns
    # and every upstream file read; ten row-defining files of five adapters.
    assert [f.to_dict() for f in spark.records.files] == [f.to_dict() for f in duck.files]
    assert len(duck.files) == 10 and {f.adapter for f in duck.files} == {
        "patentsview",
        "regpat",
        "rasenfosse",
        "openalex",
        "crunchbase",
    }
    assert sum(f.rows_filtered for f in duck.files) >= 6
    assert spark.records.geocoding == duck.geocoding


def test_a_failed_spark_read_names_the_root_cause_and_the_file() -> None:
    # As PySpark gives a failed job of an upstream table with a row of too many fields.
    trace = (
        "An error occurred while calling o308.getResult.\n"
        ": org.apache.spark.SparkException: Exception thrown in awaitResult: \n"
        "Caused by: org.apache.spark.SparkException: [FAILED_READ_FILE.NO_HINT] Encountered "
        "error while reading file file:///d/g_patent.tsv.  SQLSTATE: KD001\n"
        "\tat org.apache.spark.sql.errors.QueryExecutionErrors$.cannotReadFilesError\n"
        "Caused by: org.apache.spark.SparkRuntimeException: [MALFORMED_CSV_RECORD] Malformed "
        "CSV record: 1\tutility\textra SQLSTATE: KD000\n"
    )
    assert _first_line(RuntimeError(trace)) == (
        "[MALFORMED_CSV_RECORD] Malformed CSV record: 1\tutility\textra "
        "(reading file:///d/g_patent.tsv)"
    )
    assert _first_line(ValueError("\n  plain message\nmore")) == "plain message"


def test_source_adapter_problems_are_the_same_errors(tmp_path: Path) -> None:
    (tmp_path / "g_inventor_disambiguated.tsv").write_text("patent_id\tlocation_id\n1\tx\n")
    source = {"patents": [f"patentsview:{tmp_path}"]}
    with pytest.raises(InputError, match="PatentsView also needs g_location_disambiguated"):
        run(source, Settings(engine="spark", spark_master=MASTER))


def test_uncertainty_is_refused(world: dict[str, list[Path]]) -> None:
    with pytest.raises(SettingsError, match=r"'uncertainty'.*--engine duckdb"):
        run(world, Settings(engine="spark", uncertainty=10))


def test_missing_column_and_folder_are_input_errors(spark: Any, tmp_path: Path) -> None:
    bad = tmp_path / "p.csv"
    bad.write_text("doc_id,lat,lon\na,1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"p.csv: missing column\(s\) year"):
        run({"patents": [bad]}, Settings(engine="spark", spark_master=MASTER))
    with pytest.raises(InputError, match="is a directory"):
        run({"patents": [tmp_path]}, Settings(engine="spark", spark_master=MASTER))


def test_missing_pyspark_is_one_error_line(
    world: dict[str, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    args = ["run", "--engine", "spark", "--patents", str(world["patents"][0])]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: engine 'spark': PySpark is not")
    assert "pip install 'innoclusters[spark]'" in lines[0]
    assert isinstance(pyspark.sql, type(sys))


def test_bad_engine_is_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "--engine", "hadoop", "--patents", "x.csv", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: setting 'engine' must be one of duckdb, spark")


def test_bytes_not_utf8_stop_the_run_naming_the_line(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(
        b"doc_id,year,lat,lon,city\na,2021,47.5,7.5,Basel\nb,2021,47.5,7.5,Z\xfcrich\n"
    )
    with pytest.raises(InputError, match=r"p.csv: line 3 is not valid UTF-8 text \(1 such"):
        run({"patents": [path]}, Settings(engine="spark", spark_master=MASTER))
