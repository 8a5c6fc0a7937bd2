"""A tiny ONNX cell classifier built with onnx.helper, for tests of the aspirate labelling page
and its proposals (no weights are downloaded; needs the ``onnx`` extra)."""

from __future__ import annotations

from pathlib import Path

CLASSES = "blasts,lymphocytes,neutrophils"


def tiny_colour_model(path: Path, crop: int = 8) -> Path:
    """A classifier whose score for class k is 10 × the crop's mean of colour channel k:
    a red cell is a blast, a green one a lymphocyte, a blue one a neutrophil."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("crops", TensorProto.FLOAT, ["N", 3, crop, crop])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])
    ten = helper.make_tensor("ten", TensorProto.FLOAT, [], [10.0])
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["crops"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Mul", ["flat", "ten"], ["scores"]),
        ],
        "tiny-colour",
        [x],
        [y],
        [ten],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"trephine_classes": CLASSES, "trephine_name": "tiny-colour 1"})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
