"""Read FlowJo 10 workspaces (``.wsp``) into one gating :class:`Strategy` per sample.

What is read, per ``SampleList/Sample``:

* the sample name (``SampleNode@name``), its FCS file (``DataSet@uri``), its keywords and
  FlowJo's event count;
* the compensation (``transforms:spilloverMatrix``; gate dimensions named ``<prefix>X<suffix>``,
  e.g. ``Comp-FITC-A``, are channel ``X`` compensated with it);
* the display transform of each parameter: ``linear``, ``log``, ``biex`` (FlowJo's lookup-table
  biexponential), ``logicle``, ``fasinh``, ``hyperlog``;
* the population tree: ``Population`` nodes with rectangle (quadrants are written as rectangles),
  polygon and ellipse gates, ``eventsInside="0"`` (outside the region), boolean ``AndNode``/
  ``OrNode``/``NotNode`` populations and their ``Subpopulations``, and FlowJo's stored ``count``
  for each (``-1`` = FlowJo did not compute it).

Why gates are converted, not taken as written: FlowJo stores rectangle and polygon coordinates
in raw data units but *evaluates* gates on the display (transformed) scale - a polygon edge that
is straight on a biex axis is curved in raw units. Each gate dimension therefore becomes a
:class:`Dimension` carrying the parameter's transform, and the coordinates are transformed once
here, so :func:`~trephine.analysis.flow.strategy.apply_strategy` gates exactly where FlowJo does.
Ellipses are stored differently again: two foci and four edge points in FlowJo's 256-bin display
space; they become an exact :class:`EllipsoidGate` on the transformed 0..1 scales.

Gate ids are population *paths* from the sample root joined with ``/`` (``Time/Singlets/CD3+``),
as FlowJo's own boolean ``Dependent`` references are written; names alone are not unique (every
``CD4+`` and ``CD8+`` branch has its own ``IFNg+``).

Errors are :class:`~trephine.errors.ParseError` located as ``file.wsp:LINE`` plus the element
path (``Population 'Time/Singlets'``), naming what is wrong and what is allowed. The XML is parsed
with expat, with entity declarations refused (no entity expansion attacks, nothing fetched).
"""

from __future__ import annotations

import math
import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from xml.parsers import expat

from trephine.analysis.flow.flowjo_model import FlowJoLinear, FlowJoLog, OutsideGate
from trephine.analysis.flow.gates import (
    FCS_COMPENSATION,
    UNCOMPENSATED,
    BooleanGate,
    BooleanOp,
    Dimension,
    EllipsoidGate,
    Gate,
    GateReference,
    PolygonGate,
    RectangleGate,
)
from trephine.analysis.flow.strategy import SpectrumMatrix, Strategy
from trephine.analysis.flow.transforms import (
    AsinhTransform,
    FlowJoBiex,
    HyperlogTransform,
    LogicleTransform,
    Transform,
)
from trephine.errors import Location, ParseError, ValidationError

__all__ = [
    "FlowJoSample",
    "Population",
    "Workspace",
    "describe",
    "load_flowjo_strategy",
    "parse_workspace",
    "read_workspace",
]

_NAMESPACES = {
    "http://www.isac-net.org/std/Gating-ML/v2.0/gating": "gating",
    "http://www.isac-net.org/std/Gating-ML/v2.0/transformations": "transforms",
    "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes": "data-type",
}
#: FlowJo's ellipse coordinates live in a display grid of this many bins per axis.
_DISPLAY_BINS = 256.0
SUPPORTED_TRANSFORMS = ("linear", "log", "biex", "logicle", "fasinh", "hyperlog")
SUPPORTED_GATES = ("RectangleGate", "PolygonGate", "EllipsoidGate")
_BOOLEAN_NODES = {"AndNode": BooleanOp.AND, "OrNode": BooleanOp.OR, "NotNode": BooleanOp.NOT}


# --------------------------------------------------------------------------- XML with lines


class _Node:
    """One XML element: ``tag`` and attribute names as ``prefix:local`` for the Gating-ML
    namespaces (``gating:min``), plus the line it starts on for error messages."""

    __slots__ = ("attrib", "children", "line", "tag")

    def __init__(self, tag: str, attrib: dict[str, str], line: int) -> None:
        self.tag = tag
        self.attrib = attrib
        self.children: list[_Node] = []
        self.line = line

    def find(self, tag: str) -> _Node | None:
        for c in self.children:
            if c.tag == tag:
                return c
        return None

    def findall(self, tag: str) -> list[_Node]:
        return [c for c in self.children if c.tag == tag]


def _qualify(name: str) -> str:
    uri, sep, local = name.rpartition(" ")
    if not sep:
        return name
    prefix = _NAMESPACES.get(uri)
    return f"{prefix}:{local}" if prefix else f"{{{uri}}}{local}"


def _parse_xml(data: bytes, source: str) -> _Node:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Node] = []
    root: list[_Node] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        node = _Node(
            _qualify(tag), {_qualify(k): v for k, v in attrs.items()}, parser.CurrentLineNumber
        )
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    def entity_decl(name: str, *args: object) -> None:
        raise ParseError(
            f"entity declaration {name!r} is not allowed in a FlowJo workspace",
            location=Location(source=f"{source}:{parser.CurrentLineNumber}"),
        )

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = entity_decl
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ParseError(
            f"not well-formed XML: {expat.ErrorString(exc.code)} (column {exc.offset + 1})",
            location=Location(source=f"{source}:{exc.lineno}"),
        ) from None
    except LookupError as exc:  # the XML declaration names an encoding Python does not know
        raise ParseError(
            f"unreadable XML declaration: {exc}", location=Location(source=f"{source}:1")
        ) from None
    if not root:
        raise ParseError("empty document", location=Location(source=source))
    return root[0]


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Population:
    """One population of a sample's gate tree as FlowJo wrote it."""

    path: str  #: the gate id: names from the sample root joined with "/"
    name: str
    parent: str | None  #: parent path, ``None`` under the sample root ("all events")
    kind: str  #: rectangle, polygon, ellipse, and, or, not
    count: int | None  #: FlowJo's stored count (-1: not computed; None: not written)
    line: int  #: line of the Population/boolean node in the .wsp
    #: the parameters gated on, as FlowJo names them (``Comp-FITC-A``); booleans: the operands
    on: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowJoSample:
    """One sample of a workspace and its gating strategy."""

    sample_id: str
    name: str
    uri: str | None
    keywords: Mapping[str, str]
    event_count: int | None  #: FlowJo's count of all events
    compensation: SpectrumMatrix | None
    comp_prefix: str
    comp_suffix: str
    transforms: Mapping[str, Transform]  #: by parameter name as written (``Comp-FITC-A``)
    populations: tuple[Population, ...]
    strategy: Strategy

    @property
    def fcs_name(self) -> str | None:
        """File name of the sample's FCS file (the last part of ``DataSet@uri``)."""
        if not self.uri:
            return None
        return posixpath.basename(unquote(urlparse(self.uri).path).replace("\\", "/")) or None

    def flowjo_counts(self) -> dict[str, int]:
        """FlowJo's stored count per gate id, for the populations that have one."""
        return {p.path: p.count for p in self.populations if p.count is not None}


@dataclass(frozen=True)
class Workspace:
    source: str
    flowjo_version: str | None
    samples: tuple[FlowJoSample, ...]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def sample_names(self) -> list[str]:
        return [s.name for s in self.samples]

    def sample(self, name: str) -> FlowJoSample:
        """The sample called ``name`` (``SampleNode@name``; its FCS file name or sample id also
        match when unambiguous). Unknown names raise an error listing the available ones."""
        named = [s for s in self.samples if s.name == name]
        if len(named) > 1:
            # The same FCS file added twice: only the sample id tells them apart.
            raise ValidationError(
                "sample",
                name,
                [f"{s.sample_id} ({s.name})" for s in named],
                location=Location(source=self.source),
                reason="several samples have this name; give the sample id",
            )
        if named:
            return named[0]
        for key in (lambda s: s.fcs_name, lambda s: s.sample_id):
            hits = [s for s in self.samples if key(s) == name]
            if len(hits) == 1:
                return hits[0]
        raise ValidationError(
            "sample",
            name,
            self.sample_names or "(the workspace has no samples)",
            location=Location(source=self.source),
            reason="no such sample in the workspace",
        )


def read_workspace(path: str | os.PathLike[str]) -> Workspace:
    """Parse a FlowJo 10 ``.wsp`` file."""
    source = os.fspath(path)
    data = Path(source).read_bytes()
    return parse_workspace(data, source=source)


def load_flowjo_strategy(path: str | os.PathLike[str], sample: str) -> Strategy:
    """The gating strategy of one sample of a workspace (what ``trephine flow gate --flowjo``
    evaluates)."""
    return read_workspace(path).sample(sample).strategy


def parse_workspace(data: bytes | str, source: str = "<workspace>") -> Workspace:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    root = _parse_xml(raw, source)
    ctx = _Ctx(source)
    if root.tag != "Workspace":
        raise ctx.fail(root, "document", f"root element <{root.tag}>", "<Workspace> (FlowJo 10)")
    sample_list = root.find("SampleList")
    if sample_list is None:
        raise ctx.fail(root, "Workspace", "no <SampleList>", "a <SampleList> of <Sample> elements")
    samples = [_Sample(ctx, el).build() for el in sample_list.findall("Sample")]
    by_id = {s.sample_id: s.name for s in samples}
    groups: dict[str, tuple[str, ...]] = {}
    groups_el = root.find("Groups")
    for gn in groups_el.findall("GroupNode") if groups_el is not None else []:
        group = gn.find("Group")
        refs = group.find("SampleRefs") if group is not None else None
        ids = (
            [r.attrib.get("sampleID", "") for r in refs.findall("SampleRef")]
            if refs is not None
            else []
        )
        groups[gn.attrib.get("name", "")] = tuple(by_id[i] for i in ids if i in by_id)
    return Workspace(
        source=source,
        flowjo_version=root.attrib.get("flowJoVersion"),
        samples=tuple(samples),
        groups=groups,
    )


# --------------------------------------------------------------------------- parsing


class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source
        #: One instance per distinct transform: a logicle tabulates its inverse on first use,
        #: and a workspace repeats the same few parameter sets on every channel of every sample.
        self.transforms: dict[Transform, Transform] = {}

    def loc(self, node: _Node, where: str) -> Location:
        return Location(source=f"{self.source}:{node.line}", field=where)

    def fail(self, node: _Node, where: str, value: object, allowed: str) -> ParseError:
        return ParseError(f"got {value}; expected {allowed}", location=self.loc(node, where))


def _number(ctx: _Ctx, node: _Node, attr: str, where: str, default: float | None = None) -> float:
    text = node.attrib.get(attr)
    if text is None:
        if default is not None:
            return default
        raise ctx.fail(node, where, f"missing @{attr}", "a number")
    try:
        value = float(text)
    except ValueError:
        raise ctx.fail(node, f"{where} @{attr}", repr(text), "a number") from None
    if not math.isfinite(value):
        raise ctx.fail(node, f"{where} @{attr}", repr(text), "a finite number")
    return value


class _Sample:
    """Builds one :class:`FlowJoSample` from a ``<Sample>`` element."""

    def __init__(self, ctx: _Ctx, el: _Node) -> None:
        self.ctx = ctx
        self.el = el
        self.node = el.find("SampleNode")
        if self.node is None:
            raise ctx.fail(el, "Sample", "no <SampleNode>", "a <SampleNode name=...>")
        self.name = self.node.attrib.get("name", "")
        self.where = f"Sample {self.name!r}"
        self.matrix: SpectrumMatrix | None = None
        self.prefix = ""
        self.suffix = ""
        self.transforms: dict[str, Transform] = {}
        self.gates: list[Gate] = []
        self.pops: list[Population] = []
        #: boolean populations whose references are resolved once the whole tree is known
        self.pending: list[tuple[_Node, str, str | None, BooleanOp, list[str]]] = []

    def build(self) -> FlowJoSample:
        ctx, el = self.ctx, self.el
        self._compensation()
        tr = el.find("Transformations")
        if tr is not None:
            for t in tr.children:
                name, transform = self._transform(t)
                self.transforms[name] = transform
        keywords: dict[str, str] = {}
        kw = el.find("Keywords")
        for k in kw.findall("Keyword") if kw is not None else []:
            keywords[k.attrib.get("name", "")] = k.attrib.get("value", "")
        assert self.node is not None
        subs = self.node.find("Subpopulations")
        if subs is not None:
            self._populations(subs, None)
        self._resolve_booleans()
        # Document order (booleans were added after the tree was complete).
        rank = {p.path: i for i, p in enumerate(self.pops)}
        self.gates.sort(key=lambda g: rank[g.id])
        try:
            strategy = Strategy(
                gates=tuple(self.gates),
                transforms=dict(self.transforms),
                matrices={self.matrix.id: self.matrix} if self.matrix else {},
                source=ctx.source,
            )
        except ValidationError as exc:
            raise ParseError(str(exc), location=ctx.loc(self.node, self.where)) from None
        dataset = el.find("DataSet")
        count = self.node.attrib.get("count")
        return FlowJoSample(
            sample_id=self.node.attrib.get("sampleID")
            or (dataset.attrib.get("sampleID", "") if dataset is not None else ""),
            name=self.name,
            uri=dataset.attrib.get("uri") if dataset is not None else None,
            keywords=keywords,
            event_count=self._count(self.node, count),
            compensation=self.matrix,
            comp_prefix=self.prefix,
            comp_suffix=self.suffix,
            transforms=dict(self.transforms),
            populations=tuple(self.pops),
            strategy=strategy,
        )

    # ---------------------------------------------------------------- compensation

    def _compensation(self) -> None:
        ctx = self.ctx
        mats = self.el.findall("transforms:spilloverMatrix")
        if len(mats) > 1:
            raise ctx.fail(
                mats[1],
                f"{self.where} spilloverMatrix",
                f"{len(mats)} matrices",
                "one compensation matrix per sample",
            )
        if not mats:
            return
        m = mats[0]
        where = f"{self.where} spilloverMatrix"
        self.prefix = m.attrib.get("prefix", "")
        self.suffix = m.attrib.get("suffix", "")
        mid = m.attrib.get("name") or m.attrib.get("transforms:id") or "FlowJo"
        if mid in (UNCOMPENSATED, FCS_COMPENSATION):
            # Those ids mean "no compensation" / "the file's own $SPILLOVER" to the engine.
            mid = f"FlowJo {mid}"
        params = m.find("data-type:parameters")
        detectors = [
            p.attrib.get("data-type:name", "")
            for p in (params.findall("data-type:parameter") if params is not None else [])
        ]
        rows: list[tuple[float, ...]] = []
        fluors: list[str] = []
        col_names: list[str] | None = None
        for row_el in m.findall("transforms:spillover"):
            fluors.append(row_el.attrib.get("data-type:parameter", ""))
            coeffs = row_el.findall("transforms:coefficient")
            names = [c.attrib.get("data-type:parameter", "") for c in coeffs]
            if col_names is None:
                col_names = names
            elif names != col_names:
                raise ctx.fail(
                    row_el,
                    f"{where} spillover {fluors[-1]!r}",
                    f"coefficients for {names}",
                    f"the same detectors in the same order as the first row ({col_names})",
                )
            rows.append(
                tuple(
                    _number(ctx, c, "transforms:value", f"{where} coefficient {n!r}")
                    for c, n in zip(coeffs, names, strict=True)
                )
            )
        cols = col_names if col_names is not None else detectors
        if not rows or not cols:
            raise ctx.fail(m, where, "an empty matrix", "one <spillover> row per fluorochrome")
        spectral = m.attrib.get("spectral") == "1"
        if not spectral and sorted(fluors) != sorted(cols):
            raise ctx.fail(
                m, where, f"rows {fluors} vs columns {cols}", "a square matrix over one set"
            )
        try:
            self.matrix = SpectrumMatrix(
                id=mid,
                fluorochromes=tuple(fluors),
                detectors=tuple(cols),
                matrix=tuple(rows),
            )
        except ValidationError as exc:
            raise ParseError(str(exc), location=ctx.loc(m, where)) from None

    # ---------------------------------------------------------------- transforms

    def _transform(self, t: _Node) -> tuple[str, Transform]:
        ctx = self.ctx
        kind = t.tag.partition(":")[2] if t.tag.startswith("transforms:") else t.tag
        param = t.find("data-type:parameter")
        name = param.attrib.get("data-type:name", "") if param is not None else ""
        where = f"{self.where} transform {kind} of {name!r}"
        if not name:
            raise ctx.fail(t, where, "no <data-type:parameter name=...>", "the parameter name")

        def num(attr: str, default: float | None = None) -> float:
            return _number(ctx, t, f"transforms:{attr}", where, default)

        try:
            transform: Transform
            if kind == "linear":
                transform = FlowJoLinear(min_range=num("minRange", 0.0), max_range=num("maxRange"))
            elif kind == "log":
                transform = FlowJoLog(offset=num("offset"), decades=num("decades"))
            elif kind == "biex":
                transform = FlowJoBiex(
                    width=num("width"),
                    negative=num("neg", 0.0),
                    positive=num("pos"),
                    max_value=num("maxRange"),
                )
            elif kind == "logicle":
                transform = LogicleTransform(T=num("T"), W=num("W"), M=num("M"), A=num("A", 0.0))
            elif kind == "hyperlog":
                transform = HyperlogTransform(T=num("T"), W=num("W"), M=num("M"), A=num("A", 0.0))
            elif kind == "fasinh":
                # FlowJo also writes W, length and maxRange; the scale is Gating-ML's fasinh
                # with T, M, A (FlowJo's counts are reproduced with exactly these).
                transform = AsinhTransform(T=num("T"), M=num("M"), A=num("A", 0.0))
            else:
                raise ctx.fail(t, where, f"transform <{t.tag}>", ", ".join(SUPPORTED_TRANSFORMS))
        except ValidationError as exc:
            raise ParseError(str(exc), location=ctx.loc(t, where)) from None
        return name, ctx.transforms.setdefault(transform, transform)

    # ---------------------------------------------------------------- populations

    def _count(self, node: _Node, text: str | None) -> int | None:
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            raise self.ctx.fail(node, "@count", repr(text), "an integer") from None

    def _populations(self, subs: _Node, parent: str | None) -> None:
        for child in subs.children:
            if child.tag == "Population":
                self._population(child, parent)
            elif child.tag in _BOOLEAN_NODES:
                self._boolean(child, parent)

    def _path(self, node: _Node, parent: str | None) -> tuple[str, str]:
        name = node.attrib.get("name")
        if not name:
            raise self.ctx.fail(node, f"{self.where} {node.tag}", "no @name", "a population name")
        path = name if parent is None else f"{parent}/{name}"
        first = next((p.line for p in self.pops if p.path == path), None)
        if first is not None:
            raise self.ctx.fail(
                node,
                f"{self.where} {node.tag} {path!r}",
                f"a second population {path!r} (the first is on line {first})",
                "unique population names under one parent",
            )
        return name, path

    def _population(self, node: _Node, parent: str | None) -> None:
        ctx = self.ctx
        name, path = self._path(node, parent)
        where = f"{self.where} Population {path!r}"
        gate_el = node.find("Gate")
        regions = [c for c in gate_el.children] if gate_el is not None else []
        if len(regions) != 1:
            raise ctx.fail(
                gate_el if gate_el is not None else node,
                where,
                f"{len(regions)} gate elements",
                "exactly one gate",
            )
        region = regions[0]
        tag = region.tag.partition(":")[2]
        if tag not in SUPPORTED_GATES:
            raise ctx.fail(region, where, f"<{region.tag}>", ", ".join(SUPPORTED_GATES))
        inside = region.attrib.get("eventsInside", "1")
        if inside not in ("0", "1"):
            raise ctx.fail(region, f"{where} @eventsInside", repr(inside), "0 or 1")
        gid = path if inside == "1" else f"{path} (region)"
        gparent = parent if inside == "1" else None
        try:
            if tag == "RectangleGate":
                gate: Gate = self._rectangle(region, gid, gparent, where)
                kind = "rectangle"
            elif tag == "PolygonGate":
                gate = self._polygon(region, gid, gparent, where)
                kind = "polygon"
            else:
                gate = self._ellipse(region, gid, gparent, where)
                kind = "ellipse"
            if inside == "0":
                gate = OutsideGate(id=path, parent=parent, region=gate)
        except ValidationError as exc:
            raise ParseError(str(exc), location=ctx.loc(region, where)) from None
        self.gates.append(gate)
        count = self._count(node, node.attrib.get("count"))
        on = tuple(
            fcs.attrib.get("data-type:name", "")
            for d in region.findall("gating:dimension")
            if (fcs := d.find("data-type:fcs-dimension")) is not None
        )
        self.pops.append(Population(path, name, parent, kind, count, node.line, on))
        sub = node.find("Subpopulations")
        if sub is not None:
            self._populations(sub, path)

    def _boolean(self, node: _Node, parent: str | None) -> None:
        name, path = self._path(node, parent)
        where = f"{self.where} {node.tag} {path!r}"
        deps_el = node.find("Dependents")
        dep_els = deps_el.findall("Dependent") if deps_el is not None else []
        deps = [d.attrib.get("name", "") for d in dep_els]
        op = _BOOLEAN_NODES[node.tag]
        need = "exactly 1 dependent" if op is BooleanOp.NOT else "2 or more dependents"
        if (op is BooleanOp.NOT and len(deps) != 1) or (op is not BooleanOp.NOT and len(deps) < 2):
            at = deps_el if deps_el is not None else node
            raise self.ctx.fail(at, where, f"{len(deps)} dependents", need)
        self.pending.append((node, path, parent, op, deps))
        # Placeholder keeps the document order of populations; the gate is added on resolve.
        count = self._count(node, node.attrib.get("count"))
        self.pops.append(Population(path, name, parent, op.value, count, node.line, tuple(deps)))
        sub = node.find("Subpopulations")
        if sub is not None:
            self._populations(sub, path)

    def _resolve_booleans(self) -> None:
        known = [p.path for p in self.pops]
        for node, path, parent, op, deps in self.pending:
            refs = []
            for dep in deps:
                ref = self._resolve(dep, parent, known)
                if ref is None:
                    raise self.ctx.fail(
                        node,
                        f"{self.where} {node.tag} {path!r} Dependent",
                        repr(dep),
                        f"a population path of this sample ({', '.join(known)})",
                    )
                refs.append(GateReference(ref))
            try:
                self.gates.append(BooleanGate(id=path, parent=parent, op=op, operands=tuple(refs)))
            except ValidationError as exc:
                raise ParseError(str(exc), location=self.ctx.loc(node, path)) from None

    @staticmethod
    def _resolve(dep: str, parent: str | None, known: Sequence[str]) -> str | None:
        # FlowJo writes dependents as paths from the sample root; older workspaces write them
        # relative to the boolean's parent or by bare name - accept those when unambiguous.
        dep = dep.strip("/")
        if dep in known:
            return dep
        if parent is not None and f"{parent}/{dep}" in known:
            return f"{parent}/{dep}"
        tail = [k for k in known if k.endswith(f"/{dep}")]
        return tail[0] if len(tail) == 1 else None

    # ---------------------------------------------------------------- gate geometry

    def _dimensions(self, region: _Node, where: str) -> list[tuple[Dimension, Transform | None]]:
        out: list[tuple[Dimension, Transform | None]] = []
        for k, d in enumerate(region.findall("gating:dimension"), start=1):
            fcs = d.find("data-type:fcs-dimension")
            name = fcs.attrib.get("data-type:name", "") if fcs is not None else ""
            if not name:
                raise self.ctx.fail(
                    d,
                    f"{where} dimension {k}",
                    "no <data-type:fcs-dimension name=...>",
                    "an FCS parameter name (ratio dimensions are not FlowJo gates)",
                )
            out.append(self._dimension(name))
        if not out:
            raise self.ctx.fail(region, where, "no <gating:dimension>", "1 or 2 dimensions")
        return out

    def _dimension(self, name: str) -> tuple[Dimension, Transform | None]:
        comp = UNCOMPENSATED
        channel = name
        m = self.matrix
        if m is not None and name.startswith(self.prefix) and name.endswith(self.suffix):
            bare = name[len(self.prefix) : len(name) - len(self.suffix)]
            if (self.prefix or self.suffix) and bare in m.fluorochromes:
                comp, channel = m.id, bare
        transform = self.transforms.get(name)
        dim = Dimension(
            channel=channel, compensation=comp, transform=name if transform is not None else None
        )
        return dim, transform

    @staticmethod
    def _scale(transform: Transform | None, value: float) -> float:
        if transform is None:
            return value
        return float(transform.apply([value])[0])

    def _rectangle(self, region: _Node, gid: str, parent: str | None, where: str) -> Gate:
        dims = self._dimensions(region, where)
        bounds: list[tuple[float | None, float | None]] = []
        for (dim, tr), d in zip(dims, region.findall("gating:dimension"), strict=True):
            here = f"{where} dimension {dim.label!r}"
            lo = _number(self.ctx, d, "gating:min", here) if "gating:min" in d.attrib else None
            hi = _number(self.ctx, d, "gating:max", here) if "gating:max" in d.attrib else None
            bounds.append(
                (
                    None if lo is None else self._scale(tr, lo),
                    None if hi is None else self._scale(tr, hi),
                )
            )
        return RectangleGate(
            id=gid, parent=parent, dims=tuple(d for d, _ in dims), bounds=tuple(bounds)
        )

    def _vertices(self, parent_el: _Node, n: int, where: str) -> list[tuple[float, ...]]:
        out: list[tuple[float, ...]] = []
        for v in parent_el.findall("gating:vertex"):
            coords = v.findall("gating:coordinate")
            if len(coords) != n:
                raise self.ctx.fail(
                    v, f"{where} vertex", f"{len(coords)} coordinates", f"{n} (one per dimension)"
                )
            out.append(tuple(_number(self.ctx, c, "data-type:value", where) for c in coords))
        return out

    def _polygon(self, region: _Node, gid: str, parent: str | None, where: str) -> Gate:
        dims = self._dimensions(region, where)
        if len(dims) != 2:
            raise self.ctx.fail(region, where, f"{len(dims)} dimensions", "2")
        raw = self._vertices(region, 2, where)
        (dx, tx), (dy, ty) = dims
        verts = tuple((self._scale(tx, x), self._scale(ty, y)) for x, y in raw)
        return PolygonGate(id=gid, parent=parent, dims=(dx, dy), vertices=verts)

    def _ellipse(self, region: _Node, gid: str, parent: str | None, where: str) -> Gate:
        ctx = self.ctx
        dims = self._dimensions(region, where)
        if len(dims) != 2:
            raise ctx.fail(region, where, f"{len(dims)} dimensions", "2")
        for dim, tr in dims:
            if tr is None:
                # The display grid is defined over the transformed axis; without the transform
                # the 256-bin coordinates cannot be placed.
                raise ctx.fail(
                    region,
                    f"{where} dimension {dim.label!r}",
                    "no display transform for this parameter",
                    "a <Transformations> entry for every ellipse dimension",
                )
        foci_el = region.find("gating:foci")
        edge_el = region.find("gating:edge")
        foci = self._vertices(foci_el, 2, f"{where} foci") if foci_el is not None else []
        edge = self._vertices(edge_el, 2, f"{where} edge") if edge_el is not None else []
        if len(foci) != 2 or len(edge) != 4:
            raise ctx.fail(
                region, where, f"{len(foci)} foci, {len(edge)} edge points", "2 foci, 4 edge points"
            )
        mean, cov = _ellipse_from_flowjo(foci, edge)
        return EllipsoidGate(
            id=gid,
            parent=parent,
            dims=tuple(d for d, _ in dims),
            mean=mean,
            covariance=cov,
            distance_square=1.0,
        )


def _ellipse_from_flowjo(
    foci: Sequence[Sequence[float]], edge: Sequence[Sequence[float]]
) -> tuple[tuple[float, float], tuple[tuple[float, float], tuple[float, float]]]:
    """Mean and covariance (``(x-m)' C^-1 (x-m) <= 1``) on the 0..1 transformed scales from
    FlowJo's foci and edge points in 256-bin display units.

    FlowJo writes the two ends of the major axis first and the ends of the minor axis next; the
    minor-axis points are not reliable in FlowJo's files, so the semi-minor axis is derived from
    the foci and the semi-major axis (``b^2 = a^2 - c^2``).
    """
    s = 1.0 / _DISPLAY_BINS
    (f1x, f1y), (f2x, f2y) = ((p[0] * s, p[1] * s) for p in foci)
    cx, cy = (f1x + f2x) / 2, (f1y + f2y) / 2
    c = math.hypot(f2x - f1x, f2y - f1y) / 2
    pts = [(p[0] * s - cx, p[1] * s - cy) for p in edge]
    dists = [math.hypot(x, y) for x, y in pts]
    if c > 0:
        ux, uy = (f2x - f1x) / (2 * c), (f2y - f1y) / (2 * c)
        # The major-axis points are the ones lying along the focal axis.
        along = sorted(range(4), key=lambda i: -abs(pts[i][0] * ux + pts[i][1] * uy))
        a = (dists[along[0]] + dists[along[1]]) / 2
    else:  # a circle: no focal axis
        ux, uy = 1.0, 0.0
        a = max(dists)
    if not a > c:
        raise ValidationError("EllipsoidGate edge", a, f"a semi-major axis > focal distance {c}")
    b = math.sqrt(a * a - c * c)
    vx, vy = -uy, ux
    cov = (
        (a * a * ux * ux + b * b * vx * vx, a * a * ux * uy + b * b * vx * vy),
        (a * a * ux * uy + b * b * vx * vy, a * a * uy * uy + b * b * vy * vy),
    )
    return (cx, cy), cov


def describe(sample: FlowJoSample) -> dict[str, Any]:
    """A JSON-ready summary of a sample (what ``trephine flow workspace --json`` prints)."""
    return {
        "name": sample.name,
        "sample_id": sample.sample_id,
        "fcs_file": sample.fcs_name,
        "events": sample.event_count,
        "keywords": len(sample.keywords),
        "compensation": None
        if sample.compensation is None
        else {
            "name": sample.compensation.id,
            "prefix": sample.comp_prefix,
            "suffix": sample.comp_suffix,
            "channels": list(sample.compensation.fluorochromes),
        },
        "transforms": {k: type(v).__name__ for k, v in sample.transforms.items()},
        "populations": [
            {
                "id": p.path,
                "parent": p.parent,
                "gate": p.kind,
                "on": list(p.on),
                "flowjo_count": p.count,
            }
            for p in sample.populations
        ],
    }
