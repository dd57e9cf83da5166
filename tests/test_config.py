"""Settings: defaults, validation that reports every problem, TOML loading."""

from __future__ import annotations

import copy as copy_module
import dataclasses
import json
import pickle
from pathlib import Path

import pytest

from innoclusters.config import DEFAULT_MIN_SHARE, Settings, load_settings
from innoclusters.errors import SettingsError


def test_density_from_share_or_absolute() -> None:
    s = Settings(min_weight={"vc": 7.0}, min_share={"patents": 0.01})
    assert s.density_for("vc", 1000.0) == 7.0
    assert s.density_for("patents", 1000.0) == pytest.approx(10.0)
    assert s.density_for("publications", 1000.0) == pytest.approx(
        1000.0 * DEFAULT_MIN_SHARE["publications"]
    )


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        Settings(eps_km=-1, top=0, min_share={"patents": 2.0, "citations": 0.1})
    text = str(info.value)
    assert "'eps_km'" in text and "'top'" in text
    assert "min_share.patents" in text and "unknown metric 'citations'" in text


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'eps_km = 10\nmetrics = ["patents", "vc"]\n[min_weight]\nvc = 3\n'
        "[years]\npatents = [2019, 2023]\n",
        encoding="utf-8",
    )
    s = load_settings(path, top=50)
    assert s.eps_km == 10 and s.top == 50 and s.metrics == ("patents", "vc")
    assert s.years == {"patents": (2019, 2023)}
    assert s.to_dict()["years"] == {"patents": [2019, 2023]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("eps_km = \n", "not valid TOML"),
        ("radius = 3\n", "unknown setting(s) radius"),
        ("[years]\npatents = [2023, 2019]\n", "years.patents"),
        ("rounding = 'coarse'\n", "'rounding'"),
    ],
)
def test_bad_toml_names_the_file_and_setting(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_memory_limit_from_toml_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('memory_limit = "8GB"\n', encoding="utf-8")
    assert load_settings(path).memory_limit == "8GB"
    assert Settings().memory_limit == "4GB"
    assert Settings(memory_limit="").memory_limit == ""
    with pytest.raises(SettingsError) as info:
        Settings(memory_limit="lots", top=0)
    text = str(info.value)
    assert "'memory_limit'" in text and "'lots'" in text and "'top'" in text


def test_engine_and_spark_master_from_toml_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('engine = "spark"\nspark_master = "local[2]"\n', encoding="utf-8")
    s = load_settings(path)
    assert (s.engine, s.spark_master) == ("spark", "local[2]")
    assert (Settings().engine, Settings().spark_master) == ("duckdb", "")
    assert s.to_dict()["engine"] == "spark"
    for master in (
        "local",
        "local[*]",
        "local[4,2]",
        "spark://h:7077",
        "yarn",
        "k8s://https://h:443",
    ):
        assert Settings(spark_master=master).spark_master == master
    with pytest.raises(SettingsError) as info:
        load_settings(path, engine="dask", spark_master="localhost")
    text = str(info.value)
    assert "'engine'" in text and "'dask'" in text and "duckdb, spark" in text
    assert "'spark_master'" in text and "'localhost'" in text and str(path) in text


def test_settings_are_immutable_all_the_way_down(tmp_path: Path) -> None:
    given = {"patents": 0.001}
    s = Settings(min_share=given, years={"patents": [2019, 2023]}, also_method={"patents": 1.0})
    given["patents"] = 0.5  # the caller's dict is copied, not shared
    assert s.min_share["patents"] == 0.001
    with pytest.raises(TypeError):
        s.min_share["patents"] = 5.0  # type: ignore[index]
    with pytest.raises(TypeError):
        s.min_weight["vc"] = 1.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.eps_km = 1.0  # type: ignore[misc]
    assert s.years["patents"] == (2019, 2023)  # a tuple, not a list that could change
    with pytest.raises(TypeError):
        DEFAULT_MIN_SHARE["patents"] = 1.0  # type: ignore[index]
    # Copies stay frozen and equal; the manifest form is plain JSON.
    for copy in (pickle.loads(pickle.dumps(s)), copy_module.deepcopy(s), s.replace(top=10)):
        assert copy.min_share == {"patents": 0.001}
        with pytest.raises(TypeError):
            copy.min_share["patents"] = 5.0  # type: ignore[index]
    assert pickle.loads(pickle.dumps(s)) == s
    plain = json.loads(json.dumps(s.to_dict()))
    assert plain["min_share"] == {"patents": 0.001}
    assert plain["years"] == {"patents": [2019, 2023]}
    # A TOML file round-trips into the same frozen settings.
    path = tmp_path / "s.toml"
    path.write_text("[min_share]\npatents = 0.001\n[years]\npatents = [2019, 2023]\n")
    loaded = load_settings(path, also_method="patents")
    assert loaded == s
    with pytest.raises(TypeError):
        loaded.years["vc"] = (2020, 2024)  # type: ignore[index]


@pytest.mark.parametrize("rounding", [0.001, 0.01, 0.03, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0])
def test_a_rounding_that_divides_90_degrees_is_accepted(rounding: float) -> None:
    assert Settings(rounding=rounding).rounding == rounding


@pytest.mark.parametrize("rounding", [0.007, 0.07, 0.7, 0.8])
def test_a_rounding_that_does_not_divide_90_degrees_is_refused(rounding: float) -> None:
    # 0.8 divides 180 but not 90: latitude 90 would round to 90.4.
    with pytest.raises(SettingsError, match=r"setting 'rounding' must divide 90 degrees"):
        Settings(rounding=rounding)
