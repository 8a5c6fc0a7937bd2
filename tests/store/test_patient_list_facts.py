"""The patient list's facts kept on the patient row by triggers, on SQLite and PostgreSQL: the
last biopsy and open-alert count (migration 0026), the latest diagnosis and latest response
(0028; 0029 counts a myeloma progression, confirmed or to confirm, as a relapse; 0030 counts
current calls only). For every
writer (plain SQL here, not the services), through insert, move, change and delete, and filled
in for a database upgraded from the revision before. And the indexes the list's sorted pages
read (0026, 0029)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import Connection, event, text

from raw_rows import T1, T2, T3
from raw_rows import insert_patient as _patient
from trephine.assess.story import RELAPSE_KINDS
from trephine.criteria.categories import (
    CONFIRMATION_BY_RULESET,
    RELAPSE_BY_RULESET,
    SUPERSEDING_CATEGORIES,
)
from trephine.criteria.registry import rulesets
from trephine.services.patient_search import PatientQuery, search
from trephine.store.database import Database


def _procedure(conn: Connection, patient: int, at: str) -> int:
    pid: int = conn.execute(
        text(
            "INSERT INTO procedure (patient_id, performed_at, site, side, indication, anesthesia)"
            " VALUES (:p, :at, 'posterior_iliac_crest', 'right', 'diagnosis', 'local')"
            " RETURNING id"
        ),
        {"p": patient, "at": at},
    ).scalar_one()
    return pid


def _alert(conn: Connection, patient: int, code: str) -> int:
    aid: int = conn.execute(
        text(
            "INSERT INTO alert (patient_id, raised_on, code, message, ruleset, software_version,"
            " raised_at, raised_by) VALUES (:p, '2024-02-01', :c, 'm', 'ELN', '0.1',"
            " '2024-02-01 00:00:00+00:00', 'test') RETURNING id"
        ),
        {"p": patient, "c": code},
    ).scalar_one()
    return aid


def _facts(conn: Connection, patient: int) -> tuple[Any, int]:
    at, count = conn.execute(
        text("SELECT last_biopsy_at, open_alert_count FROM patient WHERE id = :p"), {"p": patient}
    ).one()
    return (None if at is None else str(at)[:16]), count


def test_the_facts_follow_every_write_of_procedures_and_alerts(database: Database) -> None:
    with database.engine.begin() as conn:
        a, b = _patient(conn, "A"), _patient(conn, "B")
        assert _facts(conn, a) == (None, 0)
        first = _procedure(conn, a, T1)
        assert _facts(conn, a) == ("2024-01-10 09:00", 0)
        latest = _procedure(conn, a, T2)
        _procedure(conn, a, "2023-12-01 00:00:00+00:00")  # an older one entered later
        assert _facts(conn, a)[0] == "2024-03-05 14:30"
        # A corrected time, then the latest procedure moved to the other patient.
        conn.execute(
            text("UPDATE procedure SET performed_at = :t WHERE id = :i"), {"t": T3, "i": first}
        )
        assert _facts(conn, a)[0] == "2024-06-01 08:15"
        conn.execute(
            text("UPDATE procedure SET patient_id = :b WHERE id = :i"), {"b": b, "i": first}
        )
        assert _facts(conn, a)[0] == "2024-03-05 14:30"
        assert _facts(conn, b)[0] == "2024-06-01 08:15"
        conn.execute(text("DELETE FROM procedure WHERE id = :i"), {"i": first})
        assert _facts(conn, b) == (None, 0)
        conn.execute(text("DELETE FROM procedure WHERE id = :i"), {"i": latest})
        assert _facts(conn, a)[0] == "2023-12-01 00:00"

        one, two, three = (_alert(conn, a, code) for code in ("X1", "X2", "X3"))
        assert _facts(conn, a)[1] == 3
        conn.execute(
            text("UPDATE alert SET acknowledged_at = :t, acknowledged_by = 'dr' WHERE id = :i"),
            {"t": T3, "i": one},
        )
        conn.execute(text("UPDATE alert SET withdrawn_at = :t WHERE id = :i"), {"t": T3, "i": two})
        assert _facts(conn, a)[1] == 1
        # A note added to an acknowledged alert changes no count; reopening one does.
        conn.execute(
            text("UPDATE alert SET acknowledgement_note = 'seen' WHERE id = :i"), {"i": one}
        )
        conn.execute(text("UPDATE alert SET acknowledged_at = NULL WHERE id = :i"), {"i": one})
        assert _facts(conn, a)[1] == 2
        conn.execute(text("UPDATE alert SET patient_id = :b WHERE id = :i"), {"b": b, "i": three})
        assert (_facts(conn, a)[1], _facts(conn, b)[1]) == (1, 1)
        conn.execute(text("DELETE FROM alert WHERE id = :i"), {"i": three})
        assert _facts(conn, b)[1] == 0


def test_an_upgraded_database_gets_the_facts_of_its_rows(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.upgrade("0025")
        with db.engine.begin() as conn:
            a, b = _patient(conn, "A"), _patient(conn, "B")
            _procedure(conn, a, T1)
            _procedure(conn, a, T2)
            for code in ("X1", "X2"):
                _alert(conn, a, code)
            conn.execute(text("UPDATE alert SET withdrawn_at = :t WHERE code = 'X2'"), {"t": T3})
        db.upgrade()
        with db.engine.begin() as conn:
            assert _facts(conn, a) == ("2024-03-05 14:30", 1)
            assert _facts(conn, b) == (None, 0)
            _procedure(conn, b, T3)  # and the triggers work from then on
            assert _facts(conn, b) == ("2024-06-01 08:15", 0)
        db.downgrade("0025")
        with db.engine.connect() as conn:
            columns = conn.execute(text("SELECT * FROM patient")).keys()
            assert "last_biopsy_at" not in columns and "open_alert_count" not in columns
            _procedure(conn, a, T3)  # no trigger left behind that names the dropped columns
    finally:
        db.dispose()


# Migration 0028: the latest diagnosis and the latest response call (or a relapse called since).


def _diagnosis(conn: Connection, patient: int, disease: str, on: str) -> int:
    did: int = conn.execute(
        text(
            "INSERT INTO diagnosis (patient_id, disease, classification, diagnosed_on, genetics)"
            " VALUES (:p, :d, 'WHO5', :on, '[]') RETURNING id"
        ),
        {"p": patient, "d": disease, "on": on},
    ).scalar_one()
    return did


_calls = itertools.count()


def _call(
    conn: Connection,
    patient: int,
    kind: str,
    category: str,
    on: str,
    *,
    ruleset: str = "R",
    edition: str = "E",
) -> int:
    aid: int = conn.execute(
        text(
            "INSERT INTO assessment (patient_id, assessed_on, category, ruleset,"
            " criteria_edition, evidence, missing_inputs, software_version, computed_at,"
            " recorded_by, flags, params, call_kind, inputs_digest) VALUES (:p, :on, :c, :r,"
            " :e, '[]', '[]', '0.1', '2024-01-01 00:00:00+00:00', 'test', '[]', '{}', :k, :n)"
            " RETURNING id"
        ),
        {
            "p": patient,
            "on": on,
            "c": category,
            "k": kind,
            "n": str(next(_calls)),
            "r": ruleset,
            "e": edition,
        },
    ).scalar_one()
    return aid


def _latest(conn: Connection, patient: int) -> tuple[str | None, str | None]:
    diagnosis, response = conn.execute(
        text("SELECT latest_diagnosis, latest_response FROM patient WHERE id = :p"),
        {"p": patient},
    ).one()
    return diagnosis, response


def _lift_the_append_only_guard(conn: Connection) -> None:
    """What a migration may do: assessments are append-only (0001), so an update or delete
    reaches the kept fact only once the guard is off."""
    if conn.dialect.name == "sqlite":
        for verb in ("update", "delete"):
            conn.execute(text(f"DROP TRIGGER assessment_no_{verb}"))
    else:
        conn.execute(text("ALTER TABLE assessment DISABLE TRIGGER assessment_append_only"))


def test_the_latest_diagnosis_follows_every_write_of_diagnoses(database: Database) -> None:
    with database.engine.begin() as conn:
        a, b = _patient(conn, "A"), _patient(conn, "B")
        assert _latest(conn, a) == (None, None)
        first = _diagnosis(conn, a, "mds", "2023-05-01")
        assert _latest(conn, a)[0] == "mds"
        aml = _diagnosis(conn, a, "aml", "2024-02-01")
        _diagnosis(conn, a, "mds_mpn", "2022-01-01")  # an older one entered later
        assert _latest(conn, a)[0] == "aml"
        # The same day: the latest row wins.
        same_day = _diagnosis(conn, a, "all", "2024-02-01")
        assert _latest(conn, a)[0] == "all"
        conn.execute(text("UPDATE diagnosis SET disease = 'cll' WHERE id = :i"), {"i": same_day})
        assert _latest(conn, a)[0] == "cll"
        conn.execute(
            text("UPDATE diagnosis SET diagnosed_on = '2024-01-31' WHERE id = :i"), {"i": same_day}
        )
        assert _latest(conn, a)[0] == "aml"
        # A corrected date makes the first one the latest; then it moves to the other patient.
        conn.execute(
            text("UPDATE diagnosis SET diagnosed_on = '2025-01-01' WHERE id = :i"), {"i": first}
        )
        assert _latest(conn, a)[0] == "mds"
        conn.execute(
            text("UPDATE diagnosis SET patient_id = :b WHERE id = :i"), {"b": b, "i": first}
        )
        assert (_latest(conn, a)[0], _latest(conn, b)[0]) == ("aml", "mds")
        conn.execute(text("DELETE FROM diagnosis WHERE id = :i"), {"i": first})
        assert _latest(conn, b) == (None, None)
        conn.execute(text("DELETE FROM diagnosis WHERE id = :i"), {"i": aml})
        assert _latest(conn, a)[0] == "cll"
        # A changed row id decides a tie of the same day.
        tie = _diagnosis(conn, a, "myeloma", "2024-01-31")
        assert _latest(conn, a)[0] == "myeloma"
        conn.execute(text("UPDATE diagnosis SET id = :n WHERE id = :i"), {"n": -tie, "i": tie})
        assert _latest(conn, a)[0] == "cll"


def test_the_latest_response_follows_every_call(database: Database) -> None:
    with database.engine.begin() as conn:
        a, b = _patient(conn, "A"), _patient(conn, "B")
        _call(conn, a, "baseline", "ADVERSE", "2024-01-01")  # not a response call
        assert _latest(conn, a)[1] is None
        _call(conn, a, "response", "CR", "2024-03-01")
        _call(conn, a, "response", "PR", "2024-02-01")  # an older one entered later
        assert _latest(conn, a)[1] == "CR"
        # A relapse call that says remission continues is no response; a relapse is.
        _call(conn, a, "relapse", "NOT_MET", "2024-06-01")
        _call(conn, a, "mrd", "MRD_POSITIVE", "2024-07-01")
        assert _latest(conn, a)[1] == "CR"
        relapse = _call(conn, a, "relapse", "HEMATOLOGIC_RELAPSE", "2024-08-01")
        assert _latest(conn, a)[1] == "HEMATOLOGIC_RELAPSE"
        # The same marrow's response call, stored after it: the relapse still wins.
        same_day = _call(conn, a, "response", "NO_RESPONSE", "2024-08-01")
        assert _latest(conn, a)[1] == "HEMATOLOGIC_RELAPSE"
        later = _call(conn, a, "response", "CR", "2024-12-01")
        assert _latest(conn, a)[1] == "CR"

        # Append-only, yet the fact follows an update or a delete once the guard is lifted.
        _lift_the_append_only_guard(conn)
        conn.execute(text("DELETE FROM assessment WHERE id = :i"), {"i": later})
        assert _latest(conn, a)[1] == "HEMATOLOGIC_RELAPSE"
        conn.execute(
            text("UPDATE assessment SET category = 'CONTINUED_REMISSION' WHERE id = :i"),
            {"i": relapse},
        )
        assert _latest(conn, a)[1] == "NO_RESPONSE"
        conn.execute(
            text("UPDATE assessment SET category = 'PD', call_kind = 'relapse' WHERE id = :i"),
            {"i": same_day},
        )
        assert _latest(conn, a)[1] == "PD"
        conn.execute(
            text("UPDATE assessment SET assessed_on = '2023-01-01' WHERE id = :i"), {"i": same_day}
        )
        assert _latest(conn, a)[1] == "CR"
        conn.execute(
            text("UPDATE assessment SET patient_id = :b, assessed_on = '2025-01-01' WHERE id = :i"),
            {"b": b, "i": same_day},
        )
        assert (_latest(conn, a)[1], _latest(conn, b)[1]) == ("CR", "PD")
        conn.execute(text("UPDATE assessment SET call_kind = 'mrd' WHERE id = :i"), {"i": same_day})
        assert _latest(conn, b)[1] is None
        # Two response calls of one day: the latest row wins, also after an id change.
        one = _call(conn, b, "response", "PR", "2025-02-01")
        _call(conn, b, "response", "VGPR", "2025-02-01")
        assert _latest(conn, b)[1] == "VGPR"
        conn.execute(text("UPDATE assessment SET id = :n WHERE id = :i"), {"n": 10**6, "i": one})
        assert _latest(conn, b)[1] == "PR"


def test_the_latest_response_follows_a_myeloma_progression(database: Database) -> None:
    """0029: a ``progression`` call of PD to confirm or confirmed stands for the latest response
    as a relapse does (the VGPR before it was listed), and wins over the same day's response;
    a progression call that is not met does not count."""
    with database.engine.begin() as conn:
        a = _patient(conn, "A")
        _call(conn, a, "response", "VGPR", "2024-03-01")
        _call(conn, a, "progression", "NOT_MET", "2024-03-01")
        assert _latest(conn, a)[1] == "VGPR"
        _call(conn, a, "progression", "PD_UNCONFIRMED", "2024-06-01")
        _call(conn, a, "response", "PR", "2024-06-01")  # the same day's, stored after it
        assert _latest(conn, a)[1] == "PD_UNCONFIRMED"
        # The next assessment does not meet PD: its response is the latest again.
        not_met = _call(conn, a, "progression", "NOT_MET", "2024-08-01")
        _call(conn, a, "response", "PR", "2024-08-01")
        assert _latest(conn, a)[1] == "PR"
        # ... or it does: both days are confirmed progression (new rows; the old stay).
        _lift_the_append_only_guard(conn)
        conn.execute(
            text("UPDATE assessment SET category = 'PD_CONFIRMED' WHERE id = :i"), {"i": not_met}
        )
        assert _latest(conn, a)[1] == "PD_CONFIRMED"
        conn.execute(text("DELETE FROM assessment WHERE id = :i"), {"i": not_met})
        assert _latest(conn, a)[1] == "PR"


def test_the_latest_response_counts_current_calls_only(database: Database) -> None:
    """0030: a call counts while it is current, the latest row of its patient, date, call kind,
    rule set and edition (services/assessments.current_assessments, what the patient page
    shows). A relapse or progression re-assessed "not met" (a new row: calls are append-only)
    no longer wins its day; 0029 counted every stored row, so the list still said relapse."""
    with database.engine.begin() as conn:
        a, b = _patient(conn, "A"), _patient(conn, "B")
        _call(conn, a, "response", "CR", "2024-03-01")
        _call(conn, a, "relapse", "HEMATOLOGIC_RELAPSE", "2024-06-01")
        _call(conn, a, "response", "NO_RESPONSE", "2024-06-01")
        assert _latest(conn, a)[1] == "HEMATOLOGIC_RELAPSE"
        not_met = _call(conn, a, "relapse", "NOT_MET", "2024-06-01")  # amended away
        assert _latest(conn, a)[1] == "NO_RESPONSE"
        _call(conn, a, "response", "CR", "2024-06-01")  # that day's response, stored anew
        assert _latest(conn, a)[1] == "CR"
        # Only a row of the same rule set and edition ends a call's turn.
        _call(conn, a, "relapse", "RELAPSE", "2024-09-01", edition="E1")
        _call(conn, a, "relapse", "NOT_MET", "2024-09-01", edition="E2")
        _call(conn, a, "relapse", "NOT_MET", "2024-09-01", ruleset="S", edition="E1")
        assert _latest(conn, a)[1] == "RELAPSE"
        # A progression to confirm, then not met on the same assessment.
        _call(conn, b, "response", "VGPR", "2024-03-01")
        _call(conn, b, "progression", "PD_UNCONFIRMED", "2024-06-01")
        _call(conn, b, "response", "PR", "2024-06-01")
        assert _latest(conn, b)[1] == "PD_UNCONFIRMED"
        _call(conn, b, "progression", "NOT_MET", "2024-06-01")
        assert _latest(conn, b)[1] == "PR"
        # A later response row of a day replaces the earlier one of that day.
        _call(conn, b, "response", "VGPR", "2024-06-01")
        assert _latest(conn, b)[1] == "VGPR"
        # Once the later row is gone (a writer that lifts the guard), the earlier counts again.
        _lift_the_append_only_guard(conn)
        conn.execute(text("DELETE FROM assessment WHERE id = :i"), {"i": not_met})
        assert _latest(conn, a)[1] == "RELAPSE"
        conn.execute(
            text("UPDATE assessment SET ruleset = 'R' WHERE patient_id = :p AND ruleset = 'S'"),
            {"p": a},
        )  # now the latest row of R's E1 relapse calls of 2024-09-01 is not met
        assert _latest(conn, a)[1] == "HEMATOLOGIC_RELAPSE"


def test_the_triggers_relapse_categories_are_the_codes(database: Database) -> None:
    """Which relapse and progression calls stand in for a later response is written into
    migration 0030's triggers (a migration is frozen; 0029's before it);
    criteria/categories.SUPERSEDING_CATEGORIES
    and assess/story.RELAPSE_KINDS are the code's. Every category a relapse or progression table
    can emit (and the states a progression is confirmed in) is tried with every call kind that
    can carry one: when the lists differ, a migration must re-create the triggers and recompute
    patient.latest_response."""
    sets = rulesets()
    relapse_tables = [k for k in sets if k in RELAPSE_BY_RULESET or "RELAPSE" in k.upper()]
    tried = set(SUPERSEDING_CATEGORIES).union(
        *(sets[k].categories for k in relapse_tables),
        *(states for states in CONFIRMATION_BY_RULESET.values()),
    )
    assert len(tried) > len(SUPERSEDING_CATEGORIES)
    kinds = (*RELAPSE_KINDS, "mrd_event")  # and one that never stands for a response
    with database.engine.begin() as conn:
        differ = []
        for n, (kind, category) in enumerate(itertools.product(kinds, sorted(tried))):
            patient = _patient(conn, f"P{n}")
            _call(conn, patient, "response", "CR", "2024-01-01")
            _call(conn, patient, kind, category, "2024-06-01")
            counts = kind in RELAPSE_KINDS and category in SUPERSEDING_CATEGORIES
            if _latest(conn, patient)[1] != (category if counts else "CR"):
                differ.append((kind, category))
    assert not differ, (
        f"criteria/categories.SUPERSEDING_CATEGORIES (or assess/story.RELAPSE_KINDS) and the"
        f" triggers of patient.latest_response disagree on {differ}: a migration must"
        f" re-create the triggers (see 0030)"
    )


def test_an_upgraded_database_gets_its_latest_diagnoses_and_calls(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.upgrade("0027")
        with db.engine.begin() as conn:
            a, b, c = _patient(conn, "A"), _patient(conn, "B"), _patient(conn, "C")
            _diagnosis(conn, a, "mds", "2023-01-01")
            _diagnosis(conn, a, "aml", "2024-01-01")
            _diagnosis(conn, b, "myeloma", "2024-01-01")
            _call(conn, a, "response", "CR", "2024-03-01")
            _call(conn, a, "relapse", "HEMATOLOGIC_RELAPSE", "2024-09-01")
            _call(conn, a, "response", "NO_RESPONSE", "2024-09-01")
            _call(conn, b, "response", "VGPR", "2024-03-01")
            _call(conn, b, "relapse", "NOT_MET", "2024-04-01")
        db.upgrade()
        with db.engine.begin() as conn:
            assert _latest(conn, a) == ("aml", "HEMATOLOGIC_RELAPSE")
            assert _latest(conn, b) == ("myeloma", "VGPR")
            assert _latest(conn, c) == (None, None)
            _diagnosis(conn, c, "cll", "2024-05-01")  # and the triggers work from then on
            _call(conn, c, "response", "PR", "2024-06-01")
            assert _latest(conn, c) == ("cll", "PR")
        db.downgrade("0027")
        with db.engine.begin() as conn:
            columns = conn.execute(text("SELECT * FROM patient")).keys()
            assert "latest_diagnosis" not in columns and "latest_response" not in columns
            if conn.dialect.name == "sqlite":
                triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            else:
                triggers = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            names = conn.execute(text(triggers)).scalars().all()
            assert names and not [n for n in names if "latest" in n], names
            # No trigger left behind that names the dropped columns.
            _diagnosis(conn, c, "aml", "2024-07-01")
            _call(conn, c, "response", "CR", "2024-08-01")
    finally:
        db.dispose()


def _indexes(conn: Connection, table: str) -> set[str]:
    if conn.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = :t"
    return set(conn.execute(text(query), {"t": table}).scalars())


def test_an_upgraded_database_lists_its_myeloma_progressions(database_url: str) -> None:
    """0029 recomputes every patient's latest response: a stored progression (a ``PD`` of
    before confirmation was recorded, or a PD to confirm) now stands for it; downgraded, 0028's
    triggers and facts come back."""
    db = Database(database_url)
    try:
        db.upgrade("0028")
        with db.engine.begin() as conn:
            a, b, c = _patient(conn, "A"), _patient(conn, "B"), _patient(conn, "C")
            for patient in (a, b, c):
                _call(conn, patient, "response", "VGPR", "2024-03-01")
            _call(conn, a, "progression", "PD", "2024-06-01")  # stored by an earlier version
            _call(conn, a, "response", "PR", "2024-06-01")
            _call(conn, b, "progression", "PD_UNCONFIRMED", "2024-06-01")
            _call(conn, c, "progression", "NOT_MET", "2024-06-01")
            assert [_latest(conn, p)[1] for p in (a, b, c)] == ["PR", "VGPR", "VGPR"]
            assert "ix_patient_last_biopsy_asc" not in _indexes(conn, "patient")
        db.upgrade()
        with db.engine.begin() as conn:
            assert [_latest(conn, p)[1] for p in (a, b, c)] == ["PD", "PD_UNCONFIRMED", "VGPR"]
            _call(conn, c, "progression", "PD_CONFIRMED", "2024-08-01")  # triggers from then on
            assert _latest(conn, c)[1] == "PD_CONFIRMED"
            assert "ix_patient_last_biopsy_asc" in _indexes(conn, "patient")
            assert "ix_assessment_progression_category" in _indexes(conn, "assessment")
        db.downgrade("0028")
        with db.engine.begin() as conn:
            assert [_latest(conn, p)[1] for p in (a, b, c)] == ["PR", "VGPR", "VGPR"]
            _call(conn, a, "relapse", "RELAPSE", "2024-09-01")  # 0028's triggers are back
            _call(conn, b, "progression", "PD_CONFIRMED", "2024-09-01")
            assert [_latest(conn, p)[1] for p in (a, b)] == ["RELAPSE", "VGPR"]
            assert "ix_patient_last_biopsy_asc" not in _indexes(conn, "patient")
            assert "ix_assessment_progression_category" not in _indexes(conn, "assessment")
    finally:
        db.dispose()


def test_an_upgraded_database_lists_its_current_calls(database_url: str) -> None:
    """0030 recomputes every patient's latest response from current calls only: a relapse
    amended away before the upgrade no longer wins its day; downgraded, 0029's triggers (every
    stored row counts) and facts come back."""
    db = Database(database_url)
    try:
        db.upgrade("0029")
        with db.engine.begin() as conn:
            a, b = _patient(conn, "A"), _patient(conn, "B")
            _call(conn, a, "response", "CR", "2024-03-01")
            _call(conn, a, "relapse", "HEMATOLOGIC_RELAPSE", "2024-06-01")
            _call(conn, a, "relapse", "NOT_MET", "2024-06-01")
            _call(conn, b, "response", "VGPR", "2024-03-01")
            _call(conn, b, "progression", "PD_UNCONFIRMED", "2024-06-01")
            assert [_latest(conn, p)[1] for p in (a, b)] == [
                "HEMATOLOGIC_RELAPSE",
                "PD_UNCONFIRMED",
            ]
        db.upgrade()
        with db.engine.begin() as conn:
            assert [_latest(conn, p)[1] for p in (a, b)] == ["CR", "PD_UNCONFIRMED"]
            _call(conn, b, "progression", "NOT_MET", "2024-06-01")  # triggers from then on
            assert _latest(conn, b)[1] == "VGPR"
        db.downgrade("0029")
        with db.engine.begin() as conn:
            assert [_latest(conn, p)[1] for p in (a, b)] == [
                "HEMATOLOGIC_RELAPSE",
                "PD_UNCONFIRMED",
            ]
            _call(conn, a, "relapse", "RELAPSE", "2024-09-01")  # 0029's triggers are back
            _call(conn, a, "relapse", "NOT_MET", "2024-09-01")
            assert _latest(conn, a)[1] == "RELAPSE"
    finally:
        db.dispose()


def _page_plan(db: Database, query: PatientQuery) -> str:
    """The query plan of the search's first statement (the page's ids, in order), as the
    backend would run it on a cohort large enough for an index: PostgreSQL is told to avoid
    sequential scans and sorts (its costs prefer both on a few rows)."""
    seen: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        with db.unit_of_work("test") as uow:
            search(uow, query)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    statement, params = seen[0]
    with db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
            return "\n".join(str(r[-1]) for r in rows)
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        rows = conn.exec_driver_sql(f"EXPLAIN {statement}", params).all()
        return "\n".join(str(r[0]) for r in rows)


def test_the_list_by_last_biopsy_reads_an_index_in_either_direction(database: Database) -> None:
    """Newest first reads 0026's index; oldest first read every patient and sorted them before
    its LIMIT ("USE TEMP B-TREE FOR RIGHT PART OF ORDER BY") until 0029's ascending index (NULLs
    last on PostgreSQL, as the search orders)."""
    with database.engine.begin() as conn:
        for n, at in enumerate((T1, T2, T3, None)):
            patient = _patient(conn, f"P{n}")
            if at is not None:
                _procedure(conn, patient, at)
    for descending, index in (
        (True, "ix_patient_last_biopsy"),
        (False, "ix_patient_last_biopsy_asc"),
    ):
        query = PatientQuery(sort="last_biopsy", descending=descending, limit=2)
        plan = _page_plan(database, query)
        assert f"{index}\n" in f"{plan}\n" or f"{index} " in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
        with database.unit_of_work("test") as uow:
            page = search(uow, PatientQuery(sort="last_biopsy", descending=descending, limit=4))
        days = [h.last_biopsy for h in page.items]
        assert days[-1] is None and days[:3] == sorted(days[:3], reverse=descending)  # type: ignore[type-var]
