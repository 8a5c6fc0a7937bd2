"""``trephine flow gate FILE … --store-populations GATE,… --specimen ACC`` stores any gated
population (not only MRD) as a draft ``population`` result with its parent, counts, Wilson
intervals and the FCS file's hash; unmapped gates, unknown gates and specimens are refused and
nothing is written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.analysis.stats import wilson
from trephine.cli.main import app
from trephine.domain.results import Population, ResultKind
from trephine.importers.flow_populations import parse_gate_list, populations_from_counts
from trephine.services import audit, results
from trephine.store.database import Database
from trephine.workflow import ResultState

pytestmark = pytest.mark.shared_data


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def gate_args(tube: Path, gating: Path, db: Database, *extra: str) -> list[str]:
    return [
        "flow",
        "gate",
        str(tube),
        "--gating-ml",
        str(gating),
        "--database-url",
        url_of(db),
        "--json",
        *extra,
    ]


def test_gates_are_stored_as_draft_populations_with_provenance(
    seeded: Database, mrd_tube: Path, mrd_gating_ml: Path
) -> None:
    wanted = "Blasts,CD34pos_CD117pos=CD34+ progenitors"
    res = CliRunner().invoke(
        app,
        gate_args(
            mrd_tube,
            mrd_gating_ml,
            seeded,
            "--store-populations",
            wanted,
            "--specimen",
            "A-1",
            "--actor",
            "flow-lab",
        ),
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    gates = doc["gates"]
    stored_json = {p["gate"]: p for p in doc["stored"]["populations"]}
    with seeded.unit_of_work("reader") as uow:
        stored = results.patient_results(uow, "P001", (ResultKind.POPULATION,))
        events = audit.events(uow, "result")
    by_gate = {}
    for row in stored:
        assert isinstance(row.value, Population)
        by_gate[row.value.source_label] = row
    blasts = by_gate["Blasts"].value
    cd34 = by_gate["CD34pos_CD117pos"].value
    assert isinstance(blasts, Population) and isinstance(cd34, Population)
    # Counts come from the gating, parents from the strategy's tree.
    assert blasts.population == "blasts" and blasts.count == gates["Blasts"]["count"]
    assert blasts.parent == "CD45+ cells" and blasts.parent_count == gates["CD45pos"]["count"]
    assert cd34.population == "CD34+ progenitors" and cd34.parent == "blasts"
    assert cd34.parent_count == gates["Blasts"]["count"]
    assert cd34.total == "CD45+ cells" and cd34.total_count == gates["CD45pos"]["count"]
    assert cd34.source_sha256 == hashlib.sha256(mrd_tube.read_bytes()).hexdigest()
    assert cd34.software is not None and cd34.software.startswith("trephine ")
    assert by_gate["Blasts"].state is ResultState.DRAFT
    assert by_gate["Blasts"].created_by == "flow-lab"
    expected = wilson(cd34.count, cd34.parent_count)
    ci = stored_json["CD34pos_CD117pos"]["percent_of_parent"]
    assert float(ci["ci95_low"]) == pytest.approx(expected.lower * 100, rel=1e-5)
    assert {e.entity_id for e in events if e.action == "create"} >= {
        str(by_gate["Blasts"].id),
        str(by_gate["CD34pos_CD117pos"].id),
    }
    # Storing the same gating again changes nothing.
    again = CliRunner().invoke(
        app,
        gate_args(
            mrd_tube, mrd_gating_ml, seeded, "--store-populations", wanted, "--specimen", "A-1"
        ),
    )
    assert again.exit_code == 0, again.output
    assert all(p["created"] is False for p in json.loads(again.stdout)["stored"]["populations"])


@pytest.mark.parametrize(
    ("wanted", "specimen", "message"),
    [
        ("CD34pos_CD117pos", "A-1", "maps to no population"),
        ("Blasts,NoSuchGate", "A-1", "NoSuchGate"),
        ("Blasts=unicorns", "A-1", "unicorns"),
        ("Blasts", "Z-9", "Z-9"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_stored(
    seeded: Database,
    mrd_tube: Path,
    mrd_gating_ml: Path,
    wanted: str,
    specimen: str,
    message: str,
) -> None:
    res = CliRunner().invoke(
        app,
        gate_args(
            mrd_tube, mrd_gating_ml, seeded, "--store-populations", wanted, "--specimen", specimen
        ),
    )
    assert res.exit_code == 2
    assert message in res.stderr and "Traceback" not in res.output
    with seeded.unit_of_work("reader") as uow:
        assert results.patient_results(uow, "P001", (ResultKind.POPULATION,)) == []


def test_store_populations_needs_a_specimen(mrd_tube: Path, mrd_gating_ml: Path) -> None:
    res = CliRunner().invoke(
        app,
        [
            "flow",
            "gate",
            str(mrd_tube),
            "--gating-ml",
            str(mrd_gating_ml),
            "--store-populations",
            "Blasts",
        ],
    )
    assert res.exit_code == 2 and "--specimen" in res.stderr


def test_parent_is_the_nearest_ancestor_naming_a_population() -> None:
    counts = {"root": 10000, "CD45": 9000, "Lymph": 3000, "CD3": 2000, "CD4": 1200, "Treg": 80}
    parents = {
        "root": None,
        "CD45": "root",
        "Lymph": "CD45",
        "CD3": "Lymph",
        "CD4": "CD3",
        "Treg": "CD4",
    }
    (treg, t) = populations_from_counts(
        parse_gate_list("Treg,CD3"),
        counts,
        parents,
        source_file="tube.fcs",
        source_sha256="0" * 64,
        software="trephine test",
    )
    assert (treg.population, treg.parent, treg.parent_count) == (
        "regulatory T cells",
        "CD4 T cells",
        1200,
    )
    assert (treg.total, treg.total_count) == ("CD45+ cells", 9000)
    # The scatter gate "Lymph" names no population: T cells are a share of CD45+ cells.
    assert (t.population, t.parent, t.parent_count) == ("T cells", "CD45+ cells", 9000)
