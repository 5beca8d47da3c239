"""MTCNN's pipeline in NumPy and OpenCV, around any three network callables.

The ``mtcnn`` package (1.0.x) runs its pipeline with TensorFlow ops: the image pyramid with
``tf.image.resize(method=AREA)``, the patches for RNet and ONet with
``tf.image.crop_and_resize`` (bilinear, zeros outside the image). This module does the same
steps without TensorFlow, step for step as facecam's stages run them
(:func:`facecore.mtcnn_stages.run_stages`): PNet sees the image normalised to [-1, 1]
(``(pixel - 127.5) / 128``) and shrunk by ``cv2.INTER_AREA`` (the same box average as TF's
AREA resize); RNet and ONet see patches cut from the uint8 RGB image, black outside it, then
normalised. Boxes are regressed, filtered, suppressed and made square as the package does,
including its own NMS rule (a box goes when any higher-scored box overlaps it too much, kept
or not). Rows come out in the layout of :data:`facecore.mtcnn_stages.ROW`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from .mtcnn_stages import ROW

__all__ = ["Networks", "pyramid_scales", "pnet_boxes", "suppress", "squared", "regressed", "crop_patches",
           "run_pipeline"]

Net = Callable[[np.ndarray], Sequence[np.ndarray]]

CELL = 12  # PNet's window, in pixels of a pyramid level
STRIDE = 2  # PNet's step between windows
PYRAMID_STEP = 0.709  # each level is this much smaller than the one before
NMS_LEVEL, NMS_PNET, NMS_RNET, NMS_ONET = 0.5, 0.7, 0.7, 0.7  # IoU limits, as the package's defaults


@dataclass(frozen=True)
class Networks:
    """The three networks, each a callable returning arrays whose last axis tells them apart.

    - ``pnet``: ``(1, h, w, 3)`` float32 in [-1, 1] -> box offsets ``(1, h', w', 4)`` and face
      probabilities ``(1, h', w', 2)``;
    - ``rnet``: ``(n, 24, 24, 3)`` -> offsets ``(n, 4)``, probabilities ``(n, 2)``;
    - ``onet``: ``(n, 48, 48, 3)`` -> offsets ``(n, 4)``, landmarks ``(n, 10)`` (x1..x5, y1..y5 as
      fractions of the box), probabilities ``(n, 2)``.
    """

    pnet: Net
    rnet: Net
    onet: Net


def _by_width(outputs: Sequence[np.ndarray], *widths: int) -> list[np.ndarray]:
    """``outputs`` reordered by the size of their last axis (a converted model may list them in
    another order than the Keras model returned them)."""
    found = {int(o.shape[-1]): o for o in outputs}
    return [found[w] for w in widths]


def _normalized(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) - 127.5) * (1.0 / 128.0)


def pyramid_scales(height: int, width: int, search_px: int) -> np.ndarray:
    """The scales of PNet's image pyramid for faces of ``search_px`` pixels and up, largest first,
    counted from the image's shorter side as the package counts them."""
    count = round(-((np.log(min(height, width) / CELL) / np.log(PYRAMID_STEP)) + 1))
    return (CELL / search_px) * PYRAMID_STEP ** np.arange(max(0, count))


def pnet_boxes(offsets: np.ndarray, probs: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """PNet's windows scoring above ``threshold`` on one pyramid level, regressed and mapped back to
    the image: ``(n, 6)`` float64 rows ``image, x1, y1, x2, y2, score``, best score first.

    ``offsets`` ``(1, h', w', 4)``, ``probs`` ``(1, h', w', 2)``: PNet's outputs for the level."""
    score = probs[0, :, :, 1]
    ys, xs = np.nonzero(score > threshold)
    reg = offsets[0, ys, xs].T.astype(np.float64)
    left, top = xs * STRIDE + 1, ys * STRIDE + 1  # the package's window: [2x + 1, 2x + 12]
    right, bottom = xs * STRIDE + CELL, ys * STRIDE + CELL
    side = CELL - 1
    rows = np.stack([np.zeros(len(xs)), left + reg[0] * side, top + reg[1] * side, right + reg[2] * side,
                     bottom + reg[3] * side, score[ys, xs].astype(np.float64)], axis=1)
    rows = rows[_best_first(rows)]
    rows[:, 1:5] /= scale
    return rows


def _best_first(rows: np.ndarray) -> np.ndarray:
    return np.argsort(rows[:, ROW.score])[::-1]


def suppress(rows: np.ndarray, threshold: float, method: str = "union", sort: bool = True) -> np.ndarray:
    """Rows left after non-maximum suppression, in score order when ``sort``.

    A row goes when any row before it overlaps it by more than ``threshold``: intersection over
    union (``union``) or over the smaller box (``min``). Rows are ``(n, >=6)``, all of one image."""
    if sort:
        rows = rows[_best_first(rows)]
    n = len(rows)
    if n == 0:
        return rows
    boxes = rows[:, ROW.box]
    gone = np.zeros(n, bool)
    for start in range(0, n - 1, 512):  # blocks of rows bound the (block, n) matrices
        block = np.arange(start, min(n, start + 512))
        over = _overlap(boxes[block], boxes, method) > threshold
        gone |= np.any(over & (np.arange(n)[None, :] > block[:, None]), axis=0)
    return rows[~gone]


def _overlap(a: np.ndarray, b: np.ndarray, method: str) -> np.ndarray:
    """``(len(a), len(b))`` overlaps of boxes ``a`` and ``b`` (``x1, y1, x2, y2``): intersection over
    union, or over the smaller box (``min``); NaN where both boxes are empty."""
    w = np.maximum(0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]))
    h = np.maximum(0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]))
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    if method == "union":
        whole = area_a[:, None] + area_b[None, :] - inter
    elif method == "min":
        whole = np.minimum(area_a[:, None], area_b[None, :])
    else:
        raise ValueError(f"method must be 'union' or 'min', got {method!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / whole


def squared(rows: np.ndarray) -> np.ndarray:
    """A copy of ``rows`` whose boxes are squares of their longer side, on the same centre."""
    rows = rows.copy()
    w = rows[:, 3] - rows[:, 1]
    h = rows[:, 4] - rows[:, 2]
    side = np.maximum(w, h)
    rows[:, 1] += 0.5 * w - 0.5 * side
    rows[:, 2] += 0.5 * h - 0.5 * side
    rows[:, 3] = rows[:, 1] + side
    rows[:, 4] = rows[:, 2] + side
    return rows


def regressed(rows: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A copy of ``rows`` with ``offsets`` ``(n, 4)`` (fractions of the box's size + 1) added."""
    rows = rows.copy()
    w = rows[:, 3] - rows[:, 1] + 1
    h = rows[:, 4] - rows[:, 2] + 1
    rows[:, ROW.box] += offsets * np.stack([w, h, w, h], axis=1)
    return rows


def _sample_axis(lo: np.ndarray, hi: np.ndarray, extent: int, size: int):
    """Where ``crop_and_resize`` samples one axis: for each box, ``size`` positions from ``lo`` to
    ``hi`` (fractions of ``extent``, scaled by ``extent - 1`` as TensorFlow does); the pixel
    before and after each, the fraction between them, and whether it lies inside the image."""
    span = np.float32(extent - 1)
    step = (hi - lo) * span / np.float32(size - 1)
    at = lo[:, None] * span + np.arange(size, dtype=np.float32)[None, :] * step[:, None]
    inside = (at >= 0) & (at <= span)
    before = np.floor(at)
    frac = (at - before)[..., None]
    before = np.clip(before, 0, extent - 1).astype(np.intp)
    after = np.clip(np.ceil(at), 0, extent - 1).astype(np.intp)
    return before, after, frac, inside


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Patches of ``image`` (``(H, W, 3)``) inside ``boxes`` (``(n, 4)`` x1, y1, x2, y2 pixels),
    resized bilinearly to ``(n, size, size, 3)`` float32, zero outside the image: what
    ``tf.image.crop_and_resize`` gives for the boxes divided by the image's width and height
    (the same sums in the same order)."""
    h, w = image.shape[:2]
    fractions = (boxes[:, [1, 0, 3, 2]] / np.array([h, w, h, w], np.float64)).astype(np.float32)
    y0, y1, fy, in_y = _sample_axis(fractions[:, 0], fractions[:, 2], h, size)
    x0, x1, fx, in_x = _sample_axis(fractions[:, 1], fractions[:, 3], w, size)
    pixels = image.reshape(-1, image.shape[2])
    rows0, rows1 = (y0 * w)[:, :, None], (y1 * w)[:, :, None]
    cols0, cols1 = x0[:, None, :], x1[:, None, :]
    fx, fy = fx[:, None], fy[:, :, None]  # (n, 1, size, 1), (n, size, 1, 1)

    def along_x(rows: np.ndarray) -> np.ndarray:  # left + (right - left) * fx, in place
        left = pixels.take(rows + cols0, axis=0).astype(np.float32)
        right = pixels.take(rows + cols1, axis=0).astype(np.float32)
        right -= left
        right *= fx
        left += right
        return left

    top, bottom = along_x(rows0), along_x(rows1)
    bottom -= top
    bottom *= fy
    top += bottom
    inside = in_y[:, :, None] & in_x[:, None, :]
    if not inside.all():
        top *= inside[..., None]
    return top


def _propose(nets: Networks, small: np.ndarray, search_px: int, threshold: float) -> np.ndarray:
    """PNet on every level of ``small``'s pyramid: square candidate rows ``(n, 6)`` in its pixels."""
    h, w = small.shape[:2]
    image = _normalized(small)
    levels = []
    for scale in pyramid_scales(h, w, search_px):
        size_h, size_w = (int(v) for v in np.array([h, w], np.float64) * scale)
        if min(size_h, size_w) < CELL:
            continue
        level = image if (size_h, size_w) == (h, w) else cv2.resize(image, (size_w, size_h),
                                                                   interpolation=cv2.INTER_AREA)
        offsets, probs = _by_width(nets.pnet(level[None]), 4, 2)
        levels.append(suppress(pnet_boxes(offsets, probs, scale, threshold), NMS_LEVEL, sort=False))
    rows = np.concatenate(levels) if levels else np.empty((0, 6))
    return squared(suppress(rows, NMS_PNET))


def _refine(nets: Networks, fine: np.ndarray, rows: np.ndarray, threshold: float) -> np.ndarray:
    """RNet on 24x24 patches of ``fine``: kept, regressed, suppressed, squared rows ``(n, 6)``."""
    offsets, probs = _by_width(nets.rnet(_normalized(crop_patches(fine, rows[:, ROW.box], 24))), 4, 2)
    rows = regressed(rows, offsets)
    rows[:, ROW.score] = probs[:, 1]
    rows = rows[rows[:, ROW.score] > threshold]
    return squared(suppress(rows, NMS_RNET))


def _output(nets: Networks, fine: np.ndarray, rows: np.ndarray, threshold: float) -> np.ndarray:
    """ONet on 48x48 patches of ``fine``: final rows ``(n, 16)`` with landmarks."""
    offsets, marks, probs = _by_width(nets.onet(_normalized(crop_patches(fine, rows[:, ROW.box], 48))), 4, 10, 2)
    w = rows[:, 3:4] - rows[:, 1:2] + 1
    h = rows[:, 4:5] - rows[:, 2:3] + 1
    points = np.concatenate([w * marks[:, :5] + rows[:, 1:2] - 1, h * marks[:, 5:] + rows[:, 2:3] - 1], axis=1)
    rows = regressed(rows, offsets)
    rows[:, ROW.score] = probs[:, 1]
    rows = np.concatenate([rows[:, :6], points], axis=1)
    rows = rows[rows[:, ROW.score] > threshold]
    return suppress(rows, NMS_ONET, method="min")


def run_pipeline(nets: Networks, small: np.ndarray, fine: np.ndarray, factor: float, *, search_px: int,
                 thresholds: tuple[float, float, float]) -> np.ndarray:
    """MTCNN on one image, as :func:`facecore.mtcnn_stages.run_stages` (same arguments, same
    rows) with ``nets`` in place of the package's stages: PNet on RGB uint8 ``small`` for faces of
    ``search_px`` and up, RNet and ONet on patches of ``fine``, ``factor`` times larger. Returns
    ``(n, 16)`` float32 rows (:data:`ROW`) in ``fine``'s pixels."""
    none = np.empty((0, ROW.width), np.float32)
    rows = _propose(nets, small, search_px, thresholds[0])
    if len(rows) == 0:
        return none
    rows[:, ROW.box] *= factor
    rows = _refine(nets, fine, rows, thresholds[1])
    if len(rows) == 0:
        return none
    return _output(nets, fine, rows, thresholds[2]).astype(np.float32).reshape(-1, ROW.width)

