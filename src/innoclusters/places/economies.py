"""Economies of a cluster: which ones hold its activity, and their display names.

Economies are ISO 3166-1 alpha-2 codes joined with ``/``, largest first (``CN/HK``); their
display names follow the Global Innovation Index (United Nations short names, ``Hong Kong,
China``). See docs/places.md.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pycountry

__all__ = ["ECONOMY_DISPLAY", "economies_of", "economy_names", "shares_by"]


def shares_by(located: pd.DataFrame, column: str) -> pd.DataFrame:
    """Activity of each value of ``column`` per cluster, as a share of the cluster's activity.

    Returns ``cluster_id, <column>, activity, share`` sorted by cluster, then share
    (largest first), then value; rows whose value is null are left out.
    """
    sub = located[["cluster_id", column, "activity"]]
    known = sub[column].notna().to_numpy()
    if not known.all():  # a copy only when some rows go
        sub = sub[known]
    by = sub.groupby(["cluster_id", column], sort=True)["activity"].sum().reset_index()
    total = by.groupby("cluster_id")["activity"].transform("sum")
    by["share"] = np.where(total > 0, by["activity"] / total, 0.0)
    return by.sort_values(["cluster_id", "share", column], ascending=[True, False, True])


def economies_of(located: pd.DataFrame, *, min_share: float) -> pd.Series:
    """ISO codes of the economies holding at least ``min_share`` of each cluster's activity.

    The largest economy is always listed; codes are joined with ``/``, largest first.
    """
    by = shares_by(located, "country")
    first = by.groupby("cluster_id").cumcount() == 0
    keep = by[first | (by["share"] >= min_share)]
    return keep.groupby("cluster_id", sort=True)["country"].agg("/".join)


#: Display names that differ from pycountry's, following the usage of WIPO's Global
#: Innovation Index (United Nations short names, ``Hong Kong, China``).
ECONOMY_DISPLAY: Mapping[str, str] = {
    "United States of America": "US",
    "United Kingdom": "GB",
    "Republic of Korea": "KR",
    "Democratic People's Republic of Korea": "KP",
    "Hong Kong, China": "HK",
    "Macao, China": "MO",
    "Taiwan Province of China": "TW",
    "Netherlands (Kingdom of the)": "NL",
    "Iran (Islamic Republic of)": "IR",
    "Bolivia (Plurinational State of)": "BO",
    "Venezuela (Bolivarian Republic of)": "VE",
    "United Republic of Tanzania": "TZ",
    "Republic of Moldova": "MD",
    "Micronesia (Federated States of)": "FM",
    "Democratic Republic of the Congo": "CD",
    "State of Palestine": "PS",
    "Holy See": "VA",
    "Kosovo": "XK",
}
_DISPLAY_BY_CODE = {code: text for text, code in ECONOMY_DISPLAY.items()}


@functools.lru_cache(maxsize=512)
def _economy_name(code: str) -> str:
    code = code.strip().upper()
    if code in _DISPLAY_BY_CODE:
        return _DISPLAY_BY_CODE[code]
    found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if found is None and len(code) == 3:
        found = pycountry.countries.get(alpha_3=code)
        if found is not None and found.alpha_2 in _DISPLAY_BY_CODE:
            return _DISPLAY_BY_CODE[found.alpha_2]
    return str(found.name) if found is not None else code


def economy_names(codes: str) -> str:
    """Display names of economies given as ISO codes joined with ``/``.

    Names follow the Global Innovation Index (United Nations short names): ``United States
    of America``, ``Republic of Korea``, ``Hong Kong, China``, ``Türkiye``, ``Viet Nam``;
    other codes use pycountry's ISO 3166 name. Unknown codes are kept as given.

    Examples
    --------
    >>> economy_names("CN/HK")
    'China / Hong Kong, China'
    >>> economy_names("")
    ''
    """
    if codes is None or (isinstance(codes, float) and math.isnan(codes)):
        return ""
    parts = [p for p in str(codes).split("/") if p.strip()]
    return " / ".join(_economy_name(p) for p in parts)
