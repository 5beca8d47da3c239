"""Uploads, capped: in bytes (``web.max_upload_mb``: 413) and in pixels (``web.max_pixels``: 413
before any pixel is decoded, so a decompression bomb costs nothing); what is not an image is
400. Pages that take photos (people, recognize) read them with these functions.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from fastapi import HTTPException, Request, UploadFile
from PIL import Image, ImageOps, UnidentifiedImageError

from facecore.config import WebConfig
from facecore.images import to_rgb_uint8

__all__ = ["max_bytes", "read_upload", "read_body", "decode_image", "CHUNK"]

CHUNK = 1 << 16


def max_bytes(web: WebConfig) -> int:
    return int(web.max_upload_mb * 1024 * 1024)


def _too_large(most: int) -> HTTPException:
    return HTTPException(413, f"upload too large: more than {most} bytes (web.max_upload_mb)")


async def read_upload(upload: UploadFile, web: WebConfig) -> bytes:
    """The bytes of one uploaded file, at most ``web.max_upload_mb`` (413 beyond)."""
    most, parts, size = max_bytes(web), [], 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > most:
            raise _too_large(most)
        parts.append(chunk)
    return b"".join(parts)


async def read_body(request: Request, web: WebConfig) -> bytes:
    """The raw request body, at most ``web.max_upload_mb`` (413 beyond)."""
    most, parts, size = max_bytes(web), [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > most:
            raise _too_large(most)
        parts.append(chunk)
    return b"".join(parts)


def decode_image(data: bytes, web: WebConfig, what: str = "the upload") -> np.ndarray:
    """``data`` as an upright ``(h, w, 3)`` uint8 RGB array. 400 when it is empty or not an image
    that can be read, 413 when it has more than ``web.max_pixels`` pixels (checked from its
    header, before decoding)."""
    if not data:
        raise HTTPException(400, f"{what} is empty: send an image (JPEG, PNG, ...)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                w, h = image.size
                if w * h > web.max_pixels:
                    raise HTTPException(413, f"{what} is too large: {w}x{h} pixels, at most {web.max_pixels} "
                                             f"(web.max_pixels)")
                image.load()
                return to_rgb_uint8(ImageOps.exif_transpose(image))
    except HTTPException:
        raise
    except UnidentifiedImageError:
        raise HTTPException(400, f"{what} is not an image, or a format that cannot be read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise HTTPException(413, f"{what} has too many pixels to decode safely (at most {web.max_pixels}, "
                                 f"web.max_pixels)") from None
    except (OSError, ValueError, SyntaxError, MemoryError) as exc:
        raise HTTPException(400, f"{what} cannot be decoded ({str(exc).splitlines()[0] if str(exc) else 'damaged'})") \
            from None
