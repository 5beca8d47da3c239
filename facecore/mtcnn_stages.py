"""Everything facecam knows about the inside of the ``mtcnn`` package, in one place.

``mtcnn`` 1.0 runs three networks (PNet, RNet, ONet) as three *stages*, and
:class:`mtcnn.MTCNN` takes the stages it runs as an argument. facecam passes its own
subclasses of the package's stages: they keep the package's weights, box regression and
NMS, and change only how each network is called (pixels in [0, 255] for RNet and ONet,
one traced graph per stage). What else is relied on lives here too: the layout of the
rows the stages exchange (:data:`ROW`), the error the package raises when no candidate is
left, and the package versions this was checked against (:func:`check_version`,
``tests/facecore/test_mtcnn_contract.py``).
"""

from __future__ import annotations

from importlib import metadata

import numpy as np

from .errors import ModelError

__all__ = ["SUPPORTED", "ROW", "TRACING", "check_version", "build_stages", "run_stages", "trace_counts"]

SUPPORTED = ((1, 0),)  # (major, minor) releases of mtcnn whose internals match this module


class ROW:
    """Columns of the ``(n, 16)`` float rows the stages pass on and return."""

    image = 0  # index of the image in the batch
    box = slice(1, 5)  # x1, y1, x2, y2 in the pixels of the image the stage saw
    score = 5
    landmarks_x = slice(6, 11)  # left eye, right eye, nose, mouth left, mouth right
    landmarks_y = slice(11, 16)
    width = 16

# Input of each stage's network (the stage ``id``): PNet takes the whole (rescaled)
# image, RNet and ONet batches of 24x24 and 48x48 patches.
_INPUTS = {1: (None, None, None, 3), 2: (None, 24, 24, 3), 3: (None, 48, 48, 3)}


def check_version() -> str:
    """The installed mtcnn version; ``ModelError`` when it is not one of :data:`SUPPORTED`
    (its stages may take other arguments or return other rows: failing here is better than
    finding no faces)."""
    try:
        version = metadata.version("mtcnn")
    except metadata.PackageNotFoundError:
        raise ModelError("the mtcnn package is not installed: pip install 'mtcnn>=1.0,<1.1'") from None
    parts = tuple(int(p) if p.isdigit() else -1 for p in version.split(".")[:2])
    if parts not in SUPPORTED:
        wanted = ", ".join(f"{a}.{b}.x" for a, b in SUPPORTED)
        raise ModelError(f"mtcnn {version} is installed, but facecam's detector was checked against "
                         f"mtcnn {wanted} only: pip install 'mtcnn>=1.0,<1.1'")
    return version


TRACING = ("signature", "calls", "calls-reduced", "eager")


def _network_call(model, stage_id: int, tracing: str, pixels: bool):
    """How a stage calls its network.

    ``pixels``: RNet and ONet take patches with values in [0, 255] and normalise them
    inside, so that patches are cut from the uint8 frame without a float copy of it (only
    for :func:`run_stages`: the package's own ``detect_faces`` passes normalised patches).
    ``tracing``: ``signature`` runs each network as one ``tf.function`` traced once for any
    batch and image size (what facecam uses; shapes learnt from the calls retraced ~0.3 s at
    each new frame size); ``calls`` and ``calls-reduced`` (``reduce_retracing``) let
    TensorFlow trace from the calls; ``eager`` calls the Keras model as it is.
    """
    import tensorflow as tf

    if tracing not in TRACING:
        raise ValueError(f"tracing must be one of {TRACING}, got {tracing!r}")
    run = model
    if pixels and stage_id != 1:
        def run(patches):
            return model((patches - 127.5) * (1.0 / 128.0))
    if tracing == "signature":
        run = tf.function(run, input_signature=[tf.TensorSpec(_INPUTS[stage_id], tf.float32)])
        run.get_concrete_function()
    elif tracing != "eager":
        run = tf.function(run, reduce_retracing=tracing == "calls-reduced")
    return run


def _stage_class(base):
    class Stage(base):
        """The package's stage, calling its network the way :func:`_network_call` says."""

        def __init__(self, tracing: str, pixels: bool) -> None:
            super().__init__()
            self.network = self._model  # the package's Keras model, before wrapping
            self._model = _network_call(self.network, self.id, tracing, pixels)

        def traces(self) -> int | None:
            get = getattr(self._model, "experimental_get_tracing_count", None)
            return int(get()) if get else None

    Stage.__name__ = Stage.__qualname__ = f"Facecam{base.__name__}"
    return Stage


def build_stages(tracing: str = "signature", pixels: bool = True, device: str = "CPU:0"):
    """An :class:`mtcnn.MTCNN` running facecam's three stages (checks the version first);
    ``tracing`` and ``pixels`` as :func:`_network_call` says, on TensorFlow ``device``."""
    check_version()
    from mtcnn import MTCNN
    from mtcnn.stages import StageONet, StagePNet, StageRNet

    import tensorflow as tf

    with tf.device(device):
        stages = [_stage_class(base)(tracing, pixels) for base in (StagePNet, StageRNet, StageONet)]
    return MTCNN(stages=stages, device=device)


def trace_counts(mtcnn) -> list[int] | None:
    """How often each stage's graph was traced (PNet, RNet, ONet); ``None`` when eager."""
    counts = [stage.traces() for stage in mtcnn.stages]
    return None if None in counts else counts


def run_stages(mtcnn, small: np.ndarray, fine: np.ndarray, factor: float, *, search_px: int,
               thresholds: tuple[float, float, float]) -> np.ndarray:
    """The three stages of ``mtcnn`` (from :func:`build_stages` with ``pixels``) on one image: PNet
    proposes boxes on RGB uint8 ``small`` (faces of ``search_px`` and up); RNet and ONet check them
    on patches of ``fine``, ``factor`` times larger (it may be ``small`` itself). Returns ``(n, 16)``
    float32 rows (:data:`ROW`) in ``fine``'s pixels; none when no candidate is left."""
    import tensorflow as tf

    pnet, rnet, onet = mtcnn.stages
    none = np.empty((0, ROW.width), np.float32)
    normalized = (small.astype(np.float32)[None] - 127.5) * (1.0 / 128.0)
    with tf.device(mtcnn.device):
        try:
            boxes = pnet(images_normalized=normalized, images_oshapes=np.array([small.shape]),
                         min_face_size=search_px, threshold_pnet=thresholds[0])
            if len(boxes) == 0:
                return none
            boxes[:, ROW.box] *= factor
            pixels = tf.convert_to_tensor(fine[None])  # uint8: RNet and ONet normalise their patches
            boxes = rnet(images_normalized=pixels, bboxes_batch=boxes, threshold_rnet=thresholds[1])
            if len(boxes) == 0:
                return none
            boxes = onet(images_normalized=pixels, bboxes_batch=boxes, threshold_onet=thresholds[2])
        except tf.errors.InvalidArgumentError:  # the package's way of saying that no candidate is left
            return none
    return np.asarray(boxes, dtype=np.float32).reshape(-1, ROW.width)
