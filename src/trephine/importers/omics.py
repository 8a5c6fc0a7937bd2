"""Single-cell and spatial data (AnnData ``.h5ad``) as ``population`` results (issue 14 §2).

``trephine omics import FILE.h5ad --specimen-column COL --cell-type-column COL``:

1. read the two ``obs`` columns (and ``obsm["spatial"]``) with anndata (:mod:`trephine.io.h5ad`);
   a missing column is refused naming the file, the column and the columns the file has;
2. every specimen label must be the accession of a stored specimen — the unknown ones are
   listed and nothing is written;
3. cell-type labels map to the vocabulary (:func:`trephine.domain.populations.cell_type_for`,
   or ``LABEL=population`` given explicitly); labels that map to nothing are LISTED with their
   cell counts in the answer and in a flag on every stored population, and their cells stay in
   the denominator — never dropped silently;
4. per specimen and mapped population: count, % of the specimen's cells profiled (with its
   Wilson interval where shown), method single-cell, the file's SHA-256, the labels it came
   from and the software versions;
5. with coordinates: per-specimen neighbourhood co-localisation between cell types
   (:func:`trephine.analysis.microenvironment.composition.colocalisation`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trephine.domain.populations import CELL_TYPES, TOTAL_PROFILED, cell_type_for
from trephine.domain.results import Population, PopulationMethod
from trephine.errors import ValidationError

if TYPE_CHECKING:
    from trephine.analysis.microenvironment.composition import Colocalisation


@dataclass
class OmicsImport:
    """What an h5ad import found and would store."""

    file: str
    sha256: str
    cells: int
    specimens: dict[str, int]
    mapping: dict[str, str]
    unmapped: dict[str, int]
    populations: list[tuple[str, Population]]
    colocalisation: dict[str, Colocalisation] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "cells": self.cells,
            "specimens": self.specimens,
            "mapping": self.mapping,
            "unmapped_labels": self.unmapped,
            "populations": [
                {
                    "specimen": accession,
                    "population": p.population,
                    "count": p.count,
                    "cells_profiled": p.parent_count,
                    "percent": str(p.percent_of_parent),
                    "labels": p.source_label,
                }
                for accession, p in self.populations
            ],
            "colocalisation": {
                accession: {"k": c.k, "cells": c.cells, "pairs": c.pairs()}
                for accession, c in self.colocalisation.items()
            },
        }


def parse_mapping(items: Collection[str]) -> dict[str, str]:
    """``["Tcm=T cells", …]`` → ``{"Tcm": "T cells"}``; every target must be in the vocabulary."""
    out: dict[str, str] = {}
    for item in items:
        label, sep, name = item.partition("=")
        if not sep or not label.strip():
            raise ValidationError("mapping", item, "LABEL=population")
        if name.strip() not in CELL_TYPES:
            raise ValidationError(
                f"population for label {label.strip()}", name.strip(), sorted(CELL_TYPES)
            )
        out[label.strip()] = name.strip()
    return out


def plan_h5ad_import(
    path: str | Path,
    specimen_column: str,
    cell_type_column: str,
    *,
    known_specimens: Callable[[list[str]], set[str]],
    mapping: Mapping[str, str] | None = None,
    neighbours: int = 10,
    permutations: int = 100,
    software: str,
) -> OmicsImport:
    """Read, check and build everything an import stores (nothing is written here)."""
    import numpy as np

    from trephine.analysis.microenvironment.composition import colocalisation, composition
    from trephine.importers.flow_mrd import sha256_of
    from trephine.io.h5ad import read_obs_columns

    path = Path(path)
    if specimen_column == cell_type_column:
        raise ValidationError(
            "cell_type_column",
            cell_type_column,
            f"a column other than the specimen column ({specimen_column})",
        )
    obs = read_obs_columns(path, [specimen_column, cell_type_column])
    specimens = obs.categories[specimen_column]
    labels = obs.categories[cell_type_column]
    spec_codes = obs.codes[specimen_column]
    type_codes = obs.codes[cell_type_column]
    if (spec_codes < 0).any():
        raise ValidationError(
            f"{path.name}: {specimen_column}", "missing value", "a specimen accession on every cell"
        )
    if (type_codes < 0).any():
        raise ValidationError(
            f"{path.name}: {cell_type_column}", "missing value", "a cell-type label on every cell"
        )
    known = known_specimens(specimens)
    unknown = [s for s in specimens if s not in known]
    if unknown:
        shown = ", ".join(unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        raise ValidationError(
            f"{path.name}: specimen ({specimen_column})",
            shown,
            "accessions of stored specimens",
            reason=f"{len(unknown)} of {len(specimens)} specimens are not stored; nothing imported",
        )
    explicit = dict(mapping or {})
    not_in_file = sorted(set(explicit) - set(labels))
    if not_in_file:
        raise ValidationError(
            "mapping label",
            ", ".join(not_in_file),
            labels,
            reason=f"not a label of column {cell_type_column}",
        )
    mapped: dict[str, str] = {}
    for label in labels:
        if label in explicit:
            mapped[label] = explicit[label]
            continue
        cell = cell_type_for(label)
        if cell is not None:
            mapped[label] = cell.name
    counts = composition(spec_codes, type_codes, len(specimens), len(labels))
    per_specimen = counts.sum(axis=1)
    unmapped = {
        label: int(counts[:, j].sum()) for j, label in enumerate(labels) if label not in mapped
    }
    sha = sha256_of(path)
    targets = sorted(set(mapped.values()), key=list(CELL_TYPES).index)
    populations: list[tuple[str, Population]] = []
    for i, accession in enumerate(specimens):
        total = int(per_specimen[i])
        if total == 0:
            continue
        missing_cells = {
            label: int(counts[i, j])
            for j, label in enumerate(labels)
            if label not in mapped and counts[i, j] > 0
        }
        flags: tuple[str, ...] = ()
        if missing_cells:
            flags = (
                "unmapped labels (in the denominator): "
                + ", ".join(f"{label} {n}" for label, n in sorted(missing_cells.items())),
            )
        for target in targets:
            sources = [j for j, label in enumerate(labels) if mapped.get(label) == target]
            populations.append(
                (
                    accession,
                    Population(
                        population=target,
                        count=int(counts[i, sources].sum()),
                        parent=TOTAL_PROFILED,
                        parent_count=total,
                        method=PopulationMethod.SINGLE_CELL,
                        source_label=", ".join(labels[j] for j in sources)[:200],
                        source_file=path.name[:200],
                        source_sha256=sha,
                        software=software,
                        flags=flags,
                    ),
                )
            )
    coloc: dict[str, Colocalisation] = {}
    if obs.spatial is not None:
        for i, accession in enumerate(specimens):
            where = np.flatnonzero(spec_codes == i)
            if len(where) < 3:
                continue
            coloc[accession] = colocalisation(
                obs.spatial[where],
                type_codes[where],
                list(labels),
                k=neighbours,
                permutations=permutations,
                seed=i,
            )
    return OmicsImport(
        file=path.name,
        sha256=sha,
        cells=obs.n_cells,
        specimens={s: int(per_specimen[i]) for i, s in enumerate(specimens)},
        mapping=mapped,
        unmapped=unmapped,
        populations=populations,
        colocalisation=coloc,
    )
