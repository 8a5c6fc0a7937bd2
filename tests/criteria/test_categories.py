"""One home for "which call categories are a complete remission / a relapse"
(trephine.criteria.categories): read off the rule sets, imported by the story, the ALL timeline,
the cohort outcomes and the microenvironment comparisons, defined nowhere else."""

from __future__ import annotations

import ast
from pathlib import Path

from trephine.criteria import categories
from trephine.criteria.registry import rulesets
from trephine.criteria.sets import aa_response, eln2022_aml, imwg2016_mm

SRC = Path(__file__).resolve().parents[2] / "src" / "trephine"


def test_every_category_named_is_one_its_rule_set_emits() -> None:
    sets = rulesets()
    for key, relapse in categories.RELAPSE_BY_RULESET.items():
        assert key in sets, key
        assert set(relapse) < set(sets[key].categories), key
    emitted = (
        set(eln2022_aml.RESPONSE.categories)
        | set(imwg2016_mm.RESPONSE.categories)
        | set(aa_response.RESPONSE.categories)
    )
    # CR, CRh, CRi, sCR come from the response tables; the _MRD- / _MRD-LL forms are the same
    # categories with the ELN 2021 MRD annotation the AML timeline adds.
    assert {c.split("_MRD-")[0] for c in categories.CR_CATEGORIES} <= emitted


def test_every_relapse_or_progression_rule_set_is_listed() -> None:
    """A new relapse table must say which of its categories are a relapse (or be the CD19
    status of one already called)."""
    named = {
        key
        for key in rulesets()
        if "RELAPSE" in key.upper() or key.upper().endswith(("-PD", "PROGRESSION"))
    }
    assert named - set(categories.RELAPSE_BY_RULESET) == {"CAR-T-RELAPSE"}


def test_the_groupings() -> None:
    """The sets (the story's also named PROGRESSION, which no rule set emits and no call
    carries; IMWG progression is confirmed across assessments: PD_CONFIRMED). The cohort
    outcomes once counted haematologic relapse and PD only, so an ALL extramedullary relapse or
    an MDS / aplastic anaemia relapse was no event in a relapse-free survival; they now count
    every relapse the criteria call."""
    assert (
        frozenset(
            {"CR", "CRh", "CRi", "sCR", "COMPLETE_RESPONSE"}
            | {f"{c}_MRD-" for c in ("CR", "CRh", "CRi")}
            | {f"{c}_MRD-LL" for c in ("CR", "CRh", "CRi")}
        )
        == categories.CR_CATEGORIES
    )
    assert {"HEMATOLOGIC_RELAPSE", "EXTRAMEDULLARY_RELAPSE"} == categories.ALL_RELAPSE_CATEGORIES
    assert {
        "HEMATOLOGIC_RELAPSE",
        "EXTRAMEDULLARY_RELAPSE",
        "RELAPSE",
        "PD",
        "PD_CONFIRMED",
    } == categories.RELAPSE_CATEGORIES
    # Myeloma progression met once is shown (to confirm) but is no relapse (yet).
    assert {"PD_UNCONFIRMED"} == categories.TO_CONFIRM_CATEGORIES
    assert categories.SUPERSEDING_CATEGORIES == (
        categories.RELAPSE_CATEGORIES | categories.TO_CONFIRM_CATEGORIES
    )


def test_a_confirmed_relapse_is_of_a_table_whose_relapse_is_listed() -> None:
    """The confirmation states name a relapse category of their table (IMWG 2016 progression:
    its PD), and are not that table's own categories (the table decides one assessment; the
    stored timeline confirms across assessments)."""
    sets = rulesets()
    for key, states in categories.CONFIRMATION_BY_RULESET.items():
        assert key in categories.RELAPSE_BY_RULESET, key
        assert not set(states) & set(sets[key].categories), key
        assert len(set(states)) == 2, states
    assert categories.CONFIRMATION_BY_RULESET[imwg2016_mm.PROGRESSION.key] == (
        imwg2016_mm.PD_UNCONFIRMED,
        imwg2016_mm.PD_CONFIRMED,
    )


def test_the_users_import_them() -> None:
    from trephine.analysis.cohort import outcomes
    from trephine.assess import story

    assert story.RELAPSE_CATEGORIES is categories.RELAPSE_CATEGORIES
    assert outcomes.CR_CATEGORIES is categories.CR_CATEGORIES
    assert outcomes.RELAPSE_CATEGORIES is categories.RELAPSE_CATEGORIES


def test_no_other_module_lists_cr_or_relapse_categories() -> None:
    """Outside criteria/categories.py, no module assigns a ``…CR_CATEGORIES`` or
    ``…RELAPSE_CATEGORIES`` name (a second list drifts: the story's and the cohort's did).

    A migration is the exception: frozen in time, it writes the list it was written with into
    the database (0028's triggers of ``patient.latest_response``), and
    tests/store/test_patient_list_facts.py fails when that list and the code's differ."""
    home = SRC / "criteria" / "categories.py"
    migrations = SRC / "store" / "migrations" / "versions"
    found = []
    for path in SRC.rglob("*.py"):
        if path == home or path.parent == migrations:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and target.id.endswith(
                    ("CR_CATEGORIES", "RELAPSE_CATEGORIES")
                ):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} {target.id}")
    assert found == []
