"""Rows written with plain SQL, as a writer other than the services would (the migration and
trigger tests of tests/store, a database an earlier version wrote): a few timestamps, a patient
row, an assessment row and an alert row."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, text

T1 = "2024-01-10 09:00:00+00:00"
T2 = "2024-03-05 14:30:00+00:00"
T3 = "2024-06-01 08:15:00+00:00"


def insert_patient(conn: Connection, external_id: str) -> int:
    """A patient row (female, created 2024-01-01); its id."""
    pid: int = conn.execute(
        text(
            "INSERT INTO patient (external_id, sex, created_at)"
            " VALUES (:e, 'female', '2024-01-01 00:00:00+00:00') RETURNING id"
        ),
        {"e": external_id},
    ).scalar_one()
    return pid


def insert_assessment(
    conn: Connection,
    patient: int,
    on: dt.date,
    kind: str,
    category: str,
    *,
    ruleset: str,
    edition: str,
    rule: str | None,
    evidence: Sequence[Mapping[str, Any]],
    digest: str,
    software_version: str,
    at: str = T1,
    flags: Sequence[str] = (),
    citation: str | None = None,
) -> int:
    """An assessment row (a stored call, revision 1) as an earlier version wrote it; its id."""
    aid: int = conn.execute(
        text(
            "INSERT INTO assessment (patient_id, assessed_on, category, ruleset,"
            " criteria_edition, matched_rule, evidence, missing_inputs, software_version,"
            " computed_at, recorded_by, citation, flags, params, call_kind, inputs_digest)"
            " VALUES (:p, :on, :c, :rs, :ed, :rule, :ev, '[]', :v, :at, 'assess', :cite, :flags,"
            " '{}', :k, :d) RETURNING id"
        ),
        {
            "p": patient,
            "on": on.isoformat(),
            "c": category,
            "rs": ruleset,
            "ed": edition,
            "rule": rule,
            "ev": json.dumps([dict(e) for e in evidence], default=str),
            "v": software_version,
            "at": at,
            "cite": citation,
            "flags": json.dumps(list(flags)),
            "k": kind,
            "d": digest,
        },
    ).scalar_one()
    return aid


def insert_alert(
    conn: Connection,
    patient: int,
    on: dt.date,
    code: str,
    message: str,
    *,
    ruleset: str,
    software_version: str,
    at: str = T1,
) -> int:
    """An open alert row as an earlier version raised it; its id."""
    alert_id: int = conn.execute(
        text(
            "INSERT INTO alert (patient_id, raised_on, code, message, ruleset, software_version,"
            " raised_at, raised_by) VALUES (:p, :on, :code, :m, :rs, :v, :at, 'assess')"
            " RETURNING id"
        ),
        {
            "p": patient,
            "on": on.isoformat(),
            "code": code,
            "m": message,
            "rs": ruleset,
            "v": software_version,
            "at": at,
        },
    ).scalar_one()
    return alert_id
