"""Survival statistics reproduce the published figures (tests/data/clonal/UPSTREAM-MANIFEST.md §7).

Freireich et al. 1963 (6-MP vs placebo): log-rank χ² 16.79, medians 23 vs 8 weeks, 9 vs 21
relapses; R survival::aml (Embury 1977): medians 31 vs 23 weeks, χ² 3.40 (R: "Chisq = 3.4,
p = 0.07"); KMsurv::bmt (Klein & Moeschberger): disease-free survival by group, χ² 13.8 on 2 df,
DFS at 1 and 2 years; the Anderson Cox model with Efron ties as R coxph: HR 4.82 for treatment,
4.00 and 5.42 with log WBC.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trephine.analysis.stats.survival import (
    by_group,
    cox,
    cumulative_incidence,
    kaplan_meier,
    logrank,
)
from trephine.cli.main import app
from trephine.errors import ValidationError

runner = CliRunner()


@pytest.fixture
def survival_dir(real_data: Path) -> Path:
    return real_data / "clonal" / "survival"


def gehan(survival_dir: Path) -> pd.DataFrame:
    return pd.read_csv(
        survival_dir / "lifelines_gehan.dat",
        sep=r"\s+",
        header=None,
        names=["group", "time", "relapse"],
    )


def test_freireich_logrank_and_medians(survival_dir: Path) -> None:
    d = gehan(survival_dir)
    doc = by_group(d.time.tolist(), d.relapse.tolist(), d.group.tolist())
    assert doc["logrank"]["statistic"] == pytest.approx(16.79, abs=0.005)
    assert doc["logrank"]["p"] == pytest.approx(4.17e-05, rel=0.01)
    placebo, mp = doc["groups"]["1"], doc["groups"]["2"]
    assert (placebo["n"], placebo["events"], placebo["median"]) == (21, 21, 8.0)
    assert (mp["n"], mp["events"], mp["median"]) == (21, 9, 23.0)


def test_survival_aml_medians_and_logrank(survival_dir: Path) -> None:
    d = pd.read_csv(survival_dir / "rdatasets_survival_aml.csv")
    doc = by_group(d.time.tolist(), d.cens.tolist(), d.group.tolist())
    assert doc["groups"]["1"]["median"] == 31.0  # maintained
    assert doc["groups"]["2"]["median"] == 23.0  # not maintained
    assert doc["logrank"]["statistic"] == pytest.approx(3.40, abs=0.005)
    assert round(doc["logrank"]["p"], 2) == 0.07


def test_kmsurv_bmt_dfs(survival_dir: Path) -> None:
    d = pd.read_csv(survival_dir / "rdatasets_KMsurv_bmt.csv")
    doc = by_group(d.t2.tolist(), d.d3.tolist(), d.group.tolist(), at=[365, 730])
    assert doc["logrank"]["statistic"] == pytest.approx(13.80, abs=0.005)
    assert doc["logrank"]["df"] == 2
    assert doc["logrank"]["p"] == pytest.approx(0.0010, abs=0.00005)
    expected = {
        "1": (0.549, 0.353, 418, 24),
        "2": (0.778, 0.611, 2204, 25),
        "3": (0.378, 0.244, 183, 34),
    }
    for g, (one, two, median, events) in expected.items():
        got = doc["groups"][g]
        assert round(got["survival_at"]["365"], 3) == one
        assert round(got["survival_at"]["730"], 3) == two
        assert got["median"] == median
        assert got["events"] == events


def test_cox_anderson_efron_ties(survival_dir: Path) -> None:
    d = pd.read_csv(survival_dir / "lifelines_anderson.csv", sep=r"\s+")
    one = cox(d, time="t", event="status", covariates=["Rx"])
    assert one.ties == "efron"
    assert one.term("Rx").coef == pytest.approx(1.572, abs=0.0005)
    assert round(one.term("Rx").hazard_ratio, 2) == 4.82
    two = cox(d, time="t", event="status", covariates=["Rx", "logWBC"])
    assert round(two.term("Rx").hazard_ratio, 2) == 4.00
    assert round(two.term("logWBC").hazard_ratio, 2) == 5.42
    with pytest.raises(ValidationError, match="breslow"):
        cox(d, time="t", event="status", covariates=["Rx"], ties="breslow")


def test_at_risk_table_and_median_not_reached() -> None:
    curve = kaplan_meier([1, 2, 3, 4, 5, 6], [1, 0, 0, 0, 0, 0], at=[0, 2.5, 10])
    assert curve.median is None and curve.median_upper is None
    assert curve.at_risk == {0.0: 6, 2.5: 4, 10.0: 0}
    assert curve.survival_at[2.5] == pytest.approx(5 / 6)


def test_aalen_johansen_matches_hand_computation() -> None:
    # Distinct times: relapse at 1, death (competing) at 2, censored at 3, relapse at 4.
    # CIF(1) = 1/4; after the death S = 3/4 * 2/3 = 1/2; at 4 one at risk: CIF += 1/2 * 1.
    res = cumulative_incidence([1, 2, 3, 4], [1, 2, 0, 1], cause=1, at=[0.5, 1, 2.5, 4])
    assert res.at == pytest.approx({0.5: 0.0, 1.0: 0.25, 2.5: 0.25, 4.0: 0.75})
    assert (res.events, res.competing) == (2, 1)
    # Ignoring the competing death (1 − KM) overstates the incidence.
    km = kaplan_meier([1, 2, 3, 4], [1, 0, 0, 1], at=[4])
    assert 1 - km.survival_at[4.0] > res.at[4.0]


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValidationError, match="event"):
        kaplan_meier([1, 2], [1, 2])
    with pytest.raises(ValidationError, match="time"):
        kaplan_meier([-1, 2], [1, 0])
    with pytest.raises(ValidationError, match="group"):
        logrank([1, 2], [1, 1], ["a", "a"])
    assert np.isfinite(logrank([1, 2, 3, 4], [1, 1, 1, 0], ["a", "a", "b", "b"]).p)


# ---------------------------------------------------------------- the CLI contract


def cli(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, ["stats", *args])
    return r.exit_code, r.stdout, r.stderr


def test_stats_survival_json_contract(survival_dir: Path) -> None:
    code, out, err = cli(
        "survival",
        str(survival_dir / "rdatasets_KMsurv_bmt.csv"),
        "--time",
        "t2",
        "--event",
        "d3",
        "--group",
        "group",
        "--at",
        "365",
        "--at",
        "730",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"groups", "logrank"}
    assert set(doc["logrank"]) >= {"statistic", "p"}
    for g in doc["groups"].values():
        assert set(g) >= {"n", "events", "median", "survival_at"}
        assert set(g["survival_at"]) == {"365", "730"}
    assert round(doc["groups"]["2"]["survival_at"]["365"], 3) == 0.778


def test_stats_survival_without_group_has_no_logrank(survival_dir: Path) -> None:
    code, out, err = cli(
        "survival",
        str(survival_dir / "rdatasets_survival_aml.csv"),
        "--time",
        "time",
        "--event",
        "cens",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert "logrank" not in doc
    assert doc["groups"]["all"]["n"] == 23


def test_stats_survival_bad_cell_named_by_file_row_column(tmp_path: Path) -> None:
    f = tmp_path / "os.csv"
    f.write_text("weeks,died,arm\n3,1,A\n5,0,B\nsoon,1,A\n", encoding="utf-8")
    code, _, err = cli("survival", str(f), "--time", "weeks", "--event", "died", "--json")
    assert code == 2
    assert "os.csv, row 4, column 'weeks'" in err and "'soon'" in err
    f.write_text("weeks,died,arm\n3,1,A\n5,2,B\n", encoding="utf-8")
    code, _, err = cli("survival", str(f), "--time", "weeks", "--event", "died")
    assert code == 2 and "row 3, column 'died'" in err and "0 (censored) or 1 (event)" in err
    code, _, err = cli("survival", str(f), "--time", "weeks", "--event", "dead")
    assert code == 2 and "--event: 'dead'" in err and "weeks, died, arm" in err


def test_stats_cox_and_incidence_cli(tmp_path: Path, survival_dir: Path) -> None:
    d = pd.read_csv(survival_dir / "lifelines_anderson.csv", sep=r"\s+")
    f = tmp_path / "anderson.csv"
    d.to_csv(f, index=False)
    code, out, err = cli(
        "cox", str(f), "--time", "t", "--event", "status", "--covariate", "Rx", "--json"
    )
    assert code == 0, err
    assert round(json.loads(out)["terms"][0]["hazard_ratio"], 2) == 4.82
    g = tmp_path / "cr.csv"
    g.write_text("t,relapse,died\n1,1,0\n2,0,1\n3,0,0\n4,1,1\n", encoding="utf-8")
    code, out, err = cli(
        "incidence",
        str(g),
        "--time",
        "t",
        "--event",
        "relapse",
        "--competing",
        "died",
        "--at",
        "4",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["incidence_at"]["4"] == pytest.approx(0.75)
