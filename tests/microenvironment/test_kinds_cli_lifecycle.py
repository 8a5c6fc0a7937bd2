"""A population and a measurement go through the command line's lifecycle like every kind:
import as drafts, list, verify (sign out), amend (a new version; the old stays readable) and the
audit trail; the JSON shows the Wilson interval and the Cell Ontology id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from trephine.cli.main import app
from trephine.store.database import Database

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "templates" / "example"
ROWS = [
    "EX24-0001,population,nk,population,NK cells,,,,draft",
    "EX24-0001,population,nk,count,45,,,,draft",
    "EX24-0001,population,nk,parent,CD45+ cells,,,,draft",
    "EX24-0001,population,nk,parent_count,900,,,,draft",
    "EX24-0001,population,nk,method,flow panel,,,,draft",
    "EX24-0002,measurement,1,cd271_stromal_cells,31.5,cells/mm2,,,draft",
    "EX24-0002,measurement,1,method,image analysis,,,,draft",
]


def run(url: str, *args: str) -> str:
    res = CliRunner().invoke(app, [*args, "--database-url", url])
    assert res.exit_code == 0, res.stderr
    return res.stdout


def test_population_and_measurement_lifecycle(database: Database, tmp_path: Path) -> None:
    folder = tmp_path / "set"
    shutil.copytree(EXAMPLE, folder)
    with (folder / "results.csv").open("a", encoding="utf-8") as handle:
        handle.write("".join(f"{r}\n" for r in ROWS))
    url = database.url
    run(url, "import", str(folder), "--actor", "lab")
    (nk,) = json.loads(run(url, "results", "list", "--kind", "population", "--json"))
    assert nk["state"] == "draft" and nk["label"] == "NK cells (flow panel)"
    assert nk["value"]["value"] == "5" and nk["value"]["unit"] == "%"
    ci = nk["detail"]["derived"]["intervals"]["of_parent"]
    assert ci["text"] == "5.0 % (95 % CI 3.8–6.6 %)"
    assert nk["detail"]["derived"]["cell_ontology"]["id"] == "CL:0000623"
    (msc,) = json.loads(run(url, "results", "list", "--kind", "measurement", "--json"))
    assert msc["detail"]["measured"]["CD271+ stromal cells"]["value"] == "31.5"

    run(url, "results", "verify", nk["id"], "--as", "dr.sign")
    out = run(
        url,
        "results",
        "amend",
        nk["id"],
        "--reason",
        "recounted gate",
        "--set",
        "count=54",
        "--as",
        "dr.amend",
    )
    assert "amended by dr.amend" in out
    (current,) = json.loads(run(url, "results", "list", "--kind", "population", "--json"))
    assert (current["state"], current["version"]) == ("amended", 2)
    assert current["detail"]["count"] == 54 and current["value"]["value"] == "6"
    old = json.loads(run(url, "results", "show", nk["id"], "--json"))
    assert old["result"]["state"] == "superseded" and old["result"]["detail"]["count"] == 45
    trail = run(url, "audit", "list", "--entity", "result")
    assert "amend" in trail and "verify" in trail
