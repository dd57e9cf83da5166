"""The shared-activity matching rule on hand-built parts."""

from __future__ import annotations

import pandas as pd

from innoclusters.matching import MIN_SHARED, match_parts


def _parts(rows: list[tuple[str, str, float, float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(current, previous, part of current, part of previous) -> up and down tables."""
    up = pd.DataFrame(
        [(b, a, p) for b, a, p, _ in rows], columns=["cluster_id", "previous_cluster_id", "part"]
    )
    down = pd.DataFrame(
        [(a, b, q) for b, a, _, q in rows], columns=["previous_cluster_id", "cluster_id", "part"]
    )
    return up, down


def test_split_merge_new_vanished_and_small_overlap() -> None:
    up, down = _parts(
        [
            ("P1", "P", 1.0, 0.6),  # P split into P1 and P2
            ("P2", "P", 1.0, 0.4),
            ("QR", "Q", 0.55, 1.0),  # Q and R merged into QR (Q holds more)
            ("QR", "R", 0.45, 1.0),
            ("W", "V", 0.1, 0.1),  # a 10 % overlap stays below the threshold
        ]
    )
    current, previous = match_parts(
        up,
        down,
        current_ids=["P1", "P2", "QR", "T", "W"],
        previous_ids=["P", "Q", "R", "S", "V"],
    )
    change = dict(zip(current["cluster_id"], current["change"], strict=True))
    assert change == {"P1": "split", "P2": "split", "QR": "merged", "T": "new", "W": "new"}
    fate = dict(zip(previous["previous_cluster_id"], previous["fate"], strict=True))
    assert fate == {"P": "split", "Q": "continues", "R": "merged", "S": "vanished", "V": "vanished"}
    row = current.set_index("cluster_id").loc["QR"]
    assert row["merged_from"] == "Q;R" and row["previous_cluster_id"] == "Q"
    assert previous.set_index("previous_cluster_id").loc["P", "continued_by"] == "P1;P2"
    assert MIN_SHARED == 0.25


def test_ties_go_to_the_better_ranked_then_the_smaller_id() -> None:
    up, down = _parts([("B", "X", 0.5, 1.0), ("B", "Y", 0.5, 1.0)])
    current, _ = match_parts(
        up, down, current_ids=["B"], previous_ids=["X", "Y"], previous_rank={"X": 2, "Y": 1}
    )
    assert current.loc[0, "previous_cluster_id"] == "Y"
    current, _ = match_parts(up, down, current_ids=["B"], previous_ids=["X", "Y"])
    assert current.loc[0, "previous_cluster_id"] == "X"
