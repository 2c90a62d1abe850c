"""Reading photos as people take them: EXIF orientation applied only where asked (what a
viewer shows, as PIL's ``ImageOps.exif_transpose`` gives it), GIF's first frame and a
multi-page TIFF's first page."""

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from gluonext.common.images import decode_rgb, exif_orientation, read_rgb, readable_images


def picture():
    """A 30 x 50 picture whose every orientation differs (smooth, so JPEG keeps it)."""
    y, x = np.mgrid[0:30, 0:50]
    return np.stack([x * 5, y * 8, (x * y) % 200], axis=2).astype(np.uint8)


def with_orientation(array, orientation, fmt):
    buffer, exif = io.BytesIO(), Image.Exif()
    exif[0x0112] = orientation
    quality = {"quality": 95} if fmt == "JPEG" else {}
    Image.fromarray(array).save(buffer, fmt, exif=exif, **quality)
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_turned_as_pil_shows_it(orientation):
    for fmt in ("PNG", "JPEG"):
        data = with_orientation(picture(), orientation, fmt)
        assert exif_orientation(data) == orientation
        shown = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
        ours = decode_rgb(data, "photo", upright=True)
        assert ours.shape == shown.shape
        difference = np.abs(ours.astype(int) - shown).mean()
        assert difference == 0 if fmt == "PNG" else difference < 2, (fmt, difference)
        stored = decode_rgb(data, "photo")  # the annotations' frame: as stored
        assert stored.shape == (30, 50, 3)


def test_prediction_reading_turns_and_reports_training_reading_does_not(tmp_path):
    (tmp_path / "a.png").write_bytes(with_orientation(picture(), 8, "PNG"))
    (tmp_path / "b.png").write_bytes(with_orientation(picture(), 1, "PNG"))
    files = sorted(tmp_path.iterdir())
    turned, skipped = {}, []
    shapes = {p.name: im.shape for p, im in readable_images(files, skipped, progress=False,
                                                             turned=turned)}  # fmt: skip
    assert shapes == {"a.png": (50, 30, 3), "b.png": (30, 50, 3)} and turned == {"a.png": 8}
    kept = {p.name: im.shape for p, im in readable_images(files, [], progress=False, upright=False)}
    assert kept == {"a.png": (30, 50, 3), "b.png": (30, 50, 3)}
    assert read_rgb(tmp_path / "a.png").shape == (30, 50, 3)
    assert np.array_equal(read_rgb(tmp_path / "a.png", upright=True), np.rot90(picture(), 1))


def test_gif_and_multipage_tiff_give_their_first_frame(tmp_path):
    first, second = picture(), 255 - picture()
    frames = [Image.fromarray(first), Image.fromarray(second)]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "scan.tiff", save_all=True, append_images=frames[1:])
    with Image.open(tmp_path / "clip.gif") as gif:
        assert gif.n_frames == 2
        expected_gif = np.asarray(gif.convert("RGB"))
    assert np.array_equal(read_rgb(tmp_path / "clip.gif"), expected_gif)
    assert np.array_equal(read_rgb(tmp_path / "scan.tiff"), first)
    (tmp_path / "junk.gif").write_bytes(b"GIF89a not really")
    with pytest.raises(OSError, match="junk.gif: not a readable image"):
        read_rgb(tmp_path / "junk.gif")
