"""``trephine flow mrd … --specimen ACC --store``: a DRAFT flow MRD result with provenance, on
SQLite and PostgreSQL; a bad specimen is refused and nothing is written."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.domain.results import FlowMRD, ResultKind
from trephine.services import audit, results
from trephine.store.database import Database
from trephine.workflow import ResultState

pytestmark = pytest.mark.shared_data


def mrd_args(mrd_tube: Path, mrd_gating_ml: Path, url: str, *extra: str) -> list[str]:
    return [
        "flow",
        "mrd",
        str(mrd_tube),
        "--gating-ml",
        str(mrd_gating_ml),
        "--denominator",
        "CD45pos",
        "--abnormal",
        "CD34pos_CD117pos",
        "--database-url",
        url,
        "--json",
        *extra,
    ]


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_store_records_a_draft_with_provenance(
    seeded: Database, mrd_tube: Path, mrd_gating_ml: Path
) -> None:
    args = mrd_args(mrd_tube, mrd_gating_ml, url_of(seeded), "--specimen", "A-1", "--store")
    res = CliRunner().invoke(app, [*args, "--method", "LAIP", "--actor", "flow-lab"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["stored"]["created"] is True and doc["stored"]["state"] == "draft"
    with seeded.unit_of_work("reader") as uow:
        (stored,) = results.patient_results(uow, "P001", (ResultKind.FLOW_MRD,))
    value = stored.value
    assert isinstance(value, FlowMRD)
    assert stored.state is ResultState.DRAFT and stored.created_by == "flow-lab"
    assert str(value.mrd.value) == doc["mrd_percent"]
    assert value.events_acquired == doc["denominator_events"]
    assert value.abnormal_events == doc["abnormal_events"]
    assert value.mrd.lod == Decimal(doc["lod_fraction"]) * 100
    assert value.mrd.lloq == Decimal(doc["lloq_fraction"]) * 100
    assert str(value.method) == "LAIP"
    assert set(value.flags) == {f["code"] for f in doc["flags"]}
    assert value.source_file == mrd_tube.name and value.source_sha256 == sha256(mrd_tube)
    assert value.gating_sha256 == sha256(mrd_gating_ml)
    # Same computation again: nothing new. Then the normal lifecycle applies.
    again = CliRunner().invoke(app, [*args, "--method", "LAIP"])
    assert json.loads(again.stdout)["stored"]["created"] is False
    with seeded.unit_of_work("pathologist") as uow:
        assert results.verify_result(uow, stored.id).state is ResultState.VERIFIED


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--specimen", "NOPE-9", "--store", "--method", "LAIP"], "'NOPE-9' not found"),
        (["--specimen", "C-1", "--store", "--method", "LAIP"], "aspirate"),
        (["--store", "--method", "LAIP"], "--specimen"),
        (["--specimen", "A-1", "--store"], "--method"),
        (["--specimen", "A-1", "--store", "--method", "FISH"], "LAIP+DfN"),
    ],
)
def test_refusals_write_nothing(
    seeded: Database, mrd_tube: Path, mrd_gating_ml: Path, extra: list[str], message: str
) -> None:
    with seeded.unit_of_work("reader") as uow:
        before = len(audit.events(uow))
    res = CliRunner().invoke(app, mrd_args(mrd_tube, mrd_gating_ml, url_of(seeded), *extra))
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    with seeded.unit_of_work("reader") as uow:
        assert results.patient_results(uow, "P001", (ResultKind.FLOW_MRD,)) == []
        assert len(audit.events(uow)) == before


def test_specimen_without_store_only_checks(
    seeded: Database, mrd_tube: Path, mrd_gating_ml: Path
) -> None:
    args = mrd_args(mrd_tube, mrd_gating_ml, url_of(seeded), "--specimen", "B-1", "--method", "DfN")
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["stored"] == {
        "specimen": "B-1",
        "stored": False,
        "mrd": json.loads(res.stdout)["stored"]["mrd"],
    }
    with seeded.unit_of_work("reader") as uow:
        assert results.patient_results(uow, "P001", (ResultKind.FLOW_MRD,)) == []
