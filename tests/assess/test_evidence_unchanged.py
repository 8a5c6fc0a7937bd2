"""The evidence of every worked case and of the demo cohort's calls, held to a frozen list of
digests: the criteria engine's internals (how a compound checks its parts, how the roles of a
matched row are found) may change, the evidence they record may not.

Each digest is the SHA-256 (first 16 hex digits) of the canonical JSON of the evidence lists —
values, comparators, thresholds, outcomes, roles, in their order — of:

- every case of ``clinical-cases.json`` (vendored in ``tests/data/spec``), of
  ``tests/criteria/review_cases.json`` and of ``docs/criteria/examples/cases.json``, through
  ``trephine criteria evaluate`` (:func:`trephine.criteria.cases.evaluate_case`): one digest per
  case, of each evidence list of its output by where it sits;
- the seeded demo cohort (:data:`PATIENTS` patients, default seed) loaded as ``trephine demo``
  does and assessed by the registry as ``trephine assess --all`` does: one digest per patient,
  of each call's date, kind, rule set, rule, category and evidence.

The list (``evidence_digests.json``) was made with the engine as it was before the one-pass
role walk (main at 67c8fa9)::

    cd tests/assess
    PYTHONPATH=../../src python test_evidence_unchanged.py > evidence_digests.json

Run it the same way after a change that *means* to change evidence, and review the diff.
Regenerated since: once by lane words13, when the story's supersession sentence took its
category's words from ``criteria.categories.category_words`` ("haematologic relapse", was
"hematologic relapse"): the 12 demo patients with a response call superseded by a haematologic
relapse changed, no worked case did. Once by lane sameday, when each MRD call (one per MRD
result) began to end its evidence with the item naming its sample (``{"input": "sample",
"value": "bone marrow"}`` or ``"peripheral blood"``, :func:`trephine.assess.call.on_sample`):
the 22 demo patients with an MRD call changed, and with that item left out every demo digest is
the one before; no worked case changed.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIGESTS = Path(__file__).with_name("evidence_digests.json")
CASE_FILES = (
    "tests/data/spec/clinical-cases.json",
    "tests/criteria/review_cases.json",
    "docs/criteria/examples/cases.json",
)
PATIENTS = 40


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _evidence_lists(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``evidence`` list of a case's output, with where it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "evidence" and isinstance(value, list):
                yield f"{path}/{key}", value
            else:
                yield from _evidence_lists(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _evidence_lists(value, f"{path}[{i}]")


def case_digests() -> dict[str, str]:
    from trephine.criteria.cases import evaluate_case

    digests: dict[str, str] = {}
    for name in CASE_FILES:
        data = json.loads((ROOT / name).read_text(encoding="utf-8"), parse_float=Decimal)
        for i, case in enumerate(data["cases"]):
            digests[f"{name}#{i}:{case.get('id')}"] = _digest(
                dict(_evidence_lists(evaluate_case(case)))
            )
    return digests


def demo_digests(folder: Path) -> dict[str, str]:
    from trephine.testing.fixtures import assess_demo

    return {
        f"demo:{patient}": _digest(
            [
                [c.date.isoformat(), c.kind, c.ruleset, c.rule, c.category, list(c.evidence)]
                for c in calls.calls
            ]
        )
        for patient, calls in assess_demo(f"sqlite:///{folder / 'demo.db'}", PATIENTS).items()
    }


def _differences(expected: dict[str, str], found: dict[str, str]) -> list[str]:
    return [
        f"{key}: {expected.get(key)} -> {found.get(key)}"
        for key in sorted(expected.keys() | found.keys())
        if expected.get(key) != found.get(key)
    ]


@pytest.mark.shared_data
def test_the_evidence_of_every_worked_case_is_unchanged() -> None:
    expected = json.loads(DIGESTS.read_text(encoding="utf-8"))
    frozen = {k: v for k, v in expected.items() if not k.startswith("demo:")}
    assert len(frozen) > 350
    assert _differences(frozen, case_digests()) == []


def test_the_evidence_of_the_demo_cohorts_calls_is_unchanged(tmp_path: Path) -> None:
    expected = json.loads(DIGESTS.read_text(encoding="utf-8"))
    frozen = {k: v for k, v in expected.items() if k.startswith("demo:")}
    assert len(frozen) == PATIENTS
    assert _differences(frozen, demo_digests(tmp_path)) == []


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        every = {**case_digests(), **demo_digests(Path(folder))}
    json.dump(every, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
