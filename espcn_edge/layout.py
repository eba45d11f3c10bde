"""The space-to-depth layout: the same converted network run on a grid of 2×2 pixel blocks.

On CPUs with an int8 dot product a narrow int8 convolution costs about the same per output
pixel whatever its width (docs/device.md), so a network of 8 or 16 channels pays for its
pixels, not its MACs. Rewritten on the 2×2 block grid, every layer sees a quarter of the
pixels and four times the channels: SPACE_TO_DEPTH first, each k×k convolution C→C' becomes
a 3×3 convolution 4C→4C' (k ≤ 5) whose kernel holds the original weights at the offsets each
block position reaches (zeros elsewhere), and DEPTH_TO_SPACE after the last one restores the
pixel grid before the sigmoid and the identity path, which are unchanged. A first layer left
in float stays on the pixel grid too (the blocks start at the first int8 convolution).

The rewrite works on the `.tflite` itself (int8, float-conv1, fp16 or fp32 graphs): weights,
per-channel quantization and biases are copied, never recomputed, so on inputs of even size
the result is the plain graph's bit for bit. The graph needs even input sides
(`Upscaler` pads an odd side by one edge row or column and crops it off again). No TensorFlow:
the device builds the variant from a shipped model at start-up.
"""

from __future__ import annotations

import copy

import numpy as np

from .errors import UserError
from .flatbuffer import pack, unpack
from .flatbuffer import schema as _schema
from .tflite_meta import METADATA_NAME, add_metadata, read_metadata

BLOCK = 2  # pixels per block side
_MAX_KERNEL = 5  # largest kernel whose block form is still 3×3
# ops between the convolutions that act on each value alone, so blocks pass through them
_ELEMENTWISE = {"TANH", "LOGISTIC", "RELU", "RELU6", "QUANTIZE", "DEQUANTIZE"}


class LayoutError(UserError, ValueError):
    """A graph this rewrite does not apply to (not a chain of ESPCN convolutions)."""


def block_of(metadata: dict) -> int:
    """The block side a model's input sides must be multiples of (1: the plain layout)."""
    layout = metadata.get("layout") or {}
    return int(layout.get("space_to_depth", 1)) if isinstance(layout, dict) else 1


def block_kernel(kernel: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """A TFLite OHWI kernel (C', k, k, C) as its block form (block²·C', 3, 3, block²·C).

    Output pixel (y, x) = (block·i + a', block·j + b') reads input (y + dy, x + dx); that input
    is block (i + u, j + v) at position (a, b) with u, a = divmod(a' + dy, block). Channels are
    ordered as TFLite's SPACE_TO_DEPTH orders them: (a·block + b)·C + c.
    """
    cout, k, _, cin = kernel.shape
    radius = k // 2
    reach = max(abs((p + d) // block) for p in range(block) for d in (-radius, radius))
    side = 2 * reach + 1
    out = np.zeros((block * block * cout, side, side, block * block * cin), kernel.dtype)
    for a_out in range(block):
        for b_out in range(block):
            o = (a_out * block + b_out) * cout
            for dy in range(-radius, radius + 1):
                u, a = divmod(a_out + dy, block)
                for dx in range(-radius, radius + 1):
                    v, b = divmod(b_out + dx, block)
                    i = (a * block + b) * cin
                    out[o : o + cout, reach + u, reach + v, i : i + cin] = kernel[
                        :, dy + radius, dx + radius, :
                    ]
    return out


def space_to_depth(model: bytes, block: int = BLOCK) -> bytes:
    """The model rewritten to run on `block`×`block` pixel blocks (see module doc)."""
    try:
        schema = _schema()
    except ImportError:  # tflite-runtime has no copy of the schema
        raise LayoutError(
            "needs ai-edge-litert's TFLite schema: pip install ai-edge-litert"
        ) from None
    m, codes = unpack(model)
    sg = m.subgraphs[0]
    ops = list(sg.operators)
    convs = [i for i, op in enumerate(ops) if codes[op.opcodeIndex] == "CONV_2D"]
    if block_of(read_metadata(model)) != 1:
        raise LayoutError("the model is already in the space-to-depth layout")
    if not convs or any(codes[op.opcodeIndex] == "DEPTHWISE_CONV_2D" for op in ops):
        raise LayoutError("not an ESPCN graph (needs a chain of CONV_2D layers)")
    # a float first layer (--float-conv1) stays on the pixel grid: blocking its float sums
    # would reorder them, and the int8 layers after it are the ones that gain
    int8 = [i for i in convs if sg.tensors[ops[i].inputs[1]].type == schema.TensorType.INT8]
    convs = [i for i in convs if i >= (int8 or convs)[0]]
    between = {codes[op.opcodeIndex] for op in ops[convs[0] : convs[-1]]} - {"CONV_2D"}
    if between - _ELEMENTWISE:
        raise LayoutError(f"not a chain of convolutions ({', '.join(sorted(between))} inside)")
    producers = {
        int(t): op for op in ops if codes[op.opcodeIndex] == "DEQUANTIZE" for t in op.outputs
    }
    for i in convs:
        _block_conv(m, sg, ops[i], block, producers)
    # every activation from the first convolution to the last is on the block grid
    weights = {int(t) for i in convs for t in ops[i].inputs[1:]}
    for t in {int(t) for op in ops[convs[0] : convs[-1] + 1] for t in op.outputs} - weights:
        _grow_channels(sg.tensors[t], block * block)
    first, last = ops[convs[0]], ops[convs[-1]]
    # SPACE_TO_DEPTH before the first convolution, DEPTH_TO_SPACE after the last
    pixels_in = int(first.inputs[0])
    blocks_in = _new_tensor(sg, sg.tensors[pixels_in], block * block, "space_to_depth")
    first.inputs = np.array([blocks_in, *first.inputs[1:]], np.int32)
    s2d = _new_op(m, schema, codes, "SPACE_TO_DEPTH", [pixels_in], [blocks_in])
    s2d.builtinOptionsType = schema.BuiltinOptions.SpaceToDepthOptions
    s2d.builtinOptions = schema.SpaceToDepthOptionsT()
    s2d.builtinOptions.blockSize = block
    conv_out = int(last.outputs[0])
    pixels_out = _new_tensor(sg, sg.tensors[conv_out], 1, "depth_to_space", divide=block * block)
    for op in ops[convs[-1] + 1 :]:  # what read the last convolution reads the pixels again
        op.inputs = np.array([pixels_out if i == conv_out else i for i in op.inputs], np.int32)
    d2s = _new_op(m, schema, codes, "DEPTH_TO_SPACE", [conv_out], [pixels_out])
    d2s.builtinOptionsType = schema.BuiltinOptions.DepthToSpaceOptions
    d2s.builtinOptions = schema.DepthToSpaceOptionsT()
    d2s.builtinOptions.blockSize = block
    ops.insert(convs[-1] + 1, d2s)
    ops.insert(convs[0], s2d)
    sg.operators = ops
    packed = pack(m, len(model) * 2)
    meta = read_metadata(model)
    meta.pop("format", None)
    meta["layout"] = {"space_to_depth": block}
    return add_metadata(packed, meta, METADATA_NAME)


def _block_conv(m, sg, op, block: int, producers: dict) -> None:
    """Replace one CONV_2D's kernel and bias by their block forms, in place."""
    n = block * block
    kernel_shape = tuple(sg.tensors[op.inputs[1]].shape)
    if kernel_shape[1] > _MAX_KERNEL or op.builtinOptions.strideH != 1:
        raise LayoutError(f"conv kernel {list(kernel_shape)} has no 3×3 block form")
    for slot, form in ((1, lambda w: block_kernel(w, block)), (2, None)):
        if int(op.inputs[slot]) in producers:  # fp16 weights: a DEQUANTIZE of the constant
            index = int(op.inputs[slot])
            if _users(sg, index) > 1:
                raise LayoutError("float16 weights shared by several layers")
            tensors = [sg.tensors[index], sg.tensors[producers[index].inputs[0]]]
        else:
            tensors = [_private(m, sg, op, slot)]
        stored = tensors[-1]
        values = _constant(m, stored).reshape(tuple(stored.shape))
        blocked = form(values) if form else np.tile(values, n)
        _set_constant(m, stored, blocked)
        for t in tensors:
            _set_shape(t, blocked.shape)
            q = t.quantization
            if q is not None and q.scale is not None and len(q.scale) > 1:  # per channel
                q.scale = np.tile(q.scale, n)
                q.zeroPoint = np.tile(q.zeroPoint, n)


def _users(sg, tensor: int) -> int:
    return sum(int(tensor) in (int(i) for i in op.inputs) for op in sg.operators)


def _private(m, sg, op, slot: int):
    """The constant `op` reads at `slot`, first copied (tensor and buffer) when another op or
    tensor shares it, so that blocking it cannot change another layer's weights."""
    index = int(op.inputs[slot])
    t = sg.tensors[index]
    if _users(sg, index) == 1 and sum(u.buffer == t.buffer for u in sg.tensors) == 1:
        return t
    t = copy.deepcopy(t)
    buffer = _schema().BufferT()
    buffer.data = np.array(m.buffers[t.buffer].data, np.uint8)
    m.buffers.append(buffer)
    t.buffer = len(m.buffers) - 1
    sg.tensors.append(t)
    op.inputs = np.array([*op.inputs[:slot], len(sg.tensors) - 1, *op.inputs[slot + 1 :]], np.int32)
    return t


def _set_shape(t, shape) -> None:
    t.shape = np.asarray(shape, np.int32)
    if t.shapeSignature is not None:
        t.shapeSignature = np.asarray(shape, np.int32)


def _grow_channels(t, n: int) -> None:
    for dims in ("shape", "shapeSignature"):
        if getattr(t, dims) is not None:
            grown = np.array(getattr(t, dims), np.int32)
            grown[-1] *= n
            setattr(t, dims, grown)


def _constant(m, t) -> np.ndarray:
    schema = _schema()
    dtypes = {
        schema.TensorType.INT8: np.int8,
        schema.TensorType.INT32: np.int32,
        schema.TensorType.FLOAT32: np.float32,
        schema.TensorType.FLOAT16: np.float16,
    }
    data = m.buffers[t.buffer].data
    if t.type not in dtypes or data is None:
        raise LayoutError(f"tensor {t.name!r} is not a constant this rewrite can copy")
    return np.asarray(data, np.uint8).view(dtypes[t.type])


def _set_constant(m, t, values: np.ndarray) -> None:
    m.buffers[t.buffer].data = np.ascontiguousarray(values).view(np.uint8).ravel()


def _new_tensor(sg, like, grow: int, name: str, divide: int = 1) -> int:
    """A copy of tensor `like` (type, quantization) with its channels ×grow ÷divide."""
    schema = _schema()
    t = schema.TensorT()
    t.type, t.quantization, t.buffer = like.type, like.quantization, 0
    t.name = f"{name}".encode()
    t.shape = np.array(like.shape, np.int32)
    t.shape[-1] = t.shape[-1] * grow // divide
    if like.shapeSignature is not None:
        t.shapeSignature = np.array(like.shapeSignature, np.int32)
        t.shapeSignature[-1] = t.shapeSignature[-1] * grow // divide
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def _new_op(m, schema, codes: list[str], name: str, inputs: list[int], outputs: list[int]):
    if name not in codes:
        code = schema.OperatorCodeT()
        number = getattr(schema.BuiltinOperator, name)
        code.builtinCode, code.deprecatedBuiltinCode, code.version = number, min(number, 127), 2
        m.operatorCodes.append(code)
        codes.append(name)
    op = schema.OperatorT()
    op.opcodeIndex = codes.index(name)
    op.inputs, op.outputs = np.array(inputs, np.int32), np.array(outputs, np.int32)
    return op
