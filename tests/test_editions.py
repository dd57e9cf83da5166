"""Editions: GII windows per metric, precedence of the settings, records left out."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from innoclusters.config import DEFAULT_EDITION_OFFSETS, Settings, load_settings, parse_method
from innoclusters.editions import (
    edition_window,
    partial_window_warnings,
    resolve_windows,
    window_coverage,
    window_label,
    window_source,
)
from innoclusters.errors import PartialWindowWarning, SettingsError
from innoclusters.pipeline import run
from tests.conftest import TOY_DENSITY, toy_world

Writer = Callable[..., dict[str, list[Path]]]
SPANS = {"patents": (2015, 2024), "publications": (2014, 2023), "vc": (2018, 2024)}


def test_gii_windows_of_an_edition() -> None:
    # GII 2024: PCT applications 2019-2023, articles 2018-2022.
    assert edition_window(2024, "patents") == (2019, 2023)
    assert edition_window(2024, "publications") == (2018, 2022)
    assert edition_window(2025, "vc") == (2020, 2024)
    assert edition_window(2025, "patents", {"patents": (-3, 0)}) == (2022, 2025)
    assert DEFAULT_EDITION_OFFSETS["publications"] == (-6, -2)


def test_explicit_years_win_over_the_edition_which_wins_over_the_latest_years() -> None:
    latest = resolve_windows(SPANS, Settings())
    assert latest == {
        "patents": (2020, 2024),
        "publications": (2019, 2023),
        "vc": (2020, 2024),
    }
    edition = resolve_windows(SPANS, Settings(edition=2024))
    assert edition == {"patents": (2019, 2023), "publications": (2018, 2022), "vc": (2019, 2023)}
    mixed = resolve_windows(
        SPANS,
        Settings(edition=2024, years={"vc": (2016, 2018)}, edition_offsets={"patents": (-4, 0)}),
    )
    assert mixed == {"patents": (2020, 2024), "publications": (2018, 2022), "vc": (2016, 2018)}
    only = resolve_windows(SPANS, Settings(edition=2024), metrics=["vc", "patents"])
    assert list(only) == ["patents", "vc"]


def test_an_edition_outside_the_data_is_a_settings_error_naming_the_fitting_editions() -> None:
    with pytest.raises(SettingsError) as info:
        resolve_windows(SPANS, Settings(edition=2031))
    text = str(info.value)
    # Patents span 2015-2024; windows Y-5..Y-1 touch them for Y in 2016..2029.
    assert "2026-2030" in text and "2015-2024" in text and "from 2016 to 2029" in text


def test_edition_settings_are_validated_and_loaded(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        Settings(edition=20, edition_offsets={"patents": (-1, -5), "citations": (0, 1)})
    text = str(info.value)
    assert "'edition'" in text and "edition_offsets.patents" in text and "'citations'" in text
    path = tmp_path / "s.toml"
    path.write_text(
        'edition = 2025\nalso_method = "patents,publications"\nemerging = 20\n'
        "[edition_offsets]\nvc = [-4, -1]\n",
        encoding="utf-8",
    )
    s = load_settings(path)
    assert s.edition == 2025 and s.emerging == 20
    assert s.edition_offsets == {"vc": (-4, -1)}
    assert s.also_method == {"patents": 1.0, "publications": 1.0}
    d = s.to_dict()
    assert d["edition_offsets_effective"]["vc"] == [-4, -1]
    assert d["edition_offsets_effective"]["publications"] == [-6, -2]


def test_method_text() -> None:
    assert parse_method("patents, publications") == {"patents": 1.0, "publications": 1.0}
    assert parse_method("patents=2,vc=0.5") == {"patents": 2.0, "vc": 0.5}
    with pytest.raises(SettingsError, match="metric=weight"):
        parse_method("patents=lots")
    with pytest.raises(SettingsError, match="unknown metric 'citations'"):
        load_settings(None, also_method="citations")
    with pytest.raises(SettingsError, match="weight > 0"):
        Settings(also_method={"vc": 0.0})


def test_window_label() -> None:
    assert window_label({"patents": (2019, 2023), "vc": [2020, 2024]}) == (
        "patents 2019-2023, vc 2020-2024"
    )


def test_records_outside_the_edition_are_counted_not_rejected(write_world: Writer) -> None:
    # The toy world spans 2018-2023; edition 2023 takes patents and VC 2018-2022 and
    # publications 2017-2021 (which holds no 2017 records: a warning says so).
    with pytest.warns(PartialWindowWarning, match=r"2017-2021 .* 4 of its 5 years \(2017 has none"):
        result = run(write_world(), Settings(min_weight=TOY_DENSITY, edition=2023))
    windows = result.manifest["windows"]
    world = toy_world()
    for metric, (first, last) in (
        ("patents", (2018, 2022)),
        ("publications", (2017, 2021)),
        ("vc", (2018, 2022)),
    ):
        frame = world[metric]
        outside = int(((frame["year"] < first) | (frame["year"] > last)).sum())
        assert windows[metric]["window"] == [first, last]
        assert windows[metric]["records_outside_window"] == outside > 0
        inside = frame[frame["year"].between(first, last)]
        assert result.totals[metric] == pytest.approx(inside["doc_id"].nunique())
    assert result.manifest["rows"]["rejected"] == 0
    assert result.manifest["settings"]["edition"] == 2023


def test_window_coverage_and_warnings_name_the_missing_years() -> None:
    windows = {"patents": (2023, 2027), "publications": (2016, 2020), "vc": (2019, 2023)}
    present = {"patents": range(2015, 2024), "publications": [2017, 2019, 2020], "vc": [2023]}
    coverage = window_coverage(windows, present)
    assert coverage["patents"] == {
        "years_with_records": [2023],
        "years_without_records": [2024, 2025, 2026, 2027],
    }
    assert coverage["publications"]["years_without_records"] == [2016, 2018]
    settings = Settings(edition=2028, years={"publications": (2016, 2020)})
    assert [window_source(m, settings) for m in windows] == ["edition", "years", "edition"]
    texts = partial_window_warnings(windows, coverage, settings)
    assert texts[0].startswith(
        "edition 2028: the patents window 2023-2027 holds patents records of 1 of its 5 years "
        "(2024-2027 have none), so patents is counted over 1 year, not 5"
    )
    assert texts[1].startswith(
        "setting 'years.publications' 2016-2020 holds publications records of 3 of its 5 "
        "years (2016, 2018 have none)"
    )
    assert "of 1 of its 5 years (2019-2022 have none)" in texts[2]
    # The latest years present are as full as the data allows: no warning.
    latest = Settings()
    assert window_source("vc", latest) == "latest"
    assert partial_window_warnings(windows, coverage, latest) == []


def test_an_edition_past_the_data_is_reported_in_the_manifest_and_warned(
    write_world: Writer,
) -> None:
    # The toy world spans 2018-2023: edition 2028 counts patents and VC over 2023-2027
    # (one year of five) and publications over 2022-2026 (two of five).
    with pytest.warns(PartialWindowWarning) as caught:
        result = run(write_world(), Settings(min_weight=TOY_DENSITY, edition=2028))
    texts = [str(w.message) for w in caught if w.category is PartialWindowWarning]
    assert len(texts) == 3 and result.manifest["warnings"] == texts
    assert "the patents window 2023-2027 holds patents records of 1 of its 5 years" in texts[0]
    assert "publications records of 2 of its 5 years (2024-2026 have none)" in texts[1]
    windows = result.manifest["windows"]
    assert windows["patents"]["years_with_records"] == [2023]
    assert windows["patents"]["years_without_records"] == [2024, 2025, 2026, 2027]
    assert windows["publications"]["years_with_records"] == [2022, 2023]
    assert windows["vc"]["years_without_records"] == [2024, 2025, 2026, 2027]


def test_full_windows_are_not_warned(write_world: Writer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PartialWindowWarning)
        result = run(write_world(), Settings(min_weight=TOY_DENSITY, edition=2024))
    assert result.manifest["warnings"] == []
    assert result.manifest["windows"]["patents"]["years_with_records"] == list(range(2019, 2024))
    assert result.manifest["windows"]["publications"]["years_without_records"] == []
