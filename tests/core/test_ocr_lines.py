"""Text lines detected a band at a time and read when asked for (agent.core.ocr), on drawn images."""

import os
import subprocess
import sys

import cv2
import numpy as np

from agent.core import ocr
from agent.core.ocr import OCR, centre_in

WIDTH, HEIGHT = 900, 700
WORDS = ["Name", "Email", "Country", "Submit", "Cancel", "Volume", "Size", "Open", "Save", "Print", "Close", "Help"]


def page(changed: int | None = None) -> np.ndarray:
    """A white page with a word every 50 rows, in two columns; `changed` puts another word in that row."""
    image = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    for row, word in enumerate(WORDS):
        text = "Apply" if row == changed else word
        cv2.putText(image, text, (40 + 400 * (row % 2), 40 + 55 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    return image


def words(texts) -> list[str]:
    return [t.text for t in texts]


def test_lines_are_detected_a_band_at_a_time_and_all_of_them_read_as_a_full_read_reads_them():
    lines = OCR().lines(page())
    assert lines.boxes == [] and len(lines.bands_left()) == -(-HEIGHT // ocr.BAND)  # nothing done yet
    first = lines.bands_left()[0]
    lines.detect_band(first)
    assert lines.boxes and all(centre_in(box, first) for box in lines.boxes)
    assert first not in lines.bands_left()
    assert words(lines.read()) == words(OCR().read(page())) == WORDS  # every band, in reading order


def test_a_line_is_recognised_once_and_the_engine_and_its_texts_are_shared():
    one, other = OCR(), OCR()
    lines = one.lines(page())
    lines.detect_all()
    name = lines.boxes[0]
    assert words(lines.read([name])) == ["Name"] and one.stats["recognised"] + one.stats["cached"] == 1
    lines.read([name])
    assert one.stats["recognised"] + one.stats["cached"] == 1  # read once per image
    other.read(page())
    assert other.stats["recognised"] == 0 and other.stats["cached"] == len(WORDS)  # by crop, across instances


def test_a_change_where_nothing_was_detected_yet_is_detected_when_asked_for():
    reader = OCR()
    lines = reader.lines(page())
    lines.detect_band(lines.bands_left()[0])
    lines = reader.lines(page(changed=len(WORDS) - 1))  # the last row changes: its band was never detected
    assert reader.stats["region_reads"] == 0
    assert words(lines.read())[-1] == "Apply"
    lines = reader.lines(page(changed=0))  # the first row changes, and back the last: both were detected
    assert reader.stats["region_reads"] == 2
    assert words(lines.read()) == ["Apply", *WORDS[1:]]


def test_a_rectangle_is_detected_on_its_own_and_a_band_then_has_the_say_over_its_lines():
    lines = OCR().lines(page())
    submit_row = (0, 40 + 55 * 3 - 30, WIDTH, 40 + 55 * 3 + 15)
    lines.detect_rectangle(submit_row)
    assert words(lines.read(lines.boxes)) == ["Submit"]
    lines.detect_all()
    assert words(lines.read()) == WORDS


def test_detecting_a_1080p_screen_takes_the_memory_of_a_band_not_of_the_screen():
    """In a process of its own: the peak (VmHWM) over detecting every line of a busy 1920x1080
    image (≈ 600 MB detected whole, ≈ 290 MB a band at a time)."""
    script = ("import cv2, numpy as np; from agent.core.ocr import OCR\n"
              "image = np.full((1080, 1920, 3), 255, np.uint8)\n"
              "for row in range(36):\n"
              "    for column in range(6):\n"
              "        cv2.putText(image, f'Line {row} item {column}', (20 + 320 * column, 25 + 30 * row),\n"
              "                    cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)\n"
              "lines = OCR().lines(image)\n"
              "lines.detect_all()\n"
              "print(len(lines.boxes), next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=os.environ | {"PYTHONPATH": os.getcwd()})
    assert result.returncode == 0, result.stderr
    count, peak_kb = map(int, result.stdout.split())
    assert count >= 36 * 6 * 0.9
    assert peak_kb < 400 * 1024, peak_kb
