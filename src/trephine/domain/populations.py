"""The controlled vocabulary of marrow cell populations and microenvironment measurements.

A stored ``population`` result names one :class:`CellType` of :data:`CELL_TYPES` (by its
``name``), so that a flow panel's "Tregs", a single-cell atlas's "CD4+ CD25+ Treg" and an IHC
count of FOXP3+ cells are the same population when a researcher compares them. Every cell type
carries its Cell Ontology (CL) id. ``cl_verified`` is True only where the id and its label were
found to agree in at least two independent public sources while this table was written (see
docs/microenvironment.md, "Cell Ontology ids"); the others are our best mapping and are marked
"unverified" wherever they are shown or exported — check them before relying on them.

Labels from other tools map to the vocabulary through :func:`cell_type_for` (exact name,
synonym, or CL id, case- and punctuation-insensitive). A label that maps to nothing is never
guessed: the caller lists it.

``MEASUREMENT_INDICES`` declares the continuous microenvironment indices (histomorphometry and
image indices), each with its one canonical unit and allowed range.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from trephine.domain import quantity as q


@dataclass(frozen=True)
class CellType:
    """One population of the vocabulary."""

    name: str
    cl_id: str
    #: The Cell Ontology label the id stands for (may be broader than ``name``).
    cl_label: str
    #: True when the CL id and label were confirmed in two independent sources.
    cl_verified: bool
    #: The population it is usually gated from (a vocabulary name), or None for a root.
    usual_parent: str | None
    synonyms: tuple[str, ...] = ()

    @property
    def cl_text(self) -> str:
        return self.cl_id + ("" if self.cl_verified else " (unverified)")


_TYPES: tuple[CellType, ...] = (
    CellType(
        "leukocytes",
        "CL:0000738",
        "leukocyte",
        True,
        None,
        ("CD45", "CD45+", "CD45+ cells", "CD45 positive", "white blood cells", "immune cells"),
    ),
    CellType(
        "T cells",
        "CL:0000084",
        "T cell",
        True,
        "leukocytes",
        ("T cell", "CD3", "CD3+", "CD3+ T cells", "CD3 T cells", "T lymphocytes"),
    ),
    CellType(
        "CD4 T cells",
        "CL:0000624",
        "CD4-positive, alpha-beta T cell",
        True,
        "T cells",
        ("CD4", "CD4+", "CD4+ T cells", "CD4 T", "CD4-positive, alpha-beta T cell", "T helper"),
    ),
    CellType(
        "CD8 T cells",
        "CL:0000625",
        "CD8-positive, alpha-beta T cell",
        True,
        "T cells",
        ("CD8", "CD8+", "CD8+ T cells", "CD8 T", "CD8-positive, alpha-beta T cell", "CTL"),
    ),
    CellType(
        "regulatory T cells",
        "CL:0000815",
        "regulatory T cell",
        True,
        "CD4 T cells",
        ("Treg", "Tregs", "regulatory T cell", "CD4+CD25+FOXP3+", "CD25+FOXP3+"),
    ),
    CellType(
        "NK cells",
        "CL:0000623",
        "natural killer cell",
        True,
        "leukocytes",
        ("NK", "NK cell", "natural killer cell", "natural killer cells", "CD56+ NK"),
    ),
    CellType(
        "B cells",
        "CL:0000236",
        "B cell",
        True,
        "leukocytes",
        ("B cell", "CD19", "CD19+", "CD19+ B cells", "B lymphocytes"),
    ),
    CellType(
        "plasma cells",
        "CL:0000786",
        "plasma cell",
        True,
        "leukocytes",
        ("plasma cell", "PC", "CD138", "CD138+", "plasmablasts"),
    ),
    CellType(
        "monocytes",
        "CL:0000576",
        "monocyte",
        True,
        "leukocytes",
        ("monocyte", "CD14", "CD14+", "CD14+ monocytes", "classical monocytes", "mono"),
    ),
    CellType(
        "myeloid-derived suppressor cells",
        "CL:0000889",
        "myeloid suppressor cell",
        True,
        "leukocytes",
        ("MDSC", "MDSCs", "myeloid suppressor cell", "myeloid-derived suppressor cell"),
    ),
    # No Cell Ontology term specific to the monocytic or the granulocytic subset was found;
    # both carry the broader MDSC term and are marked unverified.
    CellType(
        "monocytic MDSC",
        "CL:0000889",
        "myeloid suppressor cell (broader term)",
        False,
        "myeloid-derived suppressor cells",
        ("M-MDSC", "mMDSC", "monocytic myeloid-derived suppressor cells", "CD14+HLA-DRlow"),
    ),
    CellType(
        "granulocytic MDSC",
        "CL:0000889",
        "myeloid suppressor cell (broader term)",
        False,
        "myeloid-derived suppressor cells",
        ("G-MDSC", "PMN-MDSC", "gMDSC", "granulocytic myeloid-derived suppressor cells"),
    ),
    CellType(
        "CD34+ progenitors",
        "CL:0008001",
        "hematopoietic precursor cell",
        False,
        "leukocytes",
        ("CD34", "CD34+", "CD34+ cells", "HSPC", "HSPCs", "progenitors", "CD34 progenitors"),
    ),
    CellType(
        "hematopoietic stem cells",
        "CL:0000037",
        "hematopoietic stem cell",
        True,
        "CD34+ progenitors",
        ("HSC", "HSCs", "hematopoietic stem cell", "haematopoietic stem cells"),
    ),
    CellType(
        "neutrophils",
        "CL:0000775",
        "neutrophil",
        True,
        "leukocytes",
        ("neutrophil", "granulocytes", "PMN"),
    ),
    CellType(
        "erythroid precursors",
        "CL:0000765",
        "erythroblast",
        False,
        None,
        ("erythroblast", "erythroblasts", "erythroid", "erythroid cells", "CD71+"),
    ),
    CellType(
        "dendritic cells",
        "CL:0000451",
        "dendritic cell",
        True,
        "leukocytes",
        ("DC", "DCs", "dendritic cell", "cDC"),
    ),
    CellType(
        "plasmacytoid dendritic cells",
        "CL:0000784",
        "plasmacytoid dendritic cell",
        False,
        "dendritic cells",
        ("pDC", "pDCs", "plasmacytoid dendritic cell"),
    ),
    CellType(
        "macrophages",
        "CL:0000235",
        "macrophage",
        True,
        "leukocytes",
        ("macrophage", "CD68+", "CD163+"),
    ),
    CellType(
        "mast cells",
        "CL:0000097",
        "mast cell",
        True,
        "leukocytes",
        ("mast cell", "CD117+ mast cells"),
    ),
    CellType(
        "megakaryocytes",
        "CL:0000556",
        "megakaryocyte",
        False,
        None,
        ("megakaryocyte", "MK", "CD61+"),
    ),
    CellType(
        "mesenchymal stromal cells",
        "CL:0000134",
        "mesenchymal stem cell (label differs between CL releases)",
        False,
        None,
        (
            "MSC",
            "MSCs",
            "mesenchymal stem cells",
            "CD271",
            "CD271+",
            "CD271+ stromal cells",
            "stromal",
        ),
    ),
    CellType(
        "bone marrow stromal cells",
        "CL:0010001",
        "stromal cell of bone marrow",
        False,
        None,
        ("stromal cell of bone marrow", "BMSC", "LEPR+ stromal cells", "CAR cells"),
    ),
    CellType(
        "endothelial cells",
        "CL:0000115",
        "endothelial cell",
        True,
        None,
        ("endothelial cell", "endothelium", "CD31+", "sinusoidal endothelial cells"),
    ),
    CellType(
        "adipocytes",
        "CL:0000136",
        "fat cell",
        False,
        None,
        ("adipocyte", "fat cell", "fat cells", "marrow adipocytes"),
    ),
    CellType(
        "osteoblasts",
        "CL:0000062",
        "osteoblast",
        False,
        None,
        ("osteoblast",),
    ),
    CellType(
        "blasts",
        "CL:0000738",
        "leukocyte (no CL term for a leukaemic blast)",
        False,
        "leukocytes",
        ("blast", "leukemic blasts", "leukaemic blasts", "myeloblasts", "AML blasts"),
    ),
)

CELL_TYPES: Mapping[str, CellType] = MappingProxyType({t.name: t for t in _TYPES})

#: What "% of total" is a share of.
TOTAL_CD45 = "CD45+ cells"
TOTAL_NUCLEATED = "nucleated cells"
TOTAL_PROFILED = "cells profiled"
TOTALS: tuple[str, ...] = (TOTAL_CD45, TOTAL_NUCLEATED, TOTAL_PROFILED)

_PUNCT = re.compile(r"[\s_\-.,/()]+")
#: Gate names write "CD45pos"/"CD3neg" for "CD45+"/"CD3-".
_POS = re.compile(r"(?<=[0-9a-z])pos\b")
_NEG = re.compile(r"(?<=[0-9a-z])neg\b")


def _norm(text: str) -> str:
    lowered = text.strip().lower()
    lowered = _NEG.sub("-", _POS.sub("+", lowered))
    return _PUNCT.sub(" ", lowered).strip()


def _index() -> dict[str, CellType]:
    out: dict[str, CellType] = {}
    for t in _TYPES:
        for label in (t.name, *t.synonyms):
            out.setdefault(_norm(label), t)
        # An id maps to the one type whose own term it is (not to the narrower subsets).
        if t.cl_verified:
            out.setdefault(_norm(t.cl_id), t)
    # Plural/singular: "monocyte" and "monocytes" both reach the same type.
    for key, t in list(out.items()):
        out.setdefault(key[:-1] if key.endswith("s") else key + "s", t)
    return out


_INDEX = _index()


def cell_type_for(label: str) -> CellType | None:
    """The vocabulary entry a label names (name, synonym or verified CL id), or None."""
    return _INDEX.get(_norm(label))


def population_names() -> list[str]:
    return list(CELL_TYPES)


# --------------------------------------------------------------------------- measurements


@dataclass(frozen=True)
class MeasurementIndex:
    """A continuous microenvironment index: its name, canonical unit and range."""

    name: str
    measure: q.Measure
    description: str


_PER_MM2 = {"/mm2": Decimal(1), "/mm^2": Decimal(1), "per mm2": Decimal(1)}
_MM2_LABELS = {"cells/mm²": Decimal(1), "cells/mm^2": Decimal(1), **_PER_MM2}
_VESSELS = {"vessels/mm²": Decimal(1), "vessels/mm^2": Decimal(1), **_PER_MM2}


def _density(name: str, unit: str, conversions: Mapping[str, Decimal]) -> q.Measure:
    return q.Measure(name, unit, Decimal(0), Decimal(100000), dict(conversions))


_INDICES: tuple[MeasurementIndex, ...] = (
    MeasurementIndex(
        "microvessel density",
        _density("microvessel density", "vessels/mm2", _VESSELS),
        "CD34+ vessels per mm² of marrow (Weidner-type hot spot or whole core)",
    ),
    MeasurementIndex(
        "CD271+ stromal cells",
        _density("CD271+ stromal cells", "cells/mm2", _MM2_LABELS),
        "CD271+ (NGFR) stromal cells per mm² of marrow",
    ),
    MeasurementIndex(
        "adipocyte area fraction",
        q.percent("adipocyte area fraction"),
        "fat (adipocyte) area as % of the marrow space",
    ),
    MeasurementIndex(
        "reticulin index",
        q.percent("reticulin index"),
        "reticulin fibre area as % of the marrow space (continuous research index, not a grade)",
    ),
    MeasurementIndex(
        "collagen index",
        q.percent("collagen index"),
        "collagen (trichrome) area as % of the marrow space (research index, not a grade)",
    ),
    MeasurementIndex(
        "cellularity",
        q.percent("cellularity"),
        "haematopoietic cell area as % of the marrow space, measured on an image",
    ),
    MeasurementIndex(
        "nucleus density",
        _density("nucleus density", "cells/mm2", _MM2_LABELS),
        "nuclei per mm² of marrow space, detected on an image",
    ),
    MeasurementIndex(
        "iron area fraction",
        q.percent("iron area fraction"),
        "Perls-positive area as % of the marrow space",
    ),
)

MEASUREMENT_INDICES: Mapping[str, MeasurementIndex] = MappingProxyType(
    {m.name: m for m in _INDICES}
)
