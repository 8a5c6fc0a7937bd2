"""Gated flow populations as ``population`` results (``trephine flow gate … --store-populations``
and ``trephine batch flow-mrd … --store-populations``: one code path for both).

Any gate of a strategy can be stored, not only MRD: each named gate becomes a
:class:`~trephine.domain.results.Population` with

- its population: the gate's own name when it maps to the vocabulary (``CD4``, ``Tregs``,
  ``NK``…, :func:`trephine.domain.populations.cell_type_for`), or the one given explicitly as
  ``GATE=population`` (``CD34pos_CD117pos=CD34+ progenitors``);
- its parent: the nearest ancestor gate that maps to the vocabulary (a CD45+ gate is the total
  "CD45+ cells"), with that gate's count — so "% of parent" means % of CD4 T cells for Tregs even
  when a scatter gate sits between them;
- its total: the CD45+ gate (``total_gate``, or the one ancestor gate that maps to leukocytes);
- provenance: the FCS file's name and SHA-256, the gate id as written, the gating document's
  SHA-256 in ``flags``, and Trephine's version.

A gate that maps to nothing is refused with the vocabulary listed, never stored under a guess.

1. :func:`parse_gate_list` - ``GATE[,GATE=population…]`` as given on the command line.
2. :func:`plan_populations` - checked against the strategy's gate tree before any event is read.
3. :func:`gates_counted` - the gates to count while gating (wanted, parents, totals).
4. :func:`tube_populations` - the domain values from one tube's counts, with provenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from trephine.domain.populations import (
    CELL_TYPES,
    TOTAL_CD45,
    cell_type_for,
)
from trephine.domain.results import Population, PopulationMethod
from trephine.errors import ValidationError


def parse_gate_list(text: str) -> list[tuple[str, str | None]]:
    """``"CD4,Treg=regulatory T cells"`` → ``[("CD4", None), ("Treg", "regulatory T cells")]``."""
    out: list[tuple[str, str | None]] = []
    for item in text.split(","):
        if not item.strip():
            continue
        gate, sep, name = item.partition("=")
        out.append((gate.strip(), name.strip() if sep else None))
    if not out:
        raise ValidationError("populations", text, "GATE[,GATE=population…]")
    return out


def _vocabulary_name(label: str) -> str | None:
    if label in CELL_TYPES:
        return label
    cell = cell_type_for(label)
    return None if cell is None else cell.name


def _as_parent(name: str) -> str:
    # The leukocyte gate is the CD45+ total, the denominator every panel reports against.
    return TOTAL_CD45 if name == "leukocytes" else name


@dataclass(frozen=True)
class GatePlan:
    """What one wanted gate becomes, decided from the strategy's tree alone (no events read):
    its vocabulary population, the ancestor gate it is a share of and the CD45+ gate, if any."""

    gate: str
    population: str
    parent_gate: str
    parent: str
    total_gate: str | None


def plan_populations(
    wanted: Sequence[tuple[str, str | None]],
    parents: Mapping[str, str | None],
    *,
    total_gate: str | None = None,
    source: str | None = None,
) -> list[GatePlan]:
    """Check the ``wanted`` gates against a strategy's gate tree (``{gate id: parent id}``) and
    decide each one's population, parent and total (see module text).

    Everything that can be refused without counting events is refused here: a gate the strategy
    lacks (the strategy's gates listed), a name that maps to no population (the vocabulary
    listed), no ancestor naming a population, a ``total_gate`` that is not an ancestor. A batch
    checks its Gating-ML document with this before reading any tube."""
    where = "" if source is None else f" of {source}"
    names: dict[str, str | None] = {g: _vocabulary_name(g) for g in parents}
    unknown = [gate for gate, _ in wanted if gate not in parents]
    if unknown:
        # Every unknown gate at once: a night's batch should need one fix, not one per run.
        raise ValidationError(
            "gate" if len(unknown) == 1 else "gates",
            ", ".join(unknown),
            sorted(parents),
            reason=f"not in the strategy{where}",
        )
    for gate, explicit in wanted:
        if explicit is not None:
            name = _vocabulary_name(explicit)
            if name is None:
                raise ValidationError(
                    f"population of gate {gate}",
                    explicit,
                    sorted(CELL_TYPES),
                    reason=f"not in the vocabulary (gate {gate}{where})",
                )
            names[gate] = name
    if total_gate is not None and total_gate not in parents:
        raise ValidationError(
            "total_gate", total_gate, sorted(parents), reason=f"not a gate{where}"
        )

    def ancestors(gate: str) -> list[str]:
        chain: list[str] = []
        parent = parents.get(gate)
        while parent is not None:
            chain.append(parent)
            parent = parents.get(parent)
        return chain

    out: list[GatePlan] = []
    for gate, _ in wanted:
        name = names[gate]
        if name is None:
            raise ValidationError(
                f"population of gate {gate}",
                gate,
                sorted(CELL_TYPES),
                reason=f"the gate name{where} maps to no population: write {gate}=POPULATION",
            )
        chain = ancestors(gate)
        parent_gate = next((g for g in chain if names.get(g) is not None), None)
        if parent_gate is None:
            raise ValidationError(
                f"parent of gate {gate}",
                " > ".join(chain) or "(a root gate)",
                "an ancestor gate that names a population (a CD45+ gate, CD3, CD4 …)",
                reason=f"no ancestor in the strategy{where} names one; map one with "
                f"GATE=POPULATION, e.g. {chain[0] if chain else gate}=leukocytes for the CD45+ "
                "gate",
            )
        parent_name = names[parent_gate]
        assert parent_name is not None
        cd45 = total_gate
        if cd45 is None:
            cd45 = next((g for g in chain if names.get(g) == "leukocytes"), None)
        if cd45 is not None and cd45 not in chain:
            raise ValidationError(
                "total_gate", cd45, [g for g in chain], reason=f"not an ancestor of gate {gate}"
            )
        out.append(GatePlan(gate, name, parent_gate, _as_parent(parent_name), cd45))
    return out


def gates_counted(plans: Sequence[GatePlan]) -> list[str]:
    """The gates whose counts the plans need (each wanted gate, its parent and total), once."""
    out: dict[str, None] = {}
    for p in plans:
        out.update(dict.fromkeys(g for g in (p.gate, p.parent_gate, p.total_gate) if g))
    return list(out)


def populations_from_plans(
    plans: Sequence[GatePlan],
    counts: Mapping[str, int],
    *,
    source_file: str | Path,
    source_sha256: str,
    gating_sha256: str | None = None,
    panel: str | None = None,
    software: str,
) -> list[Population]:
    """The population results of one gated tube, from its counts of :func:`gates_counted`."""
    flags = () if gating_sha256 is None else (f"gating document sha256 {gating_sha256}",)
    out: list[Population] = []
    for plan in plans:
        total_count = None if plan.total_gate is None else counts[plan.total_gate]
        out.append(
            Population(
                population=plan.population,
                count=counts[plan.gate],
                parent=plan.parent,
                parent_count=counts[plan.parent_gate],
                method=PopulationMethod.FLOW,
                total=None if total_count is None else TOTAL_CD45,
                total_count=total_count,
                panel=panel,
                source_label=plan.gate,
                source_file=Path(source_file).name,
                source_sha256=source_sha256,
                software=software,
                flags=flags,
            )
        )
    return out


def populations_from_counts(
    wanted: Sequence[tuple[str, str | None]],
    counts: Mapping[str, int],
    parents: Mapping[str, str | None],
    *,
    source_file: str | Path,
    source_sha256: str,
    gating_sha256: str | None = None,
    total_gate: str | None = None,
    panel: str | None = None,
    software: str,
) -> list[Population]:
    """The population results for the ``wanted`` gates of one gated tube (see module text)."""
    return populations_from_plans(
        plan_populations(wanted, parents, total_gate=total_gate),
        counts,
        source_file=source_file,
        source_sha256=source_sha256,
        gating_sha256=gating_sha256,
        panel=panel,
        software=software,
    )


def tube_populations(
    plans: Sequence[GatePlan],
    counts: Mapping[str, int],
    *,
    fcs_path: str | Path,
    gating_path: str | Path | None,
    panel: str | None,
    fcs_sha256: str | None = None,
) -> list[Population]:
    """:func:`populations_from_plans` for a tube read from ``fcs_path`` and gated by
    ``gating_path``: the files' SHA-256 and Trephine's version as provenance (what
    ``flow gate --store-populations`` and ``batch flow-mrd --store-populations`` store).
    ``fcs_sha256``: the hash of the bytes that were gated, when the caller has it (a batch's
    worker hashes the file it reads)."""
    from trephine import __version__
    from trephine.importers.flow_mrd import sha256_of

    return populations_from_plans(
        plans,
        counts,
        source_file=fcs_path,
        source_sha256=fcs_sha256 if fcs_sha256 is not None else sha256_of(fcs_path),
        gating_sha256=None if gating_path is None else sha256_of(gating_path),
        panel=panel,
        software=f"trephine {__version__}",
    )
