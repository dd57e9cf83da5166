"""Countries: every common way of writing a country gives its ISO 3166-1 alpha-2 code."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from innoclusters.countries import alpha2_table, key, sql_key, to_alpha2


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("US", "US"),
        (" us", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("UK", "GB"),
        ("GBR", "GB"),
        ("United Kingdom", "GB"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("KOR", "KR"),
        ("Russia", "RU"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("Côte d'Ivoire", "CI"),
        ("Cote dIvoire", "CI"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Hong Kong, China", "HK"),
        ("Taiwan", "TW"),
        ("XK", "XK"),
        ("Kosovo", "XK"),
        ("NA", "NA"),  # Namibia, not a missing value
    ],
)
def test_codes_and_english_names(value: str, code: str) -> None:
    codes, ok = to_alpha2([value])
    assert codes.tolist() == [code]
    assert ok.tolist() == [True]


def test_unknown_and_missing_values() -> None:
    codes, ok = to_alpha2(["Narnia", "EP", "", None, np.nan, "FR"])
    assert codes.tolist() == [None, None, None, None, None, "FR"]
    assert ok.tolist() == [False, False, False, False, False, True]


def test_aligned_on_the_input_and_input_not_modified() -> None:
    values = pd.Series(["fr", "Germany", "fr", None], index=[10, 3, 7, 1])
    before = values.copy()
    codes, ok = to_alpha2(values)
    assert codes.tolist() == ["FR", "DE", "FR", None]
    assert ok.tolist() == [True, True, True, False]
    pd.testing.assert_series_equal(values, before)


def test_sql_key_matches_python_key() -> None:
    spellings = ["Côte d'Ivoire", " U.S. ", "Türkiye", "Åland Islands", "São Tomé and Príncipe"]
    con = duckdb.connect()
    got = [
        r[0]
        for r in con.execute(
            f"SELECT {sql_key('x')} FROM unnest(?::VARCHAR[]) WITH ORDINALITY t(x, i) ORDER BY i",
            [spellings],
        ).fetchall()
    ]
    assert got == [key(s) for s in spellings]


def test_table_keys_are_unique_and_codes_alpha2() -> None:
    table = alpha2_table()
    assert table["key"].is_unique
    assert table["alpha2"].str.fullmatch("[A-Z]{2}").all()
    assert len(table) > 700  # alpha-2, alpha-3, names of ~250 countries
