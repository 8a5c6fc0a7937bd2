"""Gated flow populations as ``population`` results (``trephine flow gate … --store-populations``).

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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    names: dict[str, str | None] = {g: _vocabulary_name(g) for g in counts}
    for gate, explicit in wanted:
        if gate not in counts:
            raise ValidationError("gate", gate, sorted(counts), reason="not in the strategy")
        if explicit is not None:
            name = _vocabulary_name(explicit)
            if name is None:
                raise ValidationError(f"population of gate {gate}", explicit, sorted(CELL_TYPES))
            names[gate] = name
    if total_gate is not None and total_gate not in counts:
        raise ValidationError("total_gate", total_gate, sorted(counts), reason="not a gate")

    def ancestors(gate: str) -> list[str]:
        chain: list[str] = []
        parent = parents.get(gate)
        while parent is not None:
            chain.append(parent)
            parent = parents.get(parent)
        return chain

    flags = () if gating_sha256 is None else (f"gating document sha256 {gating_sha256}",)
    out: list[Population] = []
    for gate, _ in wanted:
        name = names[gate]
        if name is None:
            raise ValidationError(
                f"population of gate {gate}",
                gate,
                sorted(CELL_TYPES),
                reason=f"the gate name maps to no population: write {gate}=POPULATION",
            )
        chain = ancestors(gate)
        parent_gate = next((g for g in chain if names.get(g) is not None), None)
        if parent_gate is None:
            raise ValidationError(
                f"parent of gate {gate}",
                " > ".join(chain) or "(a root gate)",
                "an ancestor gate that names a population (a CD45+ gate, CD3, CD4 …)",
                reason=f"map one with GATE=POPULATION, e.g. {chain[0] if chain else gate}"
                "=leukocytes for the CD45+ gate",
            )
        parent_name = names[parent_gate]
        assert parent_name is not None
        cd45 = total_gate
        if cd45 is None:
            cd45 = next((g for g in chain if names.get(g) == "leukocytes"), None)
        total_count = None if cd45 is None else counts[cd45]
        if cd45 is not None and cd45 not in chain:
            raise ValidationError(
                "total_gate", cd45, [g for g in chain], reason=f"not an ancestor of gate {gate}"
            )
        out.append(
            Population(
                population=name,
                count=counts[gate],
                parent=_as_parent(parent_name),
                parent_count=counts[parent_gate],
                method=PopulationMethod.FLOW,
                total=None if total_count is None else TOTAL_CD45,
                total_count=total_count,
                panel=panel,
                source_label=gate,
                source_file=Path(source_file).name,
                source_sha256=source_sha256,
                software=software,
                flags=flags,
            )
        )
    return out
