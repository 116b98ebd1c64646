"""Finding things on a frame: text by tolerant matching, and bordered rectangles (fields, buttons,
check boxes) with OpenCV. Everything here is in image pixels."""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

import cv2
import numpy as np

from agent.core.ocr import Box, TextBox, overlaps

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
    part: str = ""  # the words of the text that matched
    exact: bool = False  # the part is the query, up to case, spacing, punctuation and OCR confusions

    @property
    def centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


WORD_IN_LINE = 0.98  # a whole-text match beats the same words inside a longer line


def similarity(want: str, have: str) -> float:
    """How alike two folded texts are (0..1). Two neighbouring letters swapped ("nmae" for "name")
    count as much as one letter dropped ("nme"), which SequenceMatcher alone scores far lower."""
    ratio = SequenceMatcher(None, want, have).ratio()
    if len(want) == len(have) >= 2:
        for i in range(len(want) - 1):
            if want[:i] + want[i + 1] + want[i] + want[i + 2:] == have:
                return max(ratio, SequenceMatcher(None, want[:i] + want[i + 1:], have).ratio())
    return ratio


def match_text(query: str, text: TextBox) -> Match | None:
    """How well the query names this text: 1.0 exact, then word runs inside a line, then fuzzy."""
    want, have = fold(query), fold(text.text)
    if not want or not have:
        return None
    if want == have:
        return Match(text, 1.0, text.box, text.text, exact=True)
    words = list(re.finditer(r"\S+", text.text))
    n = len(query.split())
    best: Match | None = None
    for i in range(len(words) - n + 1):
        run = words[i:i + n]
        part = text.text[run[0].start():run[-1].end()]
        score = similarity(want, fold(part))
        if len(words) > n:
            score *= WORD_IN_LINE
        if best is None or score > best.score:
            best = Match(text, score, _sub_box(text, run[0].start(), run[-1].end()), part, fold(part) == want)
    whole = similarity(want, have)
    if best is None or whole >= best.score:
        best = Match(text, whole, text.box, text.text)
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


def closest_texts(texts: list[TextBox], query: str, count: int = 3) -> list[str]:
    """The texts (or the words of a line) most like the query, most alike first, each once."""
    matches = sorted((m for t in texts if (m := match_text(query, t))), key=lambda m: -m.score)
    return list(dict.fromkeys(m.part for m in matches))[:count]


def did_you_mean(texts: list[str]) -> str:
    if not texts:
        return "no text is on screen"
    quoted = [repr(t) for t in texts]
    return f"did you mean {', '.join(quoted[:-1])}{' or ' if len(quoted) > 1 else ''}{quoted[-1]}?"


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


DRAWN_OVER = 0.3


def new_rectangles(before: np.ndarray, after: np.ndarray) -> list[Box]:
    """Bordered boxes that appeared between two frames, drawn over what was there: a popup menu,
    a drop-down's list, a dialog. A change with no border of its own (typed text, a scrolled list)
    is not one."""
    a, b = (cv2.cvtColor(f[:, :, :3], cv2.COLOR_BGR2GRAY) for f in (before, after))
    height, width = a.shape
    changed = (cv2.absdiff(a, b) > 0).astype(np.uint8)
    # each patch of change on its own: a focus ring that changed around a popup is another patch
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(changed, np.ones((5, 5), np.uint8)))
    found = []
    for label in range(1, count):
        x, y, w, h = stats[label][:4]
        ys, xs = np.nonzero(changed[y:y + h, x:x + w] & (labels[y:y + h, x:x + w] == label))
        box = (int(x + xs.min()), int(y + ys.min()), int(x + xs.max()) + 1, int(y + ys.max()) + 1)
        w, h = box[2] - box[0], box[3] - box[1]
        if w < 30 or h < 16 or w * h > 0.6 * width * height:
            continue
        # drawn over what was there, so most of it changed (a focus ring changes a box's border only)
        if changed[box[1]:box[3], box[0]:box[2]].mean() >= DRAWN_OVER and has_border(after, box):
            found.append(box)
    return found


def has_border(image: np.ndarray, box: Box) -> bool:
    """Whether a border runs round the box. Canny puts a border's edge on either side of it, so it
    is looked for a pixel or two around the box's outline."""
    x0, y0, x1, y1 = box
    mx0, my0 = max(0, x0 - 3), max(0, y0 - 3)
    gray = cv2.cvtColor(image[my0:y1 + 3, mx0:x1 + 3, :3], cv2.COLOR_BGR2GRAY)
    edges = cv2.dilate(cv2.Canny(gray, 30, 90), np.ones((5, 5), np.uint8)) > 0
    return _border_coverage(edges, x0 - mx0, y0 - my0, x1 - mx0, y1 - my0, band=1) >= 0.8


def _border_coverage(edges: np.ndarray, x0: int, y0: int, x1: int, y1: int, band: int = 2) -> float:
    """The share of the rectangle's outline that lies on edges (its weakest side), each side looked
    for within `band` pixels inside the rectangle."""
    sides = [edges[y0:y0 + band, x0:x1].any(axis=0), edges[y1 - band:y1, x0:x1].any(axis=0),
             edges[y0:y1, x0:x0 + band].any(axis=1), edges[y0:y1, x1 - band:x1].any(axis=1)]
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



def _run_through(row: np.ndarray, x: int) -> tuple[int, int] | None:
    """The run of edge pixels in a row that holds column x: (first, last + 1)."""
    if not row[x]:
        return None
    gaps_before, gaps_after = np.flatnonzero(~row[:x]), np.flatnonzero(~row[x:])
    return (int(gaps_before[-1]) + 1 if gaps_before.size else 0,
            x + int(gaps_after[0]) if gaps_after.size else row.size)


def window_under_title(image: np.ndarray, title: Box) -> Box | None:
    """The visible part of the window whose title bar holds this text, or None if the text is not
    in a title bar. A title bar ends in a horizontal line just under its text, far wider than it,
    with the text near its middle; the window lies between that line's ends, down to where its side
    border stops or to the top edge of a window over it (a horizontal line reaching out past its sides)."""
    gray = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY)
    height, width = gray.shape
    edges = cv2.Canny(gray, 30, 90) > 0
    edges = edges | np.roll(edges, 1, axis=1)  # close one-pixel breaks in horizontal lines
    cx = min(width - 1, (title[0] + title[2]) // 2)
    for bar in range((title[1] + title[3]) // 2 + 4, min(title[3] + 12, height)):
        run = _run_through(edges[bar], cx)
        if (run and run[1] - run[0] >= max(150, 3 * (title[2] - title[0]))
                and abs((cx - run[0]) - (run[1] - cx)) <= 0.2 * (run[1] - run[0])):
            left, right = run
            break
    else:
        return None
    bottom = height
    for side in (left, right - 1):  # follow a side border down, across breaks of a few pixels
        column = edges[bar:, max(0, side - 2):side + 3].any(axis=1)
        breaks = np.flatnonzero(np.convolve(~column, np.ones(4), "valid") == 4)
        if column[:20].all():
            bottom = bar + (int(breaks[0]) if breaks.size else column.size)
            break
    lines = edges | np.roll(edges, 1, axis=0) | np.roll(edges, -1, axis=0)  # a line may step by a pixel
    for y in range(bar + 2, bottom):
        for x, over in ((left + 3, lambda run: run[0] <= left - 5 and run[1] >= left + 50),
                        (right - 4, lambda run: run[1] >= right + 5 and run[0] <= right - 50)):
            run = _run_through(lines[y], x)
            if run and over(run):
                return left, bar + 2, right, y
    return left, bar + 2, right, bottom
