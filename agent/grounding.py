"""Finding things on a frame: text by tolerant matching, and bordered rectangles (fields, buttons,
check boxes) with OpenCV. Everything here is in image pixels."""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

import cv2
import numpy as np

from .ocr import Box, TextBox, overlaps

MATCH_THRESHOLD = 0.8
# OCR confuses these; both sides of a comparison are folded the same way.
CONFUSIONS = [("rn", "m"), ("1", "l"), ("i", "l"), ("|", "l"), ("!", "l"), ("0", "o")]


def fold(text: str) -> str:
    """Lower case, letters and digits only, common OCR confusions folded together; a text with
    no letter or digit (a calculator's `+`, `=`) keeps its symbols, so it can still be matched."""
    text = re.sub(r"[^0-9a-z|!]+", "", text.lower()) or re.sub(r"\s+", "", text.lower())
    for seen, meant in CONFUSIONS:
        text = text.replace(seen, meant)
    return text


@dataclass(frozen=True, slots=True)
class Match:
    text: TextBox
    score: float
    box: Box  # the part of the text box that matched (a word inside a longer line)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


def match_text(query: str, text: TextBox) -> Match | None:
    """How well the query names this text: 1.0 exact, then word runs inside a line, then fuzzy."""
    want, have = fold(query), fold(text.text)
    if not want or not have:
        return None
    if want == have:
        return Match(text, 1.0, text.box)
    words = list(re.finditer(r"\S+", text.text))
    n = len(query.split())
    best: Match | None = None
    for i in range(len(words) - n + 1):
        run = words[i:i + n]
        score = SequenceMatcher(None, want, fold(text.text[run[0].start():run[-1].end()])).ratio()
        if len(words) > n:
            score *= 0.98  # a whole-text match beats the same words inside a longer line
        if best is None or score > best.score:
            best = Match(text, score, _sub_box(text, run[0].start(), run[-1].end()))
    whole = SequenceMatcher(None, want, have).ratio()
    if best is None or whole >= best.score:
        best = Match(text, whole, text.box)
    return best


def _sub_box(text: TextBox, start: int, end: int) -> Box:
    """The part of a text line's box holding characters start..end (by their share of the line)."""
    x0, y0, x1, y1 = text.box
    length = max(1, len(text.text))
    return (round(x0 + (x1 - x0) * start / length), y0, round(x0 + (x1 - x0) * end / length), y1)


def find_text(texts: list[TextBox], query: str, near: tuple[float, float] | None = None,
              within: Box | None = None) -> list[Match]:
    """Matches above the threshold, best first: score, then distance to `near`."""
    matches = [m for t in texts if (m := match_text(query, t)) and m.score >= MATCH_THRESHOLD
               and (within is None or inside(m.centre, within))]

    def rank(match: Match):
        distance = 0.0 if near is None else np.hypot(match.centre[0] - near[0], match.centre[1] - near[1])
        return (-round(match.score, 2), distance)
    return sorted(matches, key=rank)


def closest_texts(texts: list[TextBox], query: str, count: int = 5) -> list[str]:
    scored = sorted(texts, key=lambda t: -SequenceMatcher(None, fold(query), fold(t.text)).ratio())
    return [t.text for t in scored[:count]]


def inside(point: tuple[float, float], box: Box) -> bool:
    return box[0] <= point[0] < box[2] and box[1] <= point[1] < box[3]


def find_rectangles(image: np.ndarray) -> list[Box]:
    """Axis-aligned bordered rectangles (fields, buttons, lists, check boxes), smallest first."""
    gray = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY)
    edges = cv2.Canny(gray, 30, 90) > 0
    contours, _ = cv2.findContours(edges.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = set()
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w >= 8 and h >= 8 and _border_coverage(edges, x, y, x + w, y + h) >= 0.9:
            boxes.add((x, y, x + w, y + h))
    return sorted(boxes, key=lambda b: ((b[2] - b[0]) * (b[3] - b[1]), b))


def _border_coverage(edges: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> float:
    """The share of the rectangle's outline that lies on edges (its weakest side)."""
    sides = [edges[y0:y0 + 2, x0:x1].any(axis=0), edges[y1 - 2:y1, x0:x1].any(axis=0),
             edges[y0:y1, x0:x0 + 2].any(axis=1), edges[y0:y1, x1 - 2:x1].any(axis=1)]
    return min(float(side.mean()) for side in sides)


def is_input_like(image: np.ndarray, box: Box) -> bool:
    """A light interior, as text fields, lists and drop-downs have."""
    x0, y0, x1, y1 = box
    inner = image[y0 + 2:y1 - 2, x0 + 2:x1 - 2, :3]
    return inner.size > 0 and float(np.median(inner)) >= 235 and 12 <= y1 - y0 <= 400 and x1 - x0 >= 30


def smallest_containing(rectangles: list[Box], point: tuple[float, float], max_area: float = 0.25,
                        screen_area: float | None = None) -> Box | None:
    for box in rectangles:  # sorted smallest first
        if inside(point, box):
            if screen_area and (box[2] - box[0]) * (box[3] - box[1]) > max_area * screen_area:
                return None
            return box
    return None


def field_for_label(image: np.ndarray, rectangles: list[Box], label: Box, light: bool = True) -> Box | None:
    """The nearest rectangle to the right of the label on its line, or just below it; with `light`,
    only input-like ones (text fields and lists), else drop-downs and buttons too."""
    lx0, ly0, lx1, ly1 = label
    cy = (ly0 + ly1) / 2
    best, best_distance = None, float("inf")
    for box in rectangles:
        x0, y0, x1, y1 = box
        if overlaps(box, label) or (light and not is_input_like(image, box)) or x1 - x0 < 30:
            continue
        if x0 >= lx1 - 2 and y0 - 6 <= cy <= y1 + 6:
            distance = x0 - lx1
        elif y0 >= ly1 - 2 and x0 - 30 <= lx0 <= x1:
            distance = (y0 - ly1) * 1.5
        else:
            continue
        if distance < best_distance and distance < 300:
            best, best_distance = box, distance
    return best


def checkbox_for_label(rectangles: list[Box], label: Box) -> Box | None:
    """The small square box just left of the label, on its line (OCR boxes may take it in)."""
    lx0, ly0, lx1, ly1 = label
    cy = (ly0 + ly1) / 2
    candidates = [b for b in rectangles if 8 <= b[2] - b[0] <= 30 and abs((b[2] - b[0]) - (b[3] - b[1])) <= 3
                  and b[1] <= cy <= b[3] and lx0 - 40 <= b[0] and b[2] <= lx0 + 24]
    return max(candidates, key=lambda b: b[2], default=None)


def is_ticked(image: np.ndarray, box: Box) -> bool:
    """A check box with a dark mark inside."""
    x0, y0, x1, y1 = box
    inner = cv2.cvtColor(image[y0 + 2:y1 - 2, x0 + 2:x1 - 2, :3], cv2.COLOR_BGR2GRAY)
    return inner.size > 0 and float((inner < 128).mean()) > 0.1

