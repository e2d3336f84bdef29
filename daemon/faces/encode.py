"""dlib's face encoder (the ResNet of face_recognition_models), run on numpy's BLAS instead of dlib's loops.

The dlib-bin wheel is built without BLAS, so its ResNet multiplies matrices with dlib's own loops: 150-230 ms
per face on one core, most of a group photo's time. numpy's wheels carry OpenBLAS. This module reads the
same model file (``dlib_face_recognition_resnet_model_v1.dat``, dlib's serialisation) and runs the same
network with numpy's matrix products: the same 128-d encodings (tests/faces/test_encode.py compares them with
dlib's on the corpus faces), so clusters made before stay valid. dlib still does everything around it: the
landmarks and the aligned 150x150 chip (``get_face_chips``).

The network is read, not described: the file's layers are walked in order and checked against the one
grammar this model has (a 7x7 stem, then residual units of two 3x3 convolutions, the down-sampling ones with
an average-pooled shortcut, then a global average and a 128-wide layer). A file of another shape raises
:class:`UnknownModel`, a one-line error that names the file: dlib's own encoder could not read it either.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from homeroll.daemon.errors import UserError

__all__ = ["CHIP_PADDING", "CHIP_PIXELS", "ResNetEncoder", "UnknownModel"]

#: The encoder's input: dlib's chip of a face, square, in pixels (``input_rgb_image_sized<150>``).
CHIP_PIXELS = 150
#: dlib's chip: the face box is the middle of the chip, with a quarter of its size around it on each side.
CHIP_PADDING = 0.25
#: Faces encoded per matrix product: a batch makes the products larger (21 ms a face instead of 27) at about
#: 3 MB a face for the first layer's patches.
BATCH = 8


class UnknownModel(UserError):
    """The model file is not the ResNet this module knows (nor, then, the one dlib's face_recognition_model_v1
    is compiled for: its network is fixed in the dlib wheel)."""


class _Reader:
    """dlib's serialisation: integers as a length byte (0x80 = negative) and little-endian bytes, floats as
    mantissa and exponent integers, names as a length and bytes, tensors as raw little-endian float32."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def int(self) -> int:
        head = self.data[self.at]
        size = head & 0x0F
        value = int.from_bytes(self.data[self.at + 1:self.at + 1 + size], "little")
        self.at += 1 + size
        return -value if head & 0x80 else value

    def float(self) -> float:
        mantissa = self.int()
        return float(mantissa * 2.0 ** self.int())

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise UnknownModel("unexpected tensor version")
        dims = [self.int() for _ in range(4)]
        count = int(np.prod(dims))
        values = np.frombuffer(self.data, "<f4", count, self.at).astype(np.float32)
        self.at += 4 * count
        return values

    def layers(self) -> Iterator[str]:
        """Each layer name of the file in order, the reader left after it (the bytes between layers are
        versions and empty tensors). Names are searched for once each; one inside a tensor already read is
        no name."""
        marks = sorted((at, name) for name in _LAYER_NAMES
                       for at in _all(self.data, bytes([1, len(name)]) + name.encode()))
        for at, name in marks:
            if at >= self.at:
                self.at = at + 2 + len(name)
                yield name


def _all(data: bytes, pattern: bytes) -> Iterator[int]:
    at = data.find(pattern)
    while at >= 0:
        yield at
        at = data.find(pattern, at + 1)


_LAYER_NAMES = ("input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2")


@dataclass
class _Conv:
    weights: np.ndarray  # (kh * kw * channels, filters), the affine layer after it folded in
    bias: np.ndarray
    size: int
    stride: int
    padding: int


def _layers(data: bytes) -> Iterator[tuple[str, object]]:
    """The file's layers from the input up (dlib writes each layer's sub-network before the layer)."""
    reader = _Reader(data)
    for layer in reader.layers():
        if layer == "input_rgb_image_sized":
            mean = np.array([reader.float(), reader.float(), reader.float()], np.float32)
            if (reader.int(), reader.int()) != (CHIP_PIXELS, CHIP_PIXELS):
                raise UnknownModel("the input is not a 150x150 chip")
            yield layer, mean
        elif layer == "con_4":
            params = reader.tensor()
            filters, rows, cols, stride, stride_x, padding, padding_x = (reader.int() for _ in range(7))
            if rows != cols or stride != stride_x or padding != padding_x:
                raise UnknownModel("a convolution is not square")
            channels = (params.size - filters) // (filters * rows * cols)
            weights = params[:filters * channels * rows * cols].reshape(filters, channels, rows, cols)
            # the patches are gathered row, column, channel (each channel run contiguous): the same order here
            weights = weights.transpose(2, 3, 1, 0).reshape(rows * cols * channels, filters)
            yield layer, _Conv(np.ascontiguousarray(weights), params[filters * channels * rows * cols:], rows,
                               stride, padding)
        elif layer == "affine_":
            params = reader.tensor()
            yield layer, (params[:params.size // 2], params[params.size // 2:])
        elif layer in ("max_pool_2", "avg_pool_2"):
            yield layer, tuple(reader.int() for _ in range(6))  # rows, cols, strides, paddings
        elif layer == "fc_2":
            outputs, inputs = reader.int(), reader.int()
            params = reader.tensor()
            if params.size != inputs * outputs:
                raise UnknownModel("the last layer has a bias")
            yield layer, params.reshape(inputs, outputs)
        else:
            yield layer, None


class ResNetEncoder:
    """The encoder, loaded once per process (22 MB of weights, as dlib's own holds)."""

    def __init__(self, path: Path | str) -> None:
        try:
            self._load(Path(path).read_bytes())
        except (UnknownModel, ValueError, IndexError, TypeError) as exc:
            raise UnknownModel(f"face model {path} is not dlib's face ResNet ({exc}): reinstall the "
                               "'face-recognition-models' package") from None

    def _load(self, data: bytes) -> None:
        layers = list(_layers(data))
        names = [name for name, _ in layers]
        if names[:5] != ["input_rgb_image_sized", "con_4", "affine_", "relu_", "max_pool_2"] or names[-2:] != [
                "avg_pool_2", "fc_2"]:
            raise UnknownModel("not the stem and head of dlib's face ResNet")
        self.mean = layers[0][1]
        self.stem = _folded(layers[1][1], layers[2][1])
        if layers[4][1] != (3, 3, 2, 2, 0, 0) or layers[-2][1] != (0, 0, 1, 1, 0, 0):
            raise UnknownModel("unexpected pooling")
        self.units = list(_units(layers[5:-2]))
        self.head = layers[-1][1]

    def encode(self, chips: list[np.ndarray]) -> np.ndarray:
        """128-d encodings of dlib face chips (150x150 RGB uint8), one row per chip."""
        if not chips:
            return np.zeros((0, 128), np.float32)
        return np.concatenate([self._forward(np.stack(chips[at:at + BATCH])) for at in range(0, len(chips), BATCH)])

    def _forward(self, chips: np.ndarray) -> np.ndarray:
        x = (chips.astype(np.float32) - self.mean) * np.float32(1 / 256)  # dlib's input_rgb_image
        x = _max_pool(np.maximum(_conv(x, self.stem), 0))
        for first, second, down in self.units:
            y = _conv(np.maximum(_conv(x, first), 0), second)
            x = np.maximum(_add(y, _avg_pool(x) if down else x), 0)
        return x.mean(axis=(1, 2)) @ self.head


def _folded(conv: _Conv, affine: tuple[np.ndarray, np.ndarray]) -> _Conv:
    """A convolution followed by its (batch-norm) affine layer, as one convolution."""
    gamma, beta = affine
    if gamma.size != conv.bias.size:
        raise UnknownModel("an affine layer does not match its convolution")
    return _Conv(conv.weights * gamma, conv.bias * gamma + beta, conv.size, conv.stride, conv.padding)


def _units(layers: list[tuple[str, object]]) -> Iterator[tuple[_Conv, _Conv, bool]]:
    """Residual units: con, affine, relu, con, affine, [avg_pool 2x2 of the shortcut], add_prev, relu."""
    at = 0
    while at < len(layers):
        names = [name for name, _ in layers[at:at + 8]]
        down = names[5:6] == ["avg_pool_2"]
        expected = ["con_4", "affine_", "relu_", "con_4", "affine_", *(["avg_pool_2"] if down else []),
                    "add_prev_", "relu_"]
        if names[:len(expected)] != expected or (down and layers[at + 5][1] != (2, 2, 2, 2, 0, 0)):
            raise UnknownModel(f"unexpected layers {names}")
        yield _folded(layers[at][1], layers[at + 1][1]), _folded(layers[at + 3][1], layers[at + 4][1]), down
        at += len(expected)


def _conv(x: np.ndarray, conv: _Conv) -> np.ndarray:
    """A batch (n, rows, cols, channels) convolved: the patches gathered once, then one matrix product."""
    if conv.padding:
        pad = conv.padding
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    windows = sliding_window_view(x, (conv.size, conv.size), axis=(1, 2))[:, ::conv.stride, ::conv.stride]
    n, rows, cols = windows.shape[:3]
    patches = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * rows * cols, -1)
    out = patches @ conv.weights
    out += conv.bias
    return out.reshape(n, rows, cols, -1)


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's add_prev: the sum is as large as the larger of the two in each dimension, and a tensor counts as
    zeros beyond its own size. From 8x8 and 4x4 a down-sampling unit's stride-2 3x3 convolution gives 3x3 and
    1x1, where the 2x2 average of its shortcut gives 4x4 and 2x2."""
    if b.shape[1:3] > a.shape[1:3]:
        a, b = b, a
    if all(x >= y for x, y in zip(a.shape, b.shape, strict=True)):
        a[:, :b.shape[1], :b.shape[2], :b.shape[3]] += b
        return a
    out = np.zeros(tuple(max(x, y) for x, y in zip(a.shape, b.shape, strict=True)), np.float32)
    for part in (a, b):
        out[:, :part.shape[1], :part.shape[2], :part.shape[3]] += part
    return out


def _max_pool(x: np.ndarray) -> np.ndarray:
    """3x3 windows, stride 2, no padding."""
    return sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2].max(axis=(-2, -1))


def _avg_pool(x: np.ndarray) -> np.ndarray:
    """2x2 windows, stride 2, no padding (an odd last row or column is left out, as dlib does)."""
    rows, cols = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
    return (x[:, 0:rows:2, 0:cols:2] + x[:, 1:rows:2, 0:cols:2] + x[:, 0:rows:2, 1:cols:2]
            + x[:, 1:rows:2, 1:cols:2]) * np.float32(0.25)
