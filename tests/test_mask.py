"""Typed secrets are covered in the pixels: where they were typed, and wherever OCR reads them again."""

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from agent.core.mask import SecretMask
from agent.core.ocr import OCR

FONT = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 16)
SECRET = "hunter2-Secret"  # invented


def screen(lines: dict[tuple[int, int], str]) -> np.ndarray:
    image = Image.new("RGB", (640, 360), "white")
    draw = ImageDraw.Draw(image)
    for (x, y), text in lines.items():
        draw.text((x, y), text, fill="black", font=FONT)
    return np.dstack([np.asarray(image)[:, :, ::-1], np.full((360, 640), 255, np.uint8)])


def read(pixels: np.ndarray) -> str:
    return " ".join(line.text for line in OCR().read(pixels, full=True))


def test_a_typed_secret_is_covered_where_it_was_typed_and_where_it_shows_again():
    before = screen({(20, 20): "Name:", (20, 60): "Password:"})
    typed = screen({(20, 20): "Name:", (20, 60): "Password:", (120, 60): SECRET})
    assert "hunter2" in read(typed)  # OCR reads it when nothing is done
    mask = SecretMask()
    assert mask.hide(typed, before) is typed  # nothing typed yet: nothing hidden
    mask.secret_typed(SECRET)
    hidden = mask.hide(typed, before)
    assert "hunter2" not in read(hidden) and "Name" in read(hidden)
    elsewhere = screen({(20, 20): "Name:", (300, 200): f"echo {SECRET} > notes", (20, 300): "A secret note"})
    hidden = mask.hide(elsewhere, typed)
    text = read(hidden)
    assert "hunter2" not in text and "note" in text.lower()  # the echoed line is covered, others stay
