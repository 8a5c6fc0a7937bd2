"""Aspirate differential by people (issue 14 §3): a lab user uploads an aspirate image, labels
cells on it (click → class, or typed ``x,y,class`` lines without JavaScript), optionally lets the
site's ONNX classifier propose classes, and records the counts as a DRAFT differential with its
Wilson intervals and the labelling's provenance (image SHA-256, who labelled, every cell, the
model and how many of its proposals were kept).

Nothing is stored before "record": the page carries the image itself (base64 in hidden fields)
from step to step, and every step decodes it again and recomputes its SHA-256, so a label is
always checked against the image it was made on. Every route needs ``results:write``; forms
carry the session's CSRF token (checked by ``require``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from trephine.access import Permission
from trephine.analysis.images.aspirate import (
    Proposal,
    format_labels,
    model_classes,
    parse_labels,
    propose_classes,
)
from trephine.api.deps import DatabaseDep, PrincipalDep, client_address, require
from trephine.domain.results import (
    CellClass,
    LabelledCell,
)
from trephine.errors import TrephineError, ValidationError
from trephine.importers.aspirate_labels import labelled_differential
from trephine.io.images import Image, read_image
from trephine.services import aspirate_labels as labelled_results
from trephine.web.render import render

router = APIRouter(include_in_schema=False)

#: Image types the page takes (decoded by :func:`trephine.io.images.read_image`).
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
#: Largest image accepted (bytes) [I]: a photomicrograph, not a whole slide.
MAX_IMAGE_BYTES = 8 * 1024 * 1024
#: The image travels in hidden fields of this many base64 characters (each form field is
#: limited to 1 MiB by the form parser).
_CHUNK = 768 * 1024


class _Refused(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems


def _decode(name: str, data: bytes) -> Image:
    """The image in ``data`` as the CLI reads it; refusal names the file and why."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise _Refused([f"{name}: file type {suffix or '(none)'}; allowed: {', '.join(SUFFIXES)}"])
    if len(data) > MAX_IMAGE_BYTES:
        raise _Refused([f"{name}: {len(data):,} bytes; at most {MAX_IMAGE_BYTES:,} bytes"])
    with tempfile.TemporaryDirectory(prefix="trephine-aspirate-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            return read_image(path)
        except TrephineError as exc:
            raise _Refused([f"{name}: {str(exc).replace(str(path), name)}"]) from None


def _carried(form: FormData) -> tuple[str, bytes]:
    """The file name and image bytes carried by the labelling form's hidden fields."""
    name = Path(str(form.get("image_name") or "")).name
    parts = [v for v in form.getlist("image_data") if isinstance(v, str)]
    try:
        data = base64.b64decode("".join(parts), validate=True)
    except (binascii.Error, ValueError):
        raise _Refused(
            ["image: the page's copy of the image is damaged; upload it again"]
        ) from None
    if not name or not data:
        raise _Refused(["image: no image on the form; upload one first"])
    return name, data


def _model_path(request: Request) -> Path | None:
    settings = getattr(request.app.state, "settings", None)
    raw = getattr(settings, "aspirate_model", None)
    return Path(raw) if raw else None


@cache
def _load_model(path: str, mtime: float) -> tuple[Any, tuple[CellClass, ...], str, str]:
    """The session, its classes, its name (``name version``) and its file's SHA-256."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta()
    props = dict(meta.custom_metadata_map)
    label = " ".join(
        p for p in (meta.graph_name or Path(path).stem, str(meta.version or "")) if p
    ).strip()
    label = props.get("trephine_name", label)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return session, model_classes(props), label, digest


def _model(request: Request) -> tuple[Any, tuple[CellClass, ...], str, str] | None:
    path = _model_path(request)
    if path is None:
        return None
    try:
        return _load_model(str(path), path.stat().st_mtime)
    except OSError as exc:
        raise _Refused([f"classifier {path}: {exc.strerror or exc}"]) from None
    except TrephineError as exc:
        raise _Refused([f"classifier {path}: {exc}"]) from None
    except Exception as exc:  # onnxruntime's own errors (not a model, bad graph)
        raise _Refused([f"classifier {path}: not a usable ONNX model ({exc})"]) from None


@dataclass(frozen=True)
class _Shown:
    """What the labelling page carries from step to step."""

    specimen: str = ""
    name: str = ""
    data: bytes = b""
    image: Image | None = None
    labels: str = ""


def _page(
    request: Request,
    shown: _Shown,
    *,
    proposals: list[Proposal] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    specimen, name, data, image, labels = (
        shown.specimen,
        shown.name,
        shown.data,
        shown.image,
        shown.labels,
    )
    encoded = base64.b64encode(data).decode() if data else ""
    mime = {".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".png": "png"}.get(
        Path(name).suffix.lower()
    )
    url = f"data:image/{mime};base64,{encoded}" if mime and image is not None else None
    if image is not None and url is None:
        # TIFF does not show in browsers: the page shows a PNG copy of the decoded pixels.
        import io

        from PIL import Image as PILImage

        buffer = io.BytesIO()
        PILImage.fromarray(image.rgb).save(buffer, format="PNG")
        url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    try:
        model = _model(request)
    except _Refused as exc:
        model, problems = None, [*(problems or []), *exc.problems]
    return render(
        request,
        "lab_aspirate.html",
        {
            "specimen": specimen,
            "image_name": name,
            "chunks": [encoded[i : i + _CHUNK] for i in range(0, len(encoded), _CHUNK)],
            "image_url": url,
            "width": image.rgb.shape[1] if image is not None else None,
            "height": image.rgb.shape[0] if image is not None else None,
            "sha256": hashlib.sha256(data).hexdigest() if data else None,
            "labels": labels,
            "classes": [str(c) for c in CellClass],
            "proposals": proposals or [],
            "model": None if model is None else model[2],
            "problems": problems or [],
        },
        status_code=status,
    )


@router.get(
    "/lab/aspirate",
    response_class=HTMLResponse,
    name="lab_aspirate",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
def aspirate_page(request: Request) -> HTMLResponse:
    return _page(request, _Shown())


@router.post(
    "/lab/aspirate",
    response_class=HTMLResponse,
    name="lab_aspirate_upload",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
async def aspirate_upload(request: Request) -> HTMLResponse:
    form = await request.form()
    specimen = str(form.get("specimen") or "").strip()
    upload = form.get("image")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(
            request, _Shown(specimen), problems=["image: choose an image file"], status=422
        )
    name = Path(upload.filename).name
    data = await upload.read(MAX_IMAGE_BYTES + 1)
    try:
        image = _decode(name, data)
    except _Refused as exc:
        return _page(request, _Shown(specimen), problems=exc.problems, status=422)
    return _page(request, _Shown(specimen, name, data, image))


@router.post(
    "/lab/aspirate/labels",
    response_class=HTMLResponse,
    name="lab_aspirate_labels",
    dependencies=[require(Permission.RESULTS_WRITE)],
)
async def aspirate_labels_post(
    request: Request, database: DatabaseDep, principal: PrincipalDep
) -> Response:
    """``intent=propose`` asks the site's classifier for a class per labelled point (the person
    then keeps or changes each); ``intent=record`` checks every label and records the draft."""
    form = await request.form()
    specimen = str(form.get("specimen") or "").strip()
    labels = str(form.get("labels") or "")
    intent = str(form.get("intent") or "record")
    try:
        name, data = _carried(form)
        image = _decode(name, data)
    except _Refused as exc:
        return _page(request, _Shown(specimen, labels=labels), problems=exc.problems, status=422)
    shown = _Shown(specimen, name, data, image, labels)
    height, width = image.rgb.shape[:2]
    try:
        cells = parse_labels(labels, width, height)
    except ValidationError as exc:
        return _page(request, shown, problems=[str(exc)], status=422)
    if intent == "propose":
        try:
            model = _model(request)
            if model is None:
                raise _Refused(["classifier: none is set up (TREPHINE_ASPIRATE_MODEL)"])
            proposed = propose_classes(image.rgb, [(c.x, c.y) for c in cells], model[0], model[1])
        except _Refused as exc:
            return _page(request, shown, problems=exc.problems, status=422)
        except ValidationError as exc:
            return _page(request, shown, problems=[f"classifier: {exc}"], status=422)
        relabelled = format_labels([LabelledCell(p.x, p.y, p.cell_class) for p in proposed])
        return _page(request, replace(shown, labels=relabelled), proposals=proposed)
    if not cells:
        return _page(request, shown, problems=["labels: no cell labelled"], status=422)
    if not specimen:
        return _page(
            request, shown, problems=["specimen: name the aspirate's accession"], status=422
        )
    model_name = model_digest = None
    proposals = accepted = 0
    if form.get("proposed") == "yes":
        try:
            model = _model(request)
        except _Refused as exc:
            return _page(request, shown, problems=exc.problems, status=422)
        if model is not None:
            # Recomputed here, not taken from the form: the count of kept proposals is the
            # model's answer on this image compared with the labels recorded.
            again = propose_classes(image.rgb, [(c.x, c.y) for c in cells], model[0], model[1])
            proposals = len(again)
            accepted = sum(p.cell_class is c.cell_class for p, c in zip(again, cells, strict=True))
            model_name, model_digest = model[2], model[3]
    value = labelled_differential(
        name=name,
        data=data,
        width=width,
        height=height,
        cells=cells,
        labelled_by=principal.name,
        model=model_name,
        model_sha256=model_digest,
        proposals=proposals,
        proposals_accepted=accepted,
    )
    try:
        with database.unit_of_work(principal.name) as uow:
            uow.context.update(role=str(principal.role), client=client_address(request))
            stored, _ = labelled_results.record(uow, specimen, value)
    except TrephineError as exc:
        return _page(request, shown, problems=[str(exc)], status=422)
    return RedirectResponse(f"/results/{stored.id}", status_code=303)
