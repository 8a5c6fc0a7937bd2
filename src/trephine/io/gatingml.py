"""Read and write Gating-ML 2.0 documents (ISAC, 2013) as :class:`Strategy` objects.

Supported: ``RectangleGate`` (ranges, open-ended), ``PolygonGate``, ``EllipsoidGate``,
``QuadrantGate`` (each ``Quadrant`` becomes a gate), ``BooleanGate`` (``and``/``or``/``not``,
``use-as-complement``), ``parent_id``, ``compensation-ref`` (``uncompensated``, ``FCS`` or a
``spectrumMatrix`` id), ``transformation-ref`` to ``flin``/``flog``/``fasinh``/``logicle``/
``hyperlog`` and ``new-dimension`` ratio dimensions (``fratio``). Gates may sit anywhere in the
document (some writers wrap them in extra elements).

Errors are :class:`~trephine.errors.ParseError` (malformed XML, with line and column) or
:class:`~trephine.errors.ValidationError` whose field names the gate id and the element, e.g.
``RectangleGate 'CD45pos' dimension 1 @min``. Parsing uses the standard library's expat-based
ElementTree, which does not fetch external entities.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from trephine.analysis.flow.gates import (
    UNCOMPENSATED,
    BooleanGate,
    BooleanOp,
    Dimension,
    Divider,
    EllipsoidGate,
    Gate,
    GateReference,
    PolygonGate,
    Quadrant,
    QuadrantGate,
    RectangleGate,
)
from trephine.analysis.flow.strategy import SpectrumMatrix, Strategy
from trephine.analysis.flow.transforms import (
    AsinhTransform,
    HyperlogTransform,
    LinearTransform,
    LogicleTransform,
    LogTransform,
    RatioTransform,
    Transform,
)
from trephine.errors import Location, ParseError, ValidationError

__all__ = ["parse_gatingml", "read_gatingml", "to_gatingml_string", "write_gatingml"]

NS_GATING = "http://www.isac-net.org/std/Gating-ML/v2.0/gating"
NS_TRANSFORMS = "http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
NS_DATATYPE = "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes"


def _g(tag: str) -> str:
    return f"{{{NS_GATING}}}{tag}"


def _t(tag: str) -> str:
    return f"{{{NS_TRANSFORMS}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{NS_DATATYPE}}}{tag}"


class _Ctx:
    """Where we are, for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, value: object, allowed: str) -> ValidationError:
        return ValidationError(where, value, allowed, location=Location(source=self.source))


def _attr(el: ET.Element, ns_tag: str, plain: str) -> str | None:
    # Writers differ on whether attributes carry the namespace prefix; accept both.
    v = el.get(ns_tag)
    return v if v is not None else el.get(plain)


def _float(ctx: _Ctx, where: str, text: str | None) -> float:
    if text is None:
        raise ctx.fail(where, None, "a number")
    try:
        value = float(text.strip())
    except ValueError:
        raise ctx.fail(where, text, "a number") from None
    if not math.isfinite(value):
        raise ctx.fail(where, text, "a finite number")
    return value


def read_gatingml(path: str | os.PathLike[str]) -> Strategy:
    """Parse a Gating-ML 2.0 file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read: {exc.strerror}", location=Location(source=str(p))) from None
    return parse_gatingml(data, source=str(p))


def parse_gatingml(data: bytes | str, source: str = "<gating-ml>") -> Strategy:
    """Parse a Gating-ML 2.0 document given as bytes or text."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, col = exc.position
        raise ParseError(
            f"not well-formed XML at line {line}, column {col}: {exc.msg}",
            location=Location(source=source),
        ) from None
    except (LookupError, ValueError) as exc:  # e.g. an unknown declared encoding
        raise ParseError(
            f"cannot decode the XML: {exc}", location=Location(source=source)
        ) from None
    ctx = _Ctx(source)
    if root.tag != _g("Gating-ML"):
        raise ctx.fail("root element", root.tag, f"{{{NS_GATING}}}Gating-ML")
    transforms: dict[str, Transform | RatioTransform] = {}
    matrices: dict[str, SpectrumMatrix] = {}
    for el in root.iter(_t("transformation")):
        tid = _attr(el, _t("id"), "id")
        if not tid:
            raise ctx.fail("transformation @id", None, "a non-empty id")
        transforms[tid] = _transform(ctx, tid, el)
    for el in root.iter(_t("spectrumMatrix")):
        m = _spectrum(ctx, el)
        matrices[m.id] = m
    gates: list[Gate] = []
    quads: list[QuadrantGate] = []
    parsers: dict[str, Callable[[_Ctx, ET.Element, str, str | None], Gate]] = {
        _g("RectangleGate"): _rectangle,
        _g("PolygonGate"): _polygon,
        _g("EllipsoidGate"): _ellipsoid,
        _g("BooleanGate"): _boolean,
    }
    for el in root.iter():
        if el.tag in parsers or el.tag == _g("QuadrantGate"):
            gid = _attr(el, _g("id"), "id")
            kind = el.tag.split("}")[1]
            if not gid:
                raise ctx.fail(f"{kind} @id", None, "a non-empty gate id")
            parent = _attr(el, _g("parent_id"), "parent_id")
            if el.tag == _g("QuadrantGate"):
                q = _quadrant_gate(ctx, el, gid, parent)
                quads.append(q)
                gates.extend(q.quadrants)
            else:
                gates.append(parsers[el.tag](ctx, el, gid, parent))
    if not gates:
        raise ctx.fail("gates", 0, "at least one gate")
    try:
        return Strategy(
            gates=tuple(gates),
            transforms=transforms,
            matrices=matrices,
            quadrant_gates=tuple(quads),
            source=source,
        )
    except ValidationError as exc:
        if exc.location is None:
            raise ValidationError(
                exc.field,
                exc.value,
                exc.allowed,
                location=Location(source=source),
                reason=exc.reason,
            ) from None
        raise


def _params(ctx: _Ctx, where: str, el: ET.Element, names: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for n in names:
        v = _attr(el, _t(n), n)
        if v is None:
            raise ctx.fail(f"{where} @{n}", None, "a number")
        out[n] = _float(ctx, f"{where} @{n}", v)
    return out


def _transform(ctx: _Ctx, tid: str, el: ET.Element) -> Transform | RatioTransform:
    kids = list(el)
    if len(kids) != 1:
        raise ctx.fail(f"transformation {tid!r}", len(kids), "exactly one transform element")
    t = kids[0]
    kind = t.tag.split("}")[-1]
    where = f"transformation {tid!r} {kind}"
    try:
        if kind == "flin":
            p = _params(ctx, where, t, "TA")
            return LinearTransform(T=p["T"], A=p["A"])
        if kind == "flog":
            p = _params(ctx, where, t, "TM")
            return LogTransform(T=p["T"], M=p["M"])
        if kind == "fasinh":
            p = _params(ctx, where, t, "TMA")
            return AsinhTransform(T=p["T"], M=p["M"], A=p["A"])
        if kind == "logicle":
            p = _params(ctx, where, t, "TWMA")
            return LogicleTransform(T=p["T"], W=p["W"], M=p["M"], A=p["A"])
        if kind == "hyperlog":
            p = _params(ctx, where, t, "TWMA")
            return HyperlogTransform(T=p["T"], W=p["W"], M=p["M"], A=p["A"])
        if kind == "fratio":
            p = _params(ctx, where, t, "ABC")
            dims = [_fcs_name(ctx, where, d) for d in t.iter(_d("fcs-dimension"))]
            if len(dims) != 2:
                raise ctx.fail(f"{where} fcs-dimension", len(dims), "2 (numerator, denominator)")
            return RatioTransform(
                numerator=dims[0], denominator=dims[1], A=p["A"], B=p["B"], C=p["C"]
            )
    except ValidationError as exc:
        if exc.location is None:
            raise ValidationError(
                f"{where}: {exc.field}",
                exc.value,
                exc.allowed,
                location=Location(source=ctx.source),
                reason=exc.reason,
            ) from None
        raise
    raise ctx.fail(f"transformation {tid!r}", kind, "flin, flog, fasinh, logicle, hyperlog, fratio")


def _fcs_name(ctx: _Ctx, where: str, el: ET.Element) -> str:
    name = _attr(el, _d("name"), "name")
    if not name:
        raise ctx.fail(f"{where} fcs-dimension @name", name, "a channel name ($PnN)")
    return name


def _spectrum(ctx: _Ctx, el: ET.Element) -> SpectrumMatrix:
    mid = _attr(el, _t("id"), "id")
    if not mid:
        raise ctx.fail("spectrumMatrix @id", None, "a non-empty id")
    where = f"spectrumMatrix {mid!r}"

    def names(tag: str) -> tuple[str, ...]:
        box = el.find(_t(tag))
        if box is None:
            raise ctx.fail(f"{where} {tag}", None, f"a {tag} element")
        return tuple(_fcs_name(ctx, f"{where} {tag}", d) for d in box.iter(_d("fcs-dimension")))

    fluor = names("fluorochromes")
    det = names("detectors")
    rows = []
    for i, sp in enumerate(el.findall(_t("spectrum"))):
        rows.append(
            tuple(
                _float(ctx, f"{where} spectrum {i + 1} coefficient", _attr(c, _t("value"), "value"))
                for c in sp.findall(_t("coefficient"))
            )
        )
    inverted = (_attr(el, _t("matrix-inverted-already"), "matrix-inverted-already") or "").strip()
    try:
        return SpectrumMatrix(
            id=mid,
            fluorochromes=fluor,
            detectors=det,
            matrix=tuple(rows),
            inverted=inverted.lower() == "true",
        )
    except ValueError as exc:  # ragged rows or a ValidationError from the matrix check
        raise ctx.fail(where, str(exc), "a full fluorochromes x detectors matrix") from None


def _dimension(ctx: _Ctx, where: str, el: ET.Element) -> Dimension:
    comp = _attr(el, _g("compensation-ref"), "compensation-ref")
    if comp is None:
        raise ctx.fail(f"{where} @compensation-ref", None, "uncompensated, FCS or a matrix id")
    tref = _attr(el, _g("transformation-ref"), "transformation-ref")
    fcs = el.find(_d("fcs-dimension"))
    new = el.find(_d("new-dimension"))
    if fcs is not None:
        return Dimension(channel=_fcs_name(ctx, where, fcs), compensation=comp, transform=tref)
    if new is not None:
        rid = _attr(new, _d("transformation-ref"), "transformation-ref")
        if not rid:
            raise ctx.fail(f"{where} new-dimension @transformation-ref", rid, "a ratio id")
        return Dimension(ratio=rid, compensation=comp, transform=tref)
    raise ctx.fail(where, "no fcs-dimension", "an fcs-dimension or new-dimension child")


def _rectangle(ctx: _Ctx, el: ET.Element, gid: str, parent: str | None) -> Gate:
    dims: list[Dimension] = []
    bounds: list[tuple[float | None, float | None]] = []
    for i, d in enumerate(el.findall(_g("dimension")), start=1):
        where = f"RectangleGate {gid!r} dimension {i}"
        dims.append(_dimension(ctx, where, d))
        lo = _attr(d, _g("min"), "min")
        hi = _attr(d, _g("max"), "max")
        bounds.append(
            (
                None if lo is None else _float(ctx, f"{where} @min", lo),
                None if hi is None else _float(ctx, f"{where} @max", hi),
            )
        )
    return _build(ctx, lambda: RectangleGate(gid, parent, dims=tuple(dims), bounds=tuple(bounds)))


def _build(ctx: _Ctx, make: Callable[[], Gate]) -> Gate:
    try:
        return make()
    except ValidationError as exc:
        raise ValidationError(
            exc.field,
            exc.value,
            exc.allowed,
            location=Location(source=ctx.source),
            reason=exc.reason,
        ) from None


def _polygon(ctx: _Ctx, el: ET.Element, gid: str, parent: str | None) -> Gate:
    dims = [
        _dimension(ctx, f"PolygonGate {gid!r} dimension {i}", d)
        for i, d in enumerate(el.findall(_g("dimension")), start=1)
    ]
    verts: list[tuple[float, float]] = []
    for i, v in enumerate(el.findall(_g("vertex")), start=1):
        coords = [
            _float(ctx, f"PolygonGate {gid!r} vertex {i}", _attr(c, _d("value"), "value"))
            for c in v.findall(_g("coordinate"))
        ]
        if len(coords) != 2:
            raise ctx.fail(f"PolygonGate {gid!r} vertex {i}", len(coords), "2 coordinates")
        verts.append((coords[0], coords[1]))
    return _build(ctx, lambda: PolygonGate(gid, parent, dims=tuple(dims), vertices=tuple(verts)))


def _ellipsoid(ctx: _Ctx, el: ET.Element, gid: str, parent: str | None) -> Gate:
    where = f"EllipsoidGate {gid!r}"
    dims = [
        _dimension(ctx, f"{where} dimension {i}", d)
        for i, d in enumerate(el.findall(_g("dimension")), start=1)
    ]
    mean_el = el.find(_g("mean"))
    cov_el = el.find(_g("covarianceMatrix"))
    dist_el = el.find(_g("distanceSquare"))
    if mean_el is None or cov_el is None or dist_el is None:
        raise ctx.fail(where, "incomplete", "mean, covarianceMatrix and distanceSquare")
    mean = tuple(
        _float(ctx, f"{where} mean", _attr(c, _d("value"), "value"))
        for c in mean_el.findall(_g("coordinate"))
    )
    cov = tuple(
        tuple(
            _float(ctx, f"{where} covarianceMatrix", _attr(e, _d("value"), "value"))
            for e in row.findall(_g("entry"))
        )
        for row in cov_el.findall(_g("row"))
    )
    dist = _float(ctx, f"{where} distanceSquare", _attr(dist_el, _d("value"), "value"))
    return _build(
        ctx,
        lambda: EllipsoidGate(
            gid, parent, dims=tuple(dims), mean=mean, covariance=cov, distance_square=dist
        ),
    )


def _quadrant_gate(ctx: _Ctx, el: ET.Element, gid: str, parent: str | None) -> QuadrantGate:
    dividers: dict[str, Divider] = {}
    for i, dv in enumerate(el.findall(_g("divider")), start=1):
        did = _attr(dv, _g("id"), "id")
        where = f"QuadrantGate {gid!r} divider {did or i}"
        if not did:
            raise ctx.fail(f"{where} @id", None, "a divider id")
        dim = _dimension(ctx, where, dv)
        values = tuple(_float(ctx, f"{where} value", v.text) for v in dv.findall(_g("value")))
        try:
            dividers[did] = Divider(did, dim, tuple(sorted(values)))
        except ValidationError as exc:
            raise ctx.fail(where, exc.value, str(exc.allowed)) from None
    quads: list[Quadrant] = []
    for q in el.findall(_g("Quadrant")):
        qid = _attr(q, _g("id"), "id")
        if not qid:
            raise ctx.fail(f"QuadrantGate {gid!r} Quadrant @id", None, "a quadrant id")
        divs: list[Divider] = []
        locs: list[float] = []
        for pos in q.findall(_g("position")):
            ref = _attr(pos, _g("divider_ref"), "divider_ref")
            if ref not in dividers:
                raise ctx.fail(f"Quadrant {qid!r} position @divider_ref", ref, ", ".join(dividers))
            divs.append(dividers[ref])
            locs.append(
                _float(
                    ctx,
                    f"Quadrant {qid!r} position @location",
                    _attr(pos, _g("location"), "location"),
                )
            )
        try:
            quads.append(
                Quadrant(
                    qid, parent, quadrant_gate=gid, dividers=tuple(divs), locations=tuple(locs)
                )
            )
        except ValidationError as exc:
            raise ctx.fail(exc.field, exc.value, str(exc.allowed)) from None
    return QuadrantGate(gid, parent, tuple(dividers.values()), tuple(quads))


def _boolean(ctx: _Ctx, el: ET.Element, gid: str, parent: str | None) -> Gate:
    for op in BooleanOp:
        box = el.find(_g(op.value))
        if box is None:
            continue
        refs = []
        for r in box.findall(_g("gateReference")):
            ref = _attr(r, _g("ref"), "ref")
            if not ref:
                raise ctx.fail(f"BooleanGate {gid!r} gateReference @ref", ref, "a gate id")
            comp = (_attr(r, _g("use-as-complement"), "use-as-complement") or "false").strip()
            refs.append(GateReference(ref, comp.lower() == "true"))
        try:
            return BooleanGate(gid, parent, op=op, operands=tuple(refs))
        except ValidationError as exc:
            raise ctx.fail(exc.field, exc.value, str(exc.allowed)) from None
    raise ctx.fail(f"BooleanGate {gid!r}", "no operator", "an and, or or not element")


# ------------------------------------------------------------------------------------------
# writing


def _fmt(v: float) -> str:
    return repr(float(v))


def to_gatingml_string(strategy: Strategy) -> str:
    """Serialise a strategy as a Gating-ML 2.0 document."""
    ET.register_namespace("gating", NS_GATING)
    ET.register_namespace("transforms", NS_TRANSFORMS)
    ET.register_namespace("data-type", NS_DATATYPE)
    root = ET.Element(_g("Gating-ML"))
    for tid, t in strategy.transforms.items():
        _write_transform(root, tid, t)
    for m in strategy.matrices.values():
        _write_spectrum(root, m)
    quads_done: set[str] = set()
    quad_by_id = {q.id: q for q in strategy.quadrant_gates}
    for g in strategy.gates:
        if isinstance(g, Quadrant):
            qg = quad_by_id.get(g.quadrant_gate)
            if qg is None:
                qg = QuadrantGate(f"{g.id}_quadrants", g.parent, g.dividers, (g,))
            if qg.id not in quads_done:
                _write_quadrant_gate(root, qg)
                quads_done.add(qg.id)
            continue
        _write_gate(root, g)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def write_gatingml(strategy: Strategy, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(to_gatingml_string(strategy), encoding="utf-8")


def _write_transform(root: ET.Element, tid: str, t: Transform | RatioTransform) -> None:
    el = ET.SubElement(root, _t("transformation"), {_t("id"): tid})
    if isinstance(t, RatioTransform):
        r = ET.SubElement(
            el, _t("fratio"), {_t("A"): _fmt(t.A), _t("B"): _fmt(t.B), _t("C"): _fmt(t.C)}
        )
        for n in (t.numerator, t.denominator):
            ET.SubElement(r, _d("fcs-dimension"), {_d("name"): n})
        return
    params: dict[str, float]
    if isinstance(t, LinearTransform):
        kind, params = "flin", {"T": t.T, "A": t.A}
    elif isinstance(t, LogTransform):
        kind, params = "flog", {"T": t.T, "M": t.M}
    elif isinstance(t, AsinhTransform):
        kind, params = "fasinh", {"T": t.T, "M": t.M, "A": t.A}
    elif isinstance(t, LogicleTransform):
        kind, params = "logicle", {"T": t.T, "W": t.W, "M": t.M, "A": t.A}
    elif isinstance(t, HyperlogTransform):
        kind, params = "hyperlog", {"T": t.T, "W": t.W, "M": t.M, "A": t.A}
    else:
        raise ValidationError(
            f"transformation {tid!r}",
            type(t).__name__,
            "a Gating-ML transform (flin, flog, fasinh, logicle, hyperlog, fratio)",
            reason="FlowJo-only transforms have no Gating-ML 2.0 form",
        )
    ET.SubElement(el, _t(kind), {_t(k): _fmt(v) for k, v in params.items()})


def _write_spectrum(root: ET.Element, m: SpectrumMatrix) -> None:
    attrs = {_t("id"): m.id}
    if m.inverted:
        attrs[_t("matrix-inverted-already")] = "true"
    el = ET.SubElement(root, _t("spectrumMatrix"), attrs)
    for tag, names in (("fluorochromes", m.fluorochromes), ("detectors", m.detectors)):
        box = ET.SubElement(el, _t(tag))
        for n in names:
            ET.SubElement(box, _d("fcs-dimension"), {_d("name"): n})
    for row in m.matrix:
        sp = ET.SubElement(el, _t("spectrum"))
        for v in row:
            ET.SubElement(sp, _t("coefficient"), {_t("value"): _fmt(v)})


def _gate_el(root: ET.Element, tag: str, g: Gate | QuadrantGate) -> ET.Element:
    attrs = {_g("id"): g.id}
    if g.parent is not None:
        attrs[_g("parent_id")] = g.parent
    return ET.SubElement(root, _g(tag), attrs)


def _write_dimension(
    parent: ET.Element, dim: Dimension, tag: str = "dimension", extra: dict[str, str] | None = None
) -> ET.Element:
    attrs = dict(extra or {})
    attrs[_g("compensation-ref")] = dim.compensation or UNCOMPENSATED
    if dim.transform is not None:
        attrs[_g("transformation-ref")] = dim.transform
    el = ET.SubElement(parent, _g(tag), attrs)
    if dim.channel is not None:
        ET.SubElement(el, _d("fcs-dimension"), {_d("name"): dim.channel})
    else:
        assert dim.ratio is not None
        ET.SubElement(el, _d("new-dimension"), {_d("transformation-ref"): dim.ratio})
    return el


def _write_gate(root: ET.Element, g: Gate) -> None:
    if isinstance(g, RectangleGate):
        el = _gate_el(root, "RectangleGate", g)
        for dim, (lo, hi) in zip(g.dims, g.bounds, strict=True):
            extra = {}
            if lo is not None:
                extra[_g("min")] = _fmt(lo)
            if hi is not None:
                extra[_g("max")] = _fmt(hi)
            _write_dimension(el, dim, extra=extra)
    elif isinstance(g, PolygonGate):
        el = _gate_el(root, "PolygonGate", g)
        for dim in g.dims:
            _write_dimension(el, dim)
        for vx, vy in g.vertices:
            v = ET.SubElement(el, _g("vertex"))
            for c in (vx, vy):
                ET.SubElement(v, _g("coordinate"), {_d("value"): _fmt(c)})
    elif isinstance(g, EllipsoidGate):
        el = _gate_el(root, "EllipsoidGate", g)
        for dim in g.dims:
            _write_dimension(el, dim)
        mean = ET.SubElement(el, _g("mean"))
        for c in g.mean:
            ET.SubElement(mean, _g("coordinate"), {_d("value"): _fmt(c)})
        cov = ET.SubElement(el, _g("covarianceMatrix"))
        for row in g.covariance:
            row_el = ET.SubElement(cov, _g("row"))
            for entry in row:
                ET.SubElement(row_el, _g("entry"), {_d("value"): _fmt(entry)})
        ET.SubElement(el, _g("distanceSquare"), {_d("value"): _fmt(g.distance_square)})
    elif isinstance(g, BooleanGate):
        el = _gate_el(root, "BooleanGate", g)
        box = ET.SubElement(el, _g(g.op.value))
        for ref in g.operands:
            attrs = {_g("ref"): ref.gate}
            if ref.complement:
                attrs[_g("use-as-complement")] = "true"
            ET.SubElement(box, _g("gateReference"), attrs)
    else:
        raise ValidationError("gate", type(g).__name__, "a Gating-ML 2.0 gate type")


def _write_quadrant_gate(root: ET.Element, q: QuadrantGate) -> None:
    el = _gate_el(root, "QuadrantGate", q)
    for dv in q.dividers:
        d = _write_dimension(el, dv.dim, tag="divider", extra={_g("id"): dv.id})
        for v in dv.values:
            ET.SubElement(d, _g("value")).text = _fmt(v)
    for quad in q.quadrants:
        qe = ET.SubElement(el, _g("Quadrant"), {_g("id"): quad.id})
        for dv, loc in zip(quad.dividers, quad.locations, strict=True):
            ET.SubElement(qe, _g("position"), {_g("divider_ref"): dv.id, _g("location"): _fmt(loc)})
