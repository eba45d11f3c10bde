"""The operator list of a `.tflite` flatbuffer, and the all-int8 check the converter enforces."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from espcn_edge.tflite_meta import _schema

FLOAT_TYPES = {"FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16"}


@dataclass
class GraphSummary:
    ops: list[str]  # builtin operator names in execution order
    tensor_types: dict[int, str]  # tensor index → type name
    inputs: list[int]
    outputs: list[int]
    problems: list[str] = field(default_factory=list)

    def op_counts(self) -> dict[str, int]:
        return dict(Counter(self.ops))

    def summary(self) -> str:
        return ", ".join(f"{n}×{c}" if c > 1 else n for n, c in self.op_counts().items())


def _names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


def read_graph(model: bytes) -> GraphSummary:
    """Operators and tensor types of the first subgraph (what the interpreter runs)."""
    schema = _schema()
    m = schema.Model.GetRootAsModel(model, 0)
    op_names, type_names = _names(schema.BuiltinOperator), _names(schema.TensorType)
    codes = []
    for i in range(m.OperatorCodesLength()):
        c = m.OperatorCodes(i)
        code = max(c.BuiltinCode(), c.DeprecatedBuiltinCode())
        name = op_names.get(code, f"op{code}")
        codes.append(f"CUSTOM:{c.CustomCode().decode()}" if name == "CUSTOM" else name)
    g = m.Subgraphs(0)
    tensors = {i: type_names.get(g.Tensors(i).Type(), "?") for i in range(g.TensorsLength())}
    inputs, outputs = [int(t) for t in g.InputsAsNumpy()], [int(t) for t in g.OutputsAsNumpy()]
    summary = GraphSummary([], tensors, inputs, outputs)
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        name = codes[op.OpcodeIndex()]
        summary.ops.append(name)
        ins = [int(t) for t in op.InputsAsNumpy() if t >= 0]
        outs = [int(t) for t in op.OutputsAsNumpy()]
        summary.problems += _op_problems(name, ins, outs, summary)
    return summary


def _op_problems(name: str, ins: list[int], outs: list[int], g: GraphSummary) -> list[str]:
    if name.startswith("CUSTOM"):
        return [f"custom operator {name}"]
    if name == "DEQUANTIZE":
        return ["DEQUANTIZE in the graph (float computation remains)"]
    if name == "QUANTIZE" and not (set(ins) & set(g.inputs) or set(outs) & set(g.outputs)):
        return ["QUANTIZE in the middle of the graph"]
    floats = [t for t in ins + outs if g.tensor_types[t] in FLOAT_TYPES]
    return [f"{name} has float tensors {floats}"] if floats else []


def check_int8(model: bytes) -> GraphSummary:
    """Raise ValueError unless every operator is a builtin int8 op (QUANTIZE only at the edges)."""
    g = read_graph(model)
    if g.problems:
        unique = list(dict.fromkeys(g.problems))
        raise ValueError("int8 conversion is not all-integer: " + "; ".join(unique))
    return g
