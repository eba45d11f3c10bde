"""The operator list of a `.tflite` flatbuffer, and the all-int8 check the converter enforces."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from espcn_edge.flatbuffer import schema as tflite_schema

from .keras_model import ConvertError

FLOAT_TYPES = {"FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16"}


@dataclass
class GraphSummary:
    ops: list[str]  # builtin operator names in execution order
    tensor_types: dict[int, str]  # tensor index → type name
    inputs: list[int]
    outputs: list[int]
    problems: dict[int, list[str]] = field(default_factory=dict)  # op index → what is not int8

    def op_counts(self) -> dict[str, int]:
        return dict(Counter(self.ops))

    def summary(self) -> str:
        return ", ".join(f"{n}×{c}" if c > 1 else n for n, c in self.op_counts().items())


def _names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


def read_graph(model: bytes) -> GraphSummary:
    """Operators and tensor types of the first subgraph (what the interpreter runs)."""
    schema = tflite_schema()
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
        if found := _op_problems(name, ins, outs, summary):
            summary.problems[i] = found
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


def check_int8(model: bytes, float_conv1: bool = False) -> GraphSummary:
    """Raise ValueError unless every operator is a builtin int8 op (QUANTIZE only at the edges);
    with `float_conv1`, the first convolution, its TANH and the QUANTIZE after them are float,
    and so are the QUANTIZEs of the float input before them and the output's DEQUANTIZE
    (`convert_int8_float_conv1`)."""
    g = read_graph(model)
    allowed = set()
    if float_conv1 and "CONV_2D" in g.ops:
        first = g.ops.index("CONV_2D")
        if g.ops[first : first + 3] == ["CONV_2D", "TANH", "QUANTIZE"]:
            allowed = {first, first + 1, first + 2}
            allowed |= {i for i in range(first) if g.ops[i] == "QUANTIZE"}
        if g.ops[-1] == "DEQUANTIZE":
            allowed.add(len(g.ops) - 1)
    problems = [p for i, found in g.problems.items() if i not in allowed for p in found]
    if problems:
        unique = list(dict.fromkeys(problems))
        raise ConvertError("int8 conversion is not all-integer: " + "; ".join(unique))
    return g
