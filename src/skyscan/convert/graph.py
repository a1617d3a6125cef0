"""Small edits to an ONNX graph: give its input and outputs the names the card expects.

Renaming touches only names (graph inputs/outputs, node references, value infos), never
weights or operators, so the renamed model computes exactly what the original did.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from skyscan.errors import InputError, ModelError, require

if TYPE_CHECKING:
    from onnx import GraphProto, ModelProto, NodeProto


def graph_io_names(model_path: str | Path) -> tuple[list[str], list[str]]:
    """(input names without initializers, output names) of an ONNX file."""
    onnx = require("onnx", "convert")
    model = _load(onnx, model_path)
    inits = {t.name for t in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in inits], [
        o.name for o in model.graph.output
    ]


def rename_io(
    model_path: str | Path,
    target: str | Path,
    *,
    input_name: str | None = None,
    outputs: Mapping[str, str] | None = None,
) -> Path:
    """Write ``model_path`` to ``target`` with its single input renamed to ``input_name``
    and its outputs renamed by ``outputs`` (old → new).

    Raises :class:`InputError` for an unknown old name or a new name already used by
    another tensor of the graph.
    """
    onnx = require("onnx", "convert")
    model = _load(onnx, model_path)
    graph = model.graph
    mapping: dict[str, str] = dict(outputs or {})
    ins, outs = graph_io_names(model_path)
    if input_name is not None:
        if len(ins) != 1:
            raise ModelError(f"{model_path}: expected one input to rename, the model has {ins}")
        if ins[0] != input_name:
            mapping[ins[0]] = input_name
    unknown = [old for old in (outputs or {}) if old not in outs]
    if unknown:
        raise InputError(f"{model_path}: no output named {unknown} to rename (outputs: {outs})")
    used = _tensor_names(graph)
    for old, new in mapping.items():
        if new != old and new in used and new not in mapping:
            raise InputError(
                f"{model_path}: cannot rename {old!r} to {new!r}: the graph already uses {new!r}"
            )

    def sub(name: str) -> str:
        return mapping.get(name, name)

    for node in _all_nodes(graph):
        node.input[:] = [sub(n) for n in node.input]
        node.output[:] = [sub(n) for n in node.output]
    for value in (*graph.input, *graph.output, *graph.value_info):
        value.name = sub(value.name)
    target = Path(target)
    onnx.save(model, str(target))
    return target


def _load(onnx: ModuleType, model_path: str | Path) -> ModelProto:
    try:
        return onnx.load(str(model_path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ...
        raise ModelError(f"{model_path}: not a readable ONNX model ({exc})") from exc


def _all_nodes(graph: GraphProto) -> list[NodeProto]:
    """Nodes of the graph and of every subgraph (If/Loop bodies), which may refer to outer names."""
    nodes = []
    for node in graph.node:
        nodes.append(node)
        for attr in node.attribute:
            if attr.g is not None and attr.g.node:
                nodes.extend(_all_nodes(attr.g))
            for g in attr.graphs:
                nodes.extend(_all_nodes(g))
    return nodes


def _tensor_names(graph: GraphProto) -> set[str]:
    names = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    for node in _all_nodes(graph):
        names.update(node.input)
        names.update(node.output)
    return names


def nchw_input(
    model_path: str | Path, target: str | Path, *, transpose_outputs: tuple[str, ...] = ()
) -> Path:
    """Write ``model_path`` to ``target`` taking NCHW input instead of channels-last NHWC.

    A ``Transpose(perm=[0, 2, 3, 1])`` is put in front of the graph (TensorFlow and Keras
    models are channels-last; skyscan feeds NCHW), and each output named in
    ``transpose_outputs`` (4-D NHWC heads such as a CenterNet heatmap) gets a
    ``Transpose(perm=[0, 3, 1, 2])`` behind it. The input keeps its name.
    """
    onnx = require("onnx", "convert")
    helper = onnx.helper
    model = _load(onnx, model_path)
    graph = model.graph
    ins, outs = graph_io_names(model_path)
    if len(ins) != 1:
        raise ModelError(f"{model_path}: expected one image input, the model has {ins}")
    name = ins[0]
    old = next(i for i in graph.input if i.name == name)
    dims = list(old.type.tensor_type.shape.dim)
    if len(dims) != 4:
        raise ModelError(f"{model_path}: input {name!r} must be 4-D NHWC (got rank {len(dims)})")
    internal = _fresh(graph, f"{name}__nhwc")
    for node in _all_nodes(graph):
        node.input[:] = [internal if n == name else n for n in node.input]
    # New input with the same dims in NCHW order (symbolic dims keep their names).
    new = onnx.ValueInfoProto()
    new.CopyFrom(old)
    shape = new.type.tensor_type.shape
    for k, src in enumerate((dims[0], dims[3], dims[1], dims[2])):
        shape.dim[k].CopyFrom(src)
    graph.input.remove(old)
    graph.input.insert(0, new)
    graph.node.insert(
        0, helper.make_node("Transpose", [name], [internal], perm=[0, 2, 3, 1], name=internal)
    )
    unknown = [o for o in transpose_outputs if o not in outs]
    if unknown:
        raise InputError(f"{model_path}: no output named {unknown} to transpose (outputs: {outs})")
    for out_name in transpose_outputs:
        inner = _fresh(graph, f"{out_name}__nhwc")
        for node in _all_nodes(graph):
            node.output[:] = [inner if n == out_name else n for n in node.output]
            node.input[:] = [inner if n == out_name else n for n in node.input]
        graph.node.append(
            helper.make_node(
                "Transpose", [inner], [out_name], perm=[0, 3, 1, 2], name=f"{out_name}__nchw"
            )
        )
        out_vi = next(o for o in graph.output if o.name == out_name)
        od = list(out_vi.type.tensor_type.shape.dim)
        if len(od) == 4:
            copies = [type(d)() for d in od]
            for c, d in zip(copies, (od[0], od[3], od[1], od[2]), strict=True):
                c.CopyFrom(d)
            for k in range(4):
                out_vi.type.tensor_type.shape.dim[k].CopyFrom(copies[k])
    # Stale intermediate shape annotations could contradict the new layout; drop them.
    del graph.value_info[:]
    target = Path(target)
    onnx.save(model, str(target))
    return target


def _fresh(graph: GraphProto, base: str) -> str:
    used = _tensor_names(graph)
    name, k = base, 0
    while name in used:
        k += 1
        name = f"{base}{k}"
    return name


def append_softmax(model_path: str | Path, target: str | Path, output: str) -> Path:
    """Write ``model_path`` to ``target`` with ``Softmax(axis=-1)`` behind ``output``
    (a classifier that returns logits then returns probabilities under the same name)."""
    onnx = require("onnx", "convert")
    model = _load(onnx, model_path)
    graph = model.graph
    _, outs = graph_io_names(model_path)
    if output not in outs:
        raise InputError(
            f"{model_path}: no output named {output!r} to put a softmax behind (outputs: {outs})"
        )
    inner = _fresh(graph, f"{output}__logits")
    for node in _all_nodes(graph):
        node.output[:] = [inner if n == output else n for n in node.output]
        node.input[:] = [inner if n == output else n for n in node.input]
    graph.node.append(
        onnx.helper.make_node("Softmax", [inner], [output], axis=-1, name=f"{output}__softmax")
    )
    target = Path(target)
    onnx.save(model, str(target))
    return target
