"""One public JSON shape per resource: a result and a timeline read the same from the API and
the CLI."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from trephine.cli.main import app

runner = CliRunner()


def _cli_json(url: str, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--json", "--database-url", url])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_results_show_json_is_the_api_result_for_the_same_record(demo: Any) -> None:
    amended = [(sp, r) for sp in demo.cohort for r in sp.results if r.amendment is not None]
    sp, res = amended[0]
    timeline = demo.client.get(f"/api/v1/patients/{sp.patient.external_id}/timeline").json()
    compared = 0
    for api_result in timeline["results"]:
        shown = _cli_json(demo.url, "results", "show", api_result["id"])
        assert shown["result"] == api_result
        compared += 1
        if api_result["specimen"] == res.specimen and api_result["history"]:
            # An amended result: the earlier version is in both, in the same shape.
            assert shown["result"]["history"][0]["state"] == "superseded"
    assert compared > 3
    listed = {
        r["id"]: r
        for r in _cli_json(demo.url, "results", "list", "--patient", sp.patient.external_id)
    }
    for api_result in timeline["results"]:
        # A list row is the same shape; only the history (a second read) is left out.
        assert listed[api_result["id"]] == {**api_result, "history": []}


def test_patients_show_json_is_the_api_timeline(demo: Any) -> None:
    for sp in demo.cohort[:3]:
        patient = sp.patient.external_id
        api = demo.client.get(f"/api/v1/patients/{patient}/timeline").json()
        assert _cli_json(demo.url, "patients", "show", patient) == api
