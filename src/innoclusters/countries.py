"""Country codes: every way people write a country, to ISO 3166-1 alpha-2.

The one place that turns a country value into the code the outputs use. It accepts ISO
3166-1 alpha-2 and alpha-3 codes and the ISO names, official names and common names that
pycountry ships (``FR``, ``FRA``, ``France``, ``French Republic``; ``South Korea``), plus the
common English spellings ISO does not list, kept in ``data/country_aliases.csv`` (``UK``,
``USA``, ``Russia``, ``Hong Kong, China``, Kosovo's ``XK``). Matching ignores case, accents,
spaces and punctuation: ``" us"``, ``"U.S."`` and ``"u s"`` are all ``US``.

Records (:mod:`innoclusters.records`), the source adapters and geocoding all use it, so a
country accepted by one is accepted by all. Work is done once per unique value.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata
from collections.abc import Iterable
from importlib import resources
from typing import TYPE_CHECKING

import pycountry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# pandas and NumPy (about 0.4 s to import) are imported by the functions that make arrays:
# records reads the table without them (alpha2_pairs), so `inspect` never loads them.

__all__ = ["alpha2_pairs", "alpha2_table", "key", "sql_key", "to_alpha2"]

_NOT_LETTER = re.compile(r"[^a-z]+")


def key(text: str) -> str:
    """The matching key of a country spelling: lower-case ASCII letters only.

    Examples
    --------
    >>> key(" Côte d'Ivoire ")
    'cotedivoire'
    >>> key("U.S.")
    'us'
    """
    folded = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return _NOT_LETTER.sub("", ascii_text)


def sql_key(expr: str) -> str:
    """DuckDB SQL computing :func:`key` of the text expression ``expr``.

    Join it to :func:`alpha2_table` to convert a column inside a query.
    """
    text = f"CAST({expr} AS VARCHAR)"
    # Codes (two or three ASCII letters, most values) skip the costly normalisation.
    return (
        f"CASE WHEN regexp_full_match({text}, '[A-Za-z]{{2,3}}') THEN lower({text}) "
        f"ELSE regexp_replace(lower(strip_accents({text})), '[^a-z]+', '', 'g') END"
    )


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    table: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            if value:
                table.setdefault(key(value), country.alpha_2)
    text = resources.files("innoclusters").joinpath("data/country_aliases.csv").read_text("utf-8")
    for row in csv.DictReader(io.StringIO(text)):
        table.setdefault(key(row["alias"]), row["alpha2"])
    table.pop("", None)
    return table


def alpha2_pairs() -> list[tuple[str, str]]:
    """Every accepted spelling as ``(key, alpha2)`` (see :func:`key`), sorted by key.

    The rows of :func:`alpha2_table`, without pandas.
    """
    return sorted(_table().items())


def alpha2_table() -> pd.DataFrame:
    """Every accepted spelling as ``key`` (see :func:`key`) and its ``alpha2`` code.

    Returns
    -------
    pandas.DataFrame
        One row per key, sorted by key.
    """
    import pandas as pd

    items = alpha2_pairs()
    return pd.DataFrame(
        {"key": [k for k, _ in items], "alpha2": [c for _, c in items]}, dtype=object
    )


def to_alpha2(values: Iterable[object]) -> tuple[np.ndarray, np.ndarray]:
    """ISO 3166-1 alpha-2 code of each country value.

    Parameters
    ----------
    values
        Country values (codes or names), any case and spacing; nulls allowed.

    Returns
    -------
    codes : numpy.ndarray
        Object array aligned on ``values``: the alpha-2 code, or ``None`` when the value is
        null, empty or not recognised.
    ok : numpy.ndarray
        Boolean array: ``True`` where the value was recognised. A null or empty value is
        not (``codes`` is ``None`` there too); tell the two apart with ``pd.isna(values)``.

    Examples
    --------
    >>> codes, ok = to_alpha2(["USA", " us", "United Kingdom", "Narnia", None])
    >>> codes.tolist(), ok.tolist()
    (['US', 'US', 'GB', None, None], [True, True, True, False, False])
    """
    import numpy as np
    import pandas as pd

    series = pd.Series(list(values), dtype=object)
    present = series.notna().to_numpy()
    uniques = pd.unique(series[present].astype(str))
    table = _table()
    found = {u: table.get(key(u)) for u in uniques}
    codes = np.full(len(series), None, dtype=object)
    codes[present] = series[present].astype(str).map(found).to_numpy(dtype=object)
    codes[pd.isna(codes)] = None
    ok = np.array([c is not None for c in codes], dtype=bool)
    return codes, ok
