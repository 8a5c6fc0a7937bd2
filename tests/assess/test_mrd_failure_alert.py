"""Every ALL MRD failure in CR raises an alert naming its time point (issue 13 §2).

ASH 2021 (spec §5 [V]): MRD failure = MRD-positive ≥ 0.01 % in haematologic CR. The alert on
an interim marrow (not end of induction / consolidation, nor CAR-T day 28 / month 3) is our
choice [I]: before it, such a failure was stored silently.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from assess.test_issue13_acceptance import Site, _calls, _load
from trephine.store.database import Database

D = dt.date


def all_in_cr_through_induction(interim_mrd: str, end_of_induction_mrd: str) -> Site:
    """P-ALL: ALL diagnosed with an 80 % blast marrow, hyper-CVAD induction then consolidation
    (from 2024-03-01), and two marrows in CR with their MRD %: day 15 of induction (interim,
    2024-01-16) and the end of induction (the last marrow before the next line, 2024-02-20)."""
    site = Site()
    site.add("patients", "P-ALL", "male", 1980)
    site.add("diagnoses", "P-ALL", "ALL", D(2024, 1, 1))
    site.add("therapies", "P-ALL", 1, "hyper-CVAD", "induction", "intensive", D(2024, 1, 2), "")
    site.add(
        "therapies", "P-ALL", 2, "consolidation", "consolidation", "intensive", D(2024, 3, 1), ""
    )
    site.marrow("P-ALL", D(2024, 1, 1), 80)
    site.marrow("P-ALL", D(2024, 1, 16), 2, mrd=interim_mrd)
    site.marrow("P-ALL", D(2024, 2, 20), 1, mrd=end_of_induction_mrd)
    return site


def test_an_interim_and_an_end_of_induction_mrd_failure_are_both_alerted(
    database: Database, tmp_path: Path
) -> None:
    # Interim MRD 0.02 % (≥ 0.01 %) → failure, alerted; end of induction exactly 0.01 % → failure.
    site = all_in_cr_through_induction("0.02", "0.01")
    stored, alerts = _load(database, site, tmp_path, "P-ALL")
    assert [c for c in _calls(stored, "mrd") if c[1] == "MRD_FAILURE"] == [
        (D(2024, 1, 16), "MRD_FAILURE"),
        (D(2024, 2, 20), "MRD_FAILURE"),
    ]
    failures = [a for a in alerts if a.code == "MRD_FAILURE"]
    assert [a.raised_on for a in failures] == [D(2024, 1, 16), D(2024, 2, 20)]
    assert "interim marrow" in failures[0].message
    assert failures[1].message.endswith("at end of induction")
