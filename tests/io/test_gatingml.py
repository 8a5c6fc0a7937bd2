"""Gating-ML 2.0: the ISAC compliance set event by event, export round trips, and refusals."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from testdata import DATA
from trephine.analysis.flow.strategy import FcsEvents, GatingResult, apply_strategy
from trephine.errors import ParseError, ValidationError
from trephine.io.fcs import read_fcs
from trephine.io.gatingml import parse_gatingml, read_gatingml, to_gatingml_string

# Needed at collection time to name the parametrized cases, when fixtures are not available yet.
FLOW = DATA / "flow"


def _cases() -> list[tuple[str, str, str, int]]:
    # The expected (document, gate, truth file, count) table is the manifest of the test data.
    manifest = FLOW / "UPSTREAM-MANIFEST.md"
    text = manifest.read_text(encoding="utf-8")
    rows = re.findall(r"\| `gml/(\S+)` \| `(\S+)` \| `truth/(\S+)` \| (\d+) \|", text)
    return [(d, g, t, int(c)) for d, g, t, c in rows]


CASES = _cases()


@pytest.fixture(scope="module")
def data1(real_data: Path) -> FcsEvents:
    return FcsEvents(read_fcs(real_data / "flow/gatingml2_compliance/data1.fcs"))


def _gate(doc: Path, events: FcsEvents) -> GatingResult:
    with warnings.catch_warnings():
        # Several documents use compensation-ref="FCS" on data1.fcs, which has no spillover.
        warnings.simplefilter("ignore")
        return apply_strategy(read_gatingml(doc), events)


@pytest.mark.shared_data
def test_manifest_lists_all_51_memberships() -> None:
    assert len(CASES) == 51


@pytest.mark.shared_data
@pytest.mark.parametrize(("doc", "gate", "truth", "count"), CASES, ids=[c[1] for c in CASES])
def test_compliance_membership_identical(
    real_data: Path, data1: FcsEvents, doc: str, gate: str, truth: str, count: int
) -> None:
    base = real_data / "flow/gatingml2_compliance"
    expected = np.loadtxt(base / "truth" / truth, dtype=int).astype(bool)
    assert int(expected.sum()) == count
    got = _gate(base / "gml" / doc, data1).memberships[gate]
    assert got.shape == expected.shape
    mismatched = np.flatnonzero(got != expected)
    assert mismatched.size == 0, f"{mismatched.size} events differ, first {mismatched[:5]}"


@pytest.mark.shared_data
def test_all_gates_document_and_its_export_round_trip(real_data: Path, data1: FcsEvents) -> None:
    base = real_data / "flow/gatingml2_compliance"
    strategy = read_gatingml(base / "gml/gml_all_gates.xml")
    first = _gate(base / "gml/gml_all_gates.xml", data1)
    exported = to_gatingml_string(strategy)
    again = parse_gatingml(exported, source="exported")
    assert [g.id for g in again.gates] == [g.id for g in strategy.gates]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        second = apply_strategy(again, data1)
    assert first.memberships.keys() == second.memberships.keys()
    for gid, mask in first.memberships.items():
        assert np.array_equal(mask, second.memberships[gid]), gid
    # 49 of the 51 truths live in this one document.
    hits = 0
    for _doc, gate, truth, _count in CASES:
        if gate in second.memberships:
            expected = np.loadtxt(base / "truth" / truth, dtype=int).astype(bool)
            assert np.array_equal(second.memberships[gate], expected), gate
            hits += 1
    assert hits == 49


@pytest.mark.shared_data
@pytest.mark.parametrize("doc", sorted({c[0] for c in CASES}))
def test_each_document_round_trips(real_data: Path, data1: FcsEvents, doc: str) -> None:
    path = real_data / "flow/gatingml2_compliance/gml" / doc
    first = _gate(path, data1)
    exported = to_gatingml_string(read_gatingml(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        second = apply_strategy(parse_gatingml(exported), data1)
    for gid, mask in first.memberships.items():
        assert np.array_equal(mask, second.memberships[gid]), gid


HEAD = (
    '<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
    'xmlns:transforms="http://www.isac-net.org/std/Gating-ML/v2.0/transformations" '
    'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">'
)


def _doc(body: str) -> str:
    return HEAD + body + "</gating:Gating-ML>"


def test_malformed_xml_is_a_parse_error_with_line() -> None:
    with pytest.raises(ParseError, match=r"gates\.xml.*line 2"):
        parse_gatingml("<a>\n<b></a>", source="gates.xml")


def test_missing_bound_value_names_gate_and_field() -> None:
    body = (
        '<gating:RectangleGate gating:id="R"><gating:dimension '
        'gating:compensation-ref="uncompensated" gating:min="abc">'
        '<data-type:fcs-dimension data-type:name="FSC-A"/></gating:dimension>'
        "</gating:RectangleGate>"
    )
    with pytest.raises(ValidationError) as err:
        parse_gatingml(_doc(body), source="g.xml")
    assert "RectangleGate 'R' dimension 1 @min" in str(err.value)
    assert "g.xml" in str(err.value)


def test_unknown_transform_reference_is_refused() -> None:
    body = (
        '<gating:RectangleGate gating:id="R"><gating:dimension '
        'gating:compensation-ref="uncompensated" gating:transformation-ref="Tx" gating:min="0">'
        '<data-type:fcs-dimension data-type:name="FSC-A"/></gating:dimension>'
        "</gating:RectangleGate>"
    )
    with pytest.raises(ValidationError, match=r"transformation-ref.*'Tx'"):
        parse_gatingml(_doc(body), source="g.xml")


def test_bad_logicle_parameters_name_the_transformation() -> None:
    body = (
        '<transforms:transformation transforms:id="L"><transforms:logicle transforms:T="262144" '
        'transforms:W="3" transforms:M="4.5" transforms:A="0"/></transforms:transformation>'
        '<gating:RectangleGate gating:id="R"><gating:dimension '
        'gating:compensation-ref="uncompensated" gating:min="0">'
        '<data-type:fcs-dimension data-type:name="FSC-A"/></gating:dimension>'
        "</gating:RectangleGate>"
    )
    with pytest.raises(ValidationError, match=r"transformation 'L' logicle.*logicle\.W"):
        parse_gatingml(_doc(body), source="g.xml")


def test_document_without_gates_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least one gate"):
        parse_gatingml(_doc(""))


def test_not_gating_ml_is_refused() -> None:
    with pytest.raises(ValidationError, match="root element"):
        parse_gatingml("<svg/>", source="x.xml")


@pytest.mark.shared_data
def test_mutated_documents_parse_and_gate_or_fail_typed(real_data: Path, data1: FcsEvents) -> None:
    # Any mutation of a valid document gives a strategy that gates, or a TrephineError:
    # never another exception (seeded, so a failure is reproducible).
    import random

    from trephine.errors import TrephineError

    docs = [
        p.read_bytes() for p in sorted((real_data / "flow/gatingml2_compliance/gml").glob("*.xml"))
    ]
    rng = random.Random(20261122)
    values = ["nan", "inf", "1e999", "", "x", "0", "-1", "1e-320", "1e300", "FL1-H", "Time", "2"]
    gated = 0
    for _ in range(300):
        text = rng.choice(docs).decode("latin-1")
        kind = rng.randrange(3)
        if kind == 0:
            pos = rng.randrange(len(text))
            text = text[:pos] + chr(rng.randrange(256)) + text[pos + 1 :]
        elif kind == 1:
            a = rng.randrange(len(text))
            text = text[:a] + text[a + rng.randrange(1, 60) :]
        else:
            starts = [m.end() for m in re.finditer(r'(?:value|min|max|name|ref|T|W|M|A)="', text)]
            q = rng.choice(starts)
            text = text[:q] + rng.choice(values) + text[text.index('"', q) :]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                apply_strategy(parse_gatingml(text.encode("latin-1")), data1)
            gated += 1
        except TrephineError:
            pass
    assert gated > 0
