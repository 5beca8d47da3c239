"""Image files: every odd kind of file is either read correctly or named in a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from facecore.errors import ImageError
from facecore.images import list_images, read_image
from helpers import DATA, need


def _save(path, array, **kw):
    Image.fromarray(array).save(path, **kw)
    return path


def test_real_photo_reads_as_rgb_uint8():
    path = need(DATA / "lfw-dev") / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg"
    img = read_image(path)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


def test_grey_pgm_becomes_three_channels():
    img = read_image(need(DATA / "orl" / "s1" / "1.pgm"))
    assert img.shape == (112, 92, 3)
    assert np.array_equal(img[..., 0], img[..., 2])


def test_rgba_16bit_palette(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 255
    assert read_image(_save(tmp_path / "a.png", rgba))[0, 0].tolist() == [255, 0, 0]
    deep = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    img16 = read_image(_save(tmp_path / "d.png", deep))
    assert img16.dtype == np.uint8 and img16.max() > 200 and img16.min() == 0
    pal = Image.fromarray(np.full((10, 10, 3), 77, np.uint8)).convert("P")
    pal.save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (10, 10, 3)


def test_exif_orientation_is_honoured(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)  # wide image
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape[:2] == (40, 20)


def test_huge_image_is_downscaled(tmp_path):
    _save(tmp_path / "big.png", np.zeros((3000, 5000, 3), np.uint8))
    assert max(read_image(tmp_path / "big.png", max_side=1024).shape[:2]) == 1024


@pytest.mark.parametrize("name, data, words", [
    ("empty.jpg", b"", "empty"),
    ("text.jpg", b"hello, not an image", "not an image"),
])
def test_bad_files_raise_one_line_errors(tmp_path, name, data, words):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ImageError) as err:
        read_image(tmp_path / name)
    assert words in str(err.value) and name in str(err.value) and "\n" not in str(err.value)


def test_truncated_jpeg_is_an_error(tmp_path):
    good = need(DATA / "lfw-dev") / "Abdullah_Gul" / "Abdullah_Gul_0001.jpg"
    data = good.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.jpg"):
        read_image(tmp_path / "cut.jpg")


def test_wrong_extension_still_decodes(tmp_path):
    _save(tmp_path / "really_png.jpg", np.full((8, 8, 3), 9, np.uint8), format="PNG")
    assert read_image(tmp_path / "really_png.jpg")[0, 0].tolist() == [9, 9, 9]


def test_list_images_skips_hidden_nonimages_and_escaping_links(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / ".hidden.jpg").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    outside = tmp_path.parent / f"{tmp_path.name}_outside.jpg"
    outside.write_bytes(b"x")
    (tmp_path / "link.jpg").symlink_to(outside)
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg"]
