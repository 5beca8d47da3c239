"""facecore: detection, crops, backbones, heads, bundles and sources shared by
``face-enroll`` and ``face-live``. No window, no keyboard, no argument parsing.

Heavy libraries (TensorFlow/Keras, MTCNN) are imported when a model is built, not
when this package is imported.
"""

from .backbones import Backbone, build_backbone
from .bundle import Bundle, load_bundle, save_bundle
from .camera import Camera, Frame
from .config import Config, load_config
from .crops import extract_crops
from .detector import Detector
from .errors import (BundleError, ConfigError, DataError, FacecamError, ImageError, ModelError, SourceError,
                     StorageError, UsageError)
from .faces import PENDING, UNKNOWN, Faces
from .images import read_image
from .recognizer import Decision, Recognizer
from .urls import mask_url

__all__ = [
    "Backbone", "build_backbone", "Bundle", "load_bundle", "save_bundle", "Camera", "Frame", "Config",
    "load_config", "extract_crops", "Detector", "Faces", "UNKNOWN", "PENDING", "read_image", "Recognizer",
    "Decision", "FacecamError", "UsageError", "ConfigError", "ImageError", "DataError", "BundleError",
    "ModelError", "SourceError", "StorageError", "mask_url",
]
