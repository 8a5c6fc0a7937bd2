"""Clone trees: published topologies (AML1, CALDER CLL003), refusals in words, properties."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from clonal_datasets import aml1_observations, calder_observations
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trephine.analysis.clonal.pipeline import Settings, analyse
from trephine.analysis.clonal.records import VariantObservation
from trephine.analysis.clonal.tree import ROOT, infer_tree
from trephine.errors import ValidationError


@pytest.mark.shared_data
def test_aml1_relapse_clone_descends_through_diagnosis_subclones(real_data: Path) -> None:
    obs, truth = aml1_observations(real_data)
    result = analyse(obs).patients[0]
    assert result.tree is not None and result.tree.fits
    # Name our clones by the published cluster most of their mutations carry.
    votes: dict[str, list[str]] = {}
    for mid, clone in result.clone_of.items():
        votes.setdefault(clone, []).append(truth[mid])
    published = {c: max(set(v), key=v.count) for c, v in votes.items()}
    edges = {(None if p is None else published[p], published[c]) for p, c in result.tree.edges()}
    # ClonEvol consensus tree shipped with the data: 1->2, 1->3, 3->4, 4->5.
    assert edges == {(None, "1"), ("1", "2"), ("1", "3"), ("3", "4"), ("4", "5")}
    own = dict(zip(result.clone_names, result.tree.own_fractions()[:, 0], strict=True))
    by_pub = {published[c]: f for c, f in own.items()}
    # Sum rule on the cluster means (MANIFEST): C2 48.7, C3 28.1, C4 6.9, C1 10.1 % at diagnosis.
    for clone, pct in {"2": 48.7, "3": 28.1, "4": 6.9, "1": 10.1}.items():
        assert by_pub[clone] * 100 == pytest.approx(pct, abs=3.0), clone


@pytest.mark.shared_data
def test_calder_cll003_tree_and_frequencies(real_data: Path) -> None:
    result = analyse(calder_observations(real_data)).patients[0]
    tree = result.tree
    assert tree is not None and tree.fits
    sf3b1 = "ADAD1_CHTF8_HERC2_IL11RA_SF3B1_SHROOM1"
    # CALDER sample_output: SF3B1 cluster root; MUSK_SEMA3E < root; FAT3 < MUSK; NPY_NRG3 < FAT3.
    assert tree.parent_of(sf3b1) is None
    assert tree.parent_of("MUSK_SEMA3E") == sf3b1
    assert tree.parent_of("FAT3") == "MUSK_SEMA3E"
    assert tree.parent_of("NPY_NRG3") == "FAT3"
    # Published Fhat row c: 0.428 / 0.645 / 0.478 / 0.553.
    c = tree.sample_ids.index("c")
    fhat = {"NPY_NRG3": 0.428, sf3b1: 0.645, "FAT3": 0.478, "MUSK_SEMA3E": 0.553}
    for clone, value in fhat.items():
        assert tree.ccf[tree.clones.index(clone), c] == pytest.approx(value, abs=0.03), clone
    # CALDER drops the AMTN cluster; we keep it, under the root clone, as it is cleared.
    assert tree.parent_of("AMTN_APBB2_BPIL2_MTUS1_PLEKHG5_SPTAN1") == sf3b1


def test_impossible_data_is_explained_in_words() -> None:
    ccf = np.array([[0.9, 0.9], [0.6, 0.3], [0.3, 0.7]])
    tree = infer_tree(["A", "B", "C"], ["dx", "rel"], ccf, tolerance=0.05)
    assert not tree.fits
    assert tree.explanation
    text = " ".join(tree.explanation)
    assert "in sample rel" in text and "clone C" in text and "sum rule" in text


def test_time_order_forbids_a_later_parent() -> None:
    # B is already present at day 0 while A only appears at day 100: A cannot be B's parent
    # even though A's CCF is larger at day 100.
    ccf = np.array([[0.0, 0.9], [0.3, 0.4]])
    tree = infer_tree(["A", "B"], ["d0", "d100"], ccf)
    assert tree.parent_of("B") is None


def test_bad_input_refused() -> None:
    with pytest.raises(ValidationError, match="ccf"):
        infer_tree(["A"], ["s"], np.array([[1.5]]))
    with pytest.raises(ValidationError, match="shape"):
        infer_tree(["A", "B"], ["s"], np.array([[0.5]]))


def test_twenty_clones_ten_samples_is_fast() -> None:
    rng = np.random.default_rng(5)
    k, s = 20, 10
    parent = [ROOT] + [int(rng.integers(0, i)) for i in range(1, k)]
    ccf = rng.dirichlet(np.ones(k), size=s).T
    for i in reversed(range(1, k)):
        ccf[parent[i]] += ccf[i]
    t0 = time.perf_counter()
    tree = infer_tree([f"c{i}" for i in range(k)], [f"s{j}" for j in range(s)], ccf)
    assert time.perf_counter() - t0 < 20
    assert tree.fits


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 4)), elements=st.floats(0, 1)),
    st.sampled_from([0.0, 0.02, 0.05]),
)
# Found by a CI run (2026-12-05): a child 6e-10 above its parent of 0 was called a misfit at
# zero tolerance while the sum rule holds within rounding (tree.NUMERIC_SLACK).
@example(np.array([[0.0, 1.0], [6.02055635e-10, 6.02055635e-10]]), 0.0)
def test_property_children_never_exceed_parent_beyond_tolerance(
    ccf: np.ndarray, tol: float
) -> None:
    k = ccf.shape[0]
    tree = infer_tree(
        [str(i) for i in range(k)], [f"s{j}" for j in range(ccf.shape[1])], ccf, tolerance=tol
    )
    sums = np.zeros((k + 1, ccf.shape[1]))
    for c, p in enumerate(tree.parents):
        sums[k if p == ROOT else p] += ccf[c]
    caps = np.vstack([ccf, np.ones((1, ccf.shape[1]))])
    ok = bool(np.all(sums <= caps + tol + 1e-9))
    assert ok == tree.fits
    assert tree.fits or tree.explanation  # a failure always says why
    own = tree.own_fractions()
    assert np.all(own >= 0) and np.all(own <= ccf + 1e-12)


def _pipeline_obs(seed: int) -> list[VariantObservation]:
    rng = np.random.default_rng(seed)
    profile = {"trunk": [0.9, 0.5, 0.95], "sub": [0.4, 0.0, 0.9], "gone": [0.4, 0.02, 0.0]}
    obs = []
    for name, ccfs in profile.items():
        for j in range(6):
            for s, (sid, day) in enumerate([("dx", 0.0), ("cr", 60.0), ("rel", 300.0)]):
                d = 800
                a = int(rng.binomial(d, ccfs[s] / 2))
                gene = "TET2" if (name, j) == ("trunk", 0) else f"G{j}"
                obs.append(VariantObservation("P", sid, day, gene, f"{name}{j}", a, d, a / d))
    return obs


@settings(max_examples=8, deadline=None)
@given(st.permutations(list(range(54))))
def test_property_permuting_rows_changes_nothing(order: list[int]) -> None:
    obs = _pipeline_obs(2)
    assert len(obs) == 54
    base = analyse(obs, Settings(seed=3)).to_json()
    again = analyse([obs[i] for i in order], Settings(seed=3)).to_json()
    assert again == base


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["P1", "P2"]),
            st.integers(0, 3),  # sample index = day / 50
            st.integers(0, 5),  # mutation
            st.integers(0, 60),  # alt
            st.integers(0, 60),  # extra depth
        ),
        min_size=1,
        max_size=40,
        unique_by=lambda t: (t[0], t[1], t[2]),
    )
)
def test_property_any_valid_input_gives_an_answer_not_a_crash(
    rows: list[tuple[str, int, int, int, int]],
) -> None:
    obs = [
        VariantObservation(
            p,
            f"{p}_s{s}",
            50.0 * s,
            "TET2" if m == 0 else f"G{m}",
            f"m{m}",
            a,
            a + extra,
            a / (a + extra) if a + extra else 0.0,
        )
        for p, s, m, a, extra in rows
    ]
    data = analyse(obs).to_json()
    assert len(data["mutations"]) == len({(p, m) for p, _, m, _, _ in rows})
    for t in data["trees"]:
        assert t["fits"] or t["explanation"]
