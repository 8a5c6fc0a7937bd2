"""`trephine export COHORT --format redcap` checked against REDCap's documented format rules
(docs/research.md says where each rule was checked), on the demo cohort with its study.

The rules are written out here, not imported from ``present/redcap.py``, so a change there that
breaks one fails here."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.demo.study import STUDY, VISITS, ensure_demo_study
from trephine.domain.cohort import CohortDefinition
from trephine.services import cohorts
from trephine.settings import get_settings
from trephine.store.database import Database
from trephine.testing.fixtures import load_demo_database

KEY = "a-redcap-test-key-0123456789"
#: The 18 data dictionary columns, in REDCap's order.
HEADERS = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]
FIELD_TYPES = {
    "text",
    "notes",
    "dropdown",
    "radio",
    "checkbox",
    "yesno",
    "truefalse",
    "calc",
    "file",
    "slider",
    "descriptive",
    "sql",
}
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
runner = CliRunner()


def redcap_unique_event_name(event_name: str, arm_num: int) -> str:
    """The unique event name REDCap derives from an event name (REDCap 15.7.6,
    ``Project::getUniqueEventNames``; docs/research.md): letters, digits, ``_`` and spaces kept,
    spaces to ``_``, the first 18 characters, lower case, ``_`` trimmed, ``_arm_<n>``. (A repeat
    in the arm also gets ``b``, ``c``, ...: checked in ``test_long_visit_names``.)"""
    kept = "".join(c for c in event_name.strip() if c.isascii() and (c.isalnum() or c in "_ "))
    return kept.replace(" ", "_")[:18].lower().strip("_") + f"_arm_{arm_num}"


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TREPHINE_EXPORT_KEY", KEY)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def demo(database: Database) -> Database:
    load_demo_database(database.url, 24, seed=7)
    with database.unit_of_work("coordinator") as uow:
        assert ensure_demo_study(uow) > 0
        cohorts.define(uow, "ind", CohortDefinition(study=STUDY))
        cohorts.define(uow, "aml", CohortDefinition(diseases=("AML",)))
    return database


def _read(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _export(db: Database, out: Path, level: str, cohort: str = "ind") -> None:
    result = runner.invoke(
        app,
        [
            "export", cohort, "--format", "redcap", "--deidentify", level,
            "--out", str(out), "--database-url", db.url,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("level", ["safe-harbor", "limited", "none"])
def test_redcap_files_follow_the_format_rules(demo: Database, tmp_path: Path, level: str) -> None:
    out = tmp_path / "rc"
    _export(demo, out, level)
    dictionary = _read(out / "redcap_data_dictionary.csv")
    assert dictionary[0] == HEADERS
    rows = dictionary[1:]
    names = [r[0] for r in rows]
    assert names[0] == "record_id" and rows[0][3] == "text"
    assert len(set(names)) == len(names)
    for r in rows:
        assert len(r) == len(HEADERS)
        assert NAME.match(r[0]) and len(r[0]) <= 26, r[0]
        assert r[3] in FIELD_TYPES, r
        assert r[7] in ("", "date_ymd", "integer", "number"), r
        assert r[4].strip(), f"{r[0]} has no label"
    forms = [r[1] for r in rows]
    # The fields of one form are contiguous rows.
    assert [f for i, f in enumerate(forms) if i == 0 or forms[i - 1] != f] == sorted(
        set(forms), key=forms.index
    )
    events = _read(out / "redcap_events.csv")
    assert events[0] == [
        "event_name",
        "arm_num",
        "day_offset",
        "offset_min",
        "offset_max",
        "unique_event_name",
    ]
    unique = {r[5]: r for r in events[1:]}
    for e in events[1:]:
        # REDCap derives the unique name from the event name and does not take ours: the
        # records and mappings must carry the name it derives.
        assert e[5] == redcap_unique_event_name(e[0], int(e[1])) and NAME.match(e[5])
        # What REDCap's event import checks: name ≤ 30 characters, a whole-number day offset
        # (negative allowed), offset range ≥ 0.
        assert 1 <= len(e[0]) <= 30
        assert int(e[3]) >= 0 and int(e[4]) >= 0
        int(e[2])
    assert {e[0] for e in events[1:]} == {v.name for v in VISITS}
    assert min(int(e[2]) for e in events[1:]) < 0  # the screening visit, before its anchor
    arms = _read(out / "redcap_arms.csv")
    assert arms[0] == ["arm_num", "name"]
    arm_num = {name: num for num, name in arms[1:]}
    assert set(arm_num) == {"7-plus-3", "7-plus-3-midostaurin"}
    # REDCap's arm import: arm numbers 1 to 99, names of at most 50 characters.
    assert all(1 <= int(n) <= 99 and len(name) <= 50 for n, name in arms[1:])
    mappings = _read(out / "redcap_instrument_event_mappings.csv")
    assert mappings[0] == ["arm_num", "unique_event_name", "form"]
    assert all(m[1] in unique and m[2] in forms for m in mappings[1:])
    records = _read(out / "redcap_records.csv")
    header = records[0]
    assert header[:2] == ["record_id", "redcap_event_name"]
    assert set(header[2:]) <= set(names) and "redcap_event_name" not in names
    kinds = {r[0]: (r[3], r[7]) for r in rows}
    mapped = {(m[1], m[2]) for m in mappings[1:]}
    form_of = {r[0]: r[1] for r in rows}
    assert len(records) > 1
    for rec in records[1:]:
        assert rec[1] in unique, rec[1]
        values = dict(zip(header, rec, strict=True))
        arm = values.get("arm")
        if arm:
            assert unique[rec[1]][1] == arm_num[arm]
        for column, cell in values.items():
            if column in ("record_id", "redcap_event_name") or cell == "":
                continue
            # A value only where its form is designated for the event.
            assert (rec[1], form_of[column]) in mapped, (column, rec[1])
            kind, validation = kinds[column]
            if kind == "yesno":
                assert cell in ("0", "1")
            elif validation == "integer":
                int(cell)
            elif validation == "number":
                float(cell)
            elif validation == "date_ymd":
                dt.date.fromisoformat(cell)
    with demo.unit_of_work("r") as uow:
        ids = set(cohorts.evaluate(uow, "ind").members)
    record_ids = {r[0] for r in records[1:]}
    if level == "none":
        assert record_ids == ids
    else:
        assert not record_ids & ids and all(r.startswith("P") for r in record_ids)
        blob = b"".join(p.read_bytes() for p in out.iterdir())
        assert not re.search(rb"DEMO-\d{4}", blob)  # the record ids of the demo
    if level == "safe-harbor":
        blob = b"".join(p.read_bytes() for p in out.iterdir())
        assert not re.search(rb"(19|20)\d\d-[01]\d-[0-3]\d", blob)
    # Visit values come from the mapped biopsy's specimens: some visit has a marrow count.
    blasts = [c for c in header if c.startswith("differential_counts_blast")]
    assert blasts and any(rec[header.index(blasts[0])] for rec in records[1:]), (
        "no visit carries a differential"
    )


def test_redcap_needs_a_cohort_with_a_study(demo: Database, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "export", "aml", "--format", "redcap", "--out", str(tmp_path / "x"),
            "--database-url", demo.url,
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "a cohort that selects on a study" in result.output


# ------------------------------------------------------------------ REDCap's naming, pure


def _files(events: list[Any], arms: list[str] | None = None) -> dict[str, bytes]:
    from trephine.present import redcap

    arms = arms or ["a"]
    record = redcap.Record(
        "P1",
        arms[0],
        {"sex": "female"},
        True,
        [
            redcap.Visit(e.name, 3, 4, "window", {("blood_count", "anc"): (1.2, "10^9/L")})
            for e in events
        ],
    )
    return redcap.write_redcap(
        study="S", arms=arms, events=events, records=[record], dates_as_days=True, label="x"
    )


def _rows(blob: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(blob.decode())))


def test_long_visit_names_get_the_unique_event_names_redcap_derives() -> None:
    from trephine.present.redcap import Event

    events = [
        Event("end_of_consolidation_1", "End of consolidation 1", 60, 7),
        Event("end_of_consolidation_2", "End of consolidation 2", 120, 7),
        Event("screening", "Screening", -30, 14),
    ]
    files = _files(events, ["a", "b"])
    rows = _rows(files["redcap_events.csv"])[1:]
    unique = {(r[0], r[1]): r[5] for r in rows}
    # 22 characters: REDCap keeps 18 and suffixes the second one in the arm with "b".
    assert unique[("end_of_consolidation_1", "1")] == "end_of_consolidati_arm_1"
    assert unique[("end_of_consolidation_2", "1")] == "end_of_consolidati_arm_1b"
    assert unique[("end_of_consolidation_2", "2")] == "end_of_consolidati_arm_2b"
    assert unique[("screening", "2")] == "screening_arm_2"
    assert [r[2] for r in rows[:3]] == ["-30", "60", "120"]  # in REDCap's order: by day offset
    records = _rows(files["redcap_records.csv"])
    assert [r[1] for r in records[1:]] == [
        "screening_arm_1",
        "end_of_consolidati_arm_1",
        "end_of_consolidati_arm_1b",
    ]
    mappings = _rows(files["redcap_instrument_event_mappings.csv"])[1:]
    assert {m[1] for m in mappings} == set(unique.values())
    # The stem of REDCap's own example events ("Deadline to opt out of study" →
    # deadline_to_opt_ou_arm_2 in REDCapR's exports of that project).
    assert redcap_unique_event_name("Deadline to opt out of study", 2) == "deadline_to_opt_ou_arm_2"
    from trephine.present.redcap import unique_event_stem

    assert unique_event_stem("Deadline to opt out of study") == "deadline_to_opt_ou"
    assert unique_event_stem("  Day 14 (nadir) ") == "day_14_nadir"


@pytest.mark.parametrize(
    ("events", "arms", "field"),
    [
        # REDCap refuses event names over 30 characters.
        ([("a" * 31, 0, 0)], ["a"], "visit"),
        # Two same-day visits whose names REDCap cuts to the same 18 characters.
        ([("end_of_consolidation_1", 60, 0), ("end_of_consolidation_2", 60, 0)], ["a"], "visit"),
        # Arm names of at most 50 characters.
        ([("screening", 0, 0)], ["x" * 51], "arm"),
    ],
)
def test_what_redcap_would_refuse_is_refused_naming_the_field(
    events: list[tuple[str, int, int]], arms: list[str], field: str
) -> None:
    from trephine.errors import ValidationError
    from trephine.present.redcap import Event

    with pytest.raises(ValidationError) as refused:
        _files([Event(n, n, day, window) for n, day, window in events], arms)
    assert refused.value.field == field
    assert "REDCap" in str(refused.value)
