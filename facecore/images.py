"""Reading image files into RGB uint8 arrays, strictly: a bad file is an ``ImageError``.

Pillow decodes (it reports truncated files instead of padding them with grey, and
knows EXIF orientation, palettes and 16-bit modes); OpenCV does the rest.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

__all__ = ["IMAGE_SUFFIXES", "read_image", "list_images", "to_rgb_uint8", "encode_jpeg"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".webp", ".tif", ".tiff")


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    arr = arr.astype(np.float64)
    top = arr.max() if arr.size else 0.0
    scale = 255.0 / 65535.0 if top > 255 else 1.0
    return np.clip(arr * scale, 0, 255).astype(np.uint8)


def to_rgb_uint8(image: Image.Image) -> np.ndarray:
    """Any Pillow mode (grey, 16-bit, palette, RGBA, CMYK) -> ``(h, w, 3)`` uint8 RGB."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        grey = _to_uint8(np.asarray(image))
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def read_image(path: str | os.PathLike, max_side: int = 2048) -> np.ndarray:
    """Read ``path`` as ``(h, w, 3)`` uint8 RGB, EXIF-upright, longest side at most ``max_side``.

    Raises ``ImageError`` (one line, naming the file) for a missing, empty,
    truncated, undecodable or over-large file.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced size
                image.load()
                if max(image.size) > max_side:  # first, so that no full-size copy is ever made
                    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                return to_rgb_uint8(ImageOps.exif_transpose(image))
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image, or a format that cannot be read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: image too large to decode safely") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{path}: cannot decode ({exc})") from None


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` by suffix, sorted; hidden files and links out of ``folder`` skipped."""
    folder = Path(folder)
    root = folder.resolve()
    pattern = "**/*" if recursive else "*"
    found = []
    for path in sorted(folder.glob(pattern)):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            continue
        found.append(path)
    return found


def encode_jpeg(rgb: np.ndarray, quality: int = 95) -> bytes:
    """``(h, w, 3)`` uint8 RGB as JPEG bytes (``ImageError`` when OpenCV cannot encode it)."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("cannot encode an image as JPEG")
    return encoded.tobytes()
