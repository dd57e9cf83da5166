"""Settings: defaults, validation that reports every problem, TOML loading."""

from __future__ import annotations

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
    assert Settings().memory_limit == ""
    with pytest.raises(SettingsError) as info:
        Settings(memory_limit="lots", top=0)
    text = str(info.value)
    assert "'memory_limit'" in text and "'lots'" in text and "'top'" in text
