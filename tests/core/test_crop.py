"""One crop for every caller, in image pixels: cut short at the frame's edges, or moved inward to keep its size."""

import numpy as np

from agent.core.crop import crop_around
from agent.core.geometry import Monitor
from agent.core.screen import Frame


def numbered_frame(width: int = 200, height: int = 100) -> Frame:
    """Each pixel's blue is its x, its green its y, so a crop tells where it came from."""
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[:, :, 0] = np.arange(width)[None, :]
    pixels[:, :, 1] = np.arange(height)[:, None]
    return Frame(pixels, Monitor(0, 0, width, height))


def test_a_crop_inside_the_frame_is_centred_on_its_point():
    crop = crop_around(numbered_frame(), (100, 50), (20, 10))
    assert crop.origin == (80, 40) and crop.pixels.shape[:2] == (20, 40)
    assert crop.pixels[10, 20, 0] == 100 and crop.pixels[10, 20, 1] == 50
    assert crop.inside((100, 50)) == (20, 10)


def test_at_an_edge_a_crop_is_cut_short_or_moved_inward():
    frame = numbered_frame()
    short = crop_around(frame, (5, 95), (20, 10))
    assert short.origin == (0, 85) and short.pixels.shape[:2] == (15, 25)
    inward = crop_around(frame, (5, 95), (20, 10), inward=True)
    assert inward.origin == (0, 80) and inward.pixels.shape[:2] == (20, 40)
    assert inward.pixels[inward.inside((5, 95))[1], inward.inside((5, 95))[0], :2].tolist() == [5, 95]
    assert crop_around(frame, (195, 3), (20, 10), inward=True).origin == (160, 0)


def test_a_crop_is_its_own_array():
    frame = numbered_frame()
    crop = crop_around(frame, (100, 50), (20, 10))
    assert crop.pixels.flags["C_CONTIGUOUS"]
