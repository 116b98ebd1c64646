"""agent.core.png: the banded, threaded encoder writes valid PNGs holding exactly the pixels given."""

import io
import zlib

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from agent.core.png import adler32_combine, encode_png


def decoded_by_both(data: bytes) -> np.ndarray:
    """BGR pixels as OpenCV (libpng or spng) reads them, after checking PIL reads the same."""
    by_cv2 = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # reads the whole zlib stream, checksum included
        by_pil = np.asarray(image.convert("RGB"))[:, :, ::-1]
    assert by_cv2 is not None and np.array_equal(by_cv2, by_pil)
    return by_cv2


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 70), height=st.integers(1, 70), channels=st.sampled_from([3, 4]),
       kind=st.sampled_from(["noise", "flat", "stripes"]), seed=st.integers(0, 2**32 - 1))
def test_any_image_comes_back_exactly(width, height, channels, kind, seed):
    rng = np.random.default_rng(seed)
    pixels = {"noise": lambda: rng.integers(0, 256, (height, width, channels), dtype=np.uint8),
              "flat": lambda: np.full((height, width, channels), rng.integers(0, 256), np.uint8),
              "stripes": lambda: np.repeat(rng.integers(0, 256, (height, 1, channels), dtype=np.uint8), width, 1),
              }[kind]()
    assert np.array_equal(decoded_by_both(encode_png(pixels)), pixels[:, :, :3])


def test_a_screen_sized_frame_comes_back_exactly_and_smaller_than_raw():
    rng = np.random.default_rng(3)
    pixels = np.full((1080, 1920, 4), 236, np.uint8)
    pixels[100:700, 200:1100] = rng.integers(0, 256, (600, 900, 4), dtype=np.uint8)
    data = encode_png(pixels)
    assert np.array_equal(decoded_by_both(data), pixels[:, :, :3])
    assert len(data) < 1920 * 1080 * 3 / 3


@given(first=st.binary(max_size=300), second=st.binary(max_size=300))
def test_adler32_combine_matches_zlib_on_the_joined_bytes(first, second):
    assert adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second)) == zlib.adler32(first + second)


def test_adler32_combine_holds_for_long_runs_of_high_bytes():
    first, second = b"\xff" * 100_000, b"\xfe" * 70_001
    assert adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second)) == zlib.adler32(first + second)
