"""Frame.png: lossless at full size, and the half-size history image is the area-averaged screen;
Frame.same_as: equal only when every byte is."""

import cv2
import numpy as np
import pytest

from agent.core.geometry import Monitor
from agent.core.screen import Frame


def a_screen(width=333, height=201) -> np.ndarray:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[40:90, 30:200] = (40, 200, 90, 255)  # a flat widget among the noise
    return pixels


def test_full_size_png_holds_exactly_the_captured_colours():
    pixels = a_screen()
    decoded = cv2.imdecode(np.frombuffer(Frame(pixels, Monitor(0, 0, 333, 201)).png(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == (201, 333, 3)
    assert np.array_equal(decoded, pixels[:, :, :3])


def test_half_size_png_is_the_colour_channels_shrunk_by_area():
    pixels = a_screen()
    frame = Frame(pixels, Monitor(0, 0, 333, 201))
    decoded = cv2.imdecode(np.frombuffer(frame.png(0.5), np.uint8), cv2.IMREAD_UNCHANGED)
    expected = cv2.resize(np.ascontiguousarray(pixels[:, :, :3]), (166, 100), interpolation=cv2.INTER_AREA)
    assert np.array_equal(decoded, expected)
    assert frame.png(0.5) is frame.png(0.5)  # encoded once


@pytest.mark.parametrize("width, height", [(333, 201), (334, 200)])  # an odd byte count, and one of whole 8-byte words
def test_frames_are_the_same_only_when_every_byte_is(width, height):
    pixels = a_screen(width, height)
    frame = Frame(pixels, Monitor(0, 0, width, height))
    assert frame.same_as(Frame(pixels.copy(), frame.monitor))
    for y, x, channel in [(0, 0, 0), (height // 2, width // 2, 1), (height - 1, width - 1, 3)]:
        changed = pixels.copy()
        changed[y, x, channel] ^= 1
        assert not frame.same_as(Frame(changed, frame.monitor))
    half = pixels[:, ::2]  # a strided view against a copy of it
    assert Frame(half, frame.monitor).same_as(Frame(np.ascontiguousarray(half), frame.monitor))
    assert not frame.same_as(Frame(pixels[:-1], frame.monitor))
