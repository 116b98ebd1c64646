"""Finding things on a frame: text by tolerant matching, and bordered rectangles (fields, buttons,
check boxes) with OpenCV. Everything here is in image pixels."""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import cv2
import numpy as np

from agent.core.ocr import MARGIN, Box, Lines, TextBox, contains, overlaps

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
# A text OCR was unsure of (a calculator's ÷ read as "+" at 0.51, as the box around it moved a pixel)
# matches exactly below one it was sure of, above the same words inside a longer line.
SURE, UNSURE_EXACT = 0.8, 0.99
# A word ends at a space, or where a small letter meets a capital: OCR drops the space between
# words set apart by a gap alone (a menu bar's "File   Edit" read as "FileEdit").
WORD = r"\S+?(?=\s|(?<=[a-z])[A-Z]|$)"


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
    """How well the query names this text: 1.0 exact (0.99 if OCR was unsure of it), then word runs
    inside a line, then fuzzy."""
    want, have = fold(query), fold(text.text)
    if not want or not have:
        return None
    if want == have:
        return Match(text, 1.0 if text.score >= SURE else UNSURE_EXACT, text.box, text.text, exact=True)
    words = list(re.finditer(WORD, text.text))
    n = len(re.findall(WORD, query))
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


# A line holding just the query has a box about (CHAR_WIDTH × characters + PADDING) × its height wide
# (rapidocr's boxes round DejaVu Sans: "Name" 46 × 18 px); the same text in another font, size or
# case has a box within SAME_TEXT_SHAPE times that width-to-height.
CHAR_WIDTH, PADDING = 0.37, 1.07
SAME_TEXT_SHAPE = 2.0
TALLEST_LINE = 2 * MARGIN  # detection in bands reads lines up to this tall whole


def shape(box: Box) -> float:
    return (box[2] - box[0]) / max(1, box[3] - box[1])


def shapes_of(query: str) -> tuple[float, float]:
    """The width-to-height a text line's box can have when it reads exactly as the query."""
    alone = CHAR_WIDTH * len(query.strip()) + PADDING
    return alone / SAME_TEXT_SHAPE, alone * SAME_TEXT_SHAPE


def find_in_lines(lines: Lines, query: str, near: tuple[float, float] | None = None, within: Box | None = None,
                  rectangles: Sequence[Box] = ()) -> list[Match]:
    """The best of what `find_text` finds over every line, detecting and recognising as few lines
    as that takes, with what it found on the way. Best is: highest score, then inside a button
    (`button_around` one of the rectangles), then nearest `near`, then first in reading order.
    A line OCR surely reads exactly as the query outranks every other kind of match and has the
    shape of the query alone, so only such lines are read, best placed first: those inside a button
    (those detected so far, and in the rectangles that could be one: see `could_be_button`), then
    the others, detecting a band of rows only when a line in it could be placed before those
    detected. The first that surely reads as the query is the best. With none, every line is read."""
    low, high = shapes_of(query)
    for box in sorted(rectangles, key=lambda b: (b[0] - b[2]) * (b[3] - b[1])):  # largest first: its insides are known
        if could_be_button(box, low, high) and (within is None or overlaps(box, within)):
            lines.detect_rectangle(box)

    examined: set[Box] = set()

    def candidate(box: Box) -> bool:
        return low <= shape(box) <= high and (within is None or overlaps(box, within)) and box not in examined

    def place(box: Box) -> tuple:
        if near is None:
            return 0.0, box[1], box[0]
        return float(np.hypot((box[0] + box[2]) / 2 - near[0], (box[1] + box[3]) / 2 - near[1])), box[1], box[0]

    def nearest_place(band: Box) -> tuple:  # no line of the band (its centre in these rows) is placed before
        distance = 0.0 if near is None else max(0.0, band[1] - near[1], near[1] - band[3])
        return distance, band[1] - TALLEST_LINE // 2, -1

    def exact(box: Box) -> bool:
        examined.add(box)
        return any((m := match_text(query, text)) and m.score >= 1.0 for text in lines.read([box]))

    def found() -> list[Match]:
        return find_text(lines.read([b for b in lines.boxes if lines.is_read(b)]), query, near, within)
    for box in sorted((b for b in lines.boxes if candidate(b) and button_around(rectangles, b)), key=place):
        if exact(box):
            return found()
    while True:
        line = min((b for b in lines.boxes if candidate(b)), key=place, default=None)
        band = min(lines.bands_left(within), key=nearest_place, default=None)
        if band is not None and (line is None or nearest_place(band) < place(line)):
            lines.detect_band(band)
        elif line is None:
            break
        elif exact(line):
            return found()
    lines.detect_all(within)
    return find_text(lines.read([b for b in lines.boxes if within is None or overlaps(b, within)]), query, near, within)


BUTTON_SLACK = 3  # pixels a label's box may reach out of its button's border (2 seen in Tk)
SMALLEST_BUTTON = 16  # a box less wide or tall holds no text line (check boxes, window controls)


def button_around(rectangles: Sequence[Box], text: Box) -> Box | None:
    """The bordered box snugly around a text: a button, a tab, a menu item. It holds the text's box
    (but for BUTTON_SLACK) and is at most 3 times as tall and 3 times as wide + 40 px."""
    width, height = text[2] - text[0], text[3] - text[1]
    slack = BUTTON_SLACK
    for box in rectangles:
        holds = contains((box[0] - slack, box[1] - slack, box[2] + slack, box[3] + slack), text)
        if (holds and min(box[2] - box[0], box[3] - box[1]) >= SMALLEST_BUTTON
                and box[2] - box[0] <= 3 * width + 40 and box[3] - box[1] <= 3 * height):
            return box
    return None


def could_be_button(box: Box, low: float, high: float) -> bool:
    """Whether the rectangle could be `button_around` a line whose box has a width-to-height
    between low and high and is at most TALLEST_LINE tall: such a line is h tall and s × h wide with
    h ≤ box height + 2 × slack, s × h ≤ box width + 2 × slack, box height ≤ 3h, box width ≤ 3sh + 40."""
    width, height = box[2] - box[0], box[3] - box[1]
    tallest = min(TALLEST_LINE, height + 2 * BUTTON_SLACK)
    if min(width, height) < SMALLEST_BUTTON or height > 3 * tallest:
        return False
    # the narrowest shape the width needs (h at most tallest), the widest the height allows (h at least height / 3)
    return max(low, (width - 40) / (3 * tallest)) <= min(high, 3 * (width + 2 * BUTTON_SLACK) / max(1, height))


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


INK = 60  # grey levels from a field's background that count as something drawn in it


def shown_in_field(image: np.ndarray, box: Box) -> tuple[int, int] | None:
    """The columns (x0, x1) over which a field shows something inside its border (text, a text
    cursor), or None when it shows its background alone."""
    x0, y0, x1, y1 = box
    inner = cv2.cvtColor(image[y0 + 2:y1 - 2, x0 + 2:x1 - 2, :3], cv2.COLOR_BGR2GRAY)
    if inner.size == 0:
        return None
    columns = np.flatnonzero((np.abs(inner.astype(np.int16) - int(np.median(inner))) > INK).any(axis=0))
    return (x0 + 2 + int(columns[0]), x0 + 3 + int(columns[-1])) if columns.size else None


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
            distance: float = x0 - lx1
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
        column = np.any(edges[bar:, max(0, side - 2):side + 3], axis=1)
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


GREYED = 120  # the darkest ink of a label this light or lighter, on a light background, looks disabled


def looks_greyed(image: np.ndarray, text: Box) -> bool:
    """Whether a text is drawn greyed out, as a disabled button's label is: on a light background
    its darkest ink is mid-grey (GTK's disabled 148, Tk's 163) where a label's is near black (50)."""
    x0, y0, x1, y1 = text
    gray = cv2.cvtColor(image[y0 + 1:y1 - 1, x0 + 1:x1 - 1, :3], cv2.COLOR_BGR2GRAY)
    return gray.size > 0 and float(np.median(gray)) >= 200 and int(gray.min()) >= GREYED


CURSOR_WIDTH = 3  # a blinking text cursor changes at most this many columns of pixels
NEAR_CLICK = 40  # pixels around a click where a text cursor it placed shows


def changed_by_click(before: np.ndarray, after: np.ndarray, point: tuple[float, float]) -> bool:
    """Whether the screen changed after a click: more than a text cursor blinking elsewhere would change,
    or anything near the click (the text cursor it placed)."""
    if before.shape != after.shape:
        return True
    changed = np.any(before[:, :, :3] != after[:, :, :3], axis=2)
    x, y = int(point[0]), int(point[1])
    near = changed[max(0, y - NEAR_CLICK):y + NEAR_CLICK, max(0, x - NEAR_CLICK):x + NEAR_CLICK]
    return int(changed.any(axis=0).sum()) > CURSOR_WIDTH or bool(near.any())


def _commonest_colour(pixels: np.ndarray) -> int:
    packed = pixels[..., 0].astype(np.int32) << 16 | pixels[..., 1].astype(np.int32) << 8 | pixels[..., 2]
    values, counts = np.unique(packed, return_counts=True)
    return int(values[counts.argmax()])


def row_looks_selected(image: np.ndarray, box: Box, text: Box) -> bool:
    """Whether the row of a list holding this text has a background of its own (a selection's)."""
    x0, y0, x1, y1 = box
    inner = image[y0 + 2:y1 - 2, x0 + 2:x1 - 2, :3]
    row = image[max(y0 + 2, text[1]):min(y1 - 2, text[3]), x0 + 2:x1 - 2, :3]
    return inner.size > 0 and row.size > 0 and _commonest_colour(row) != _commonest_colour(inner)


def plain(text: str) -> str:
    """The text folded (see `fold`) with its accents taken off: OCR reads "ünïcode" as "unicode"."""
    return fold("".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)))


def reads_as(typed: str, read: str, partly: bool = False) -> bool:
    """Whether OCR's reading of a field is the typed text, letters and digits alike once accents, case,
    spacing, punctuation and OCR confusions are set aside; a text cursor after the text may read as one
    more l. `partly`: the field shows only part of the text (it runs on past its edge). OCR misreads
    letters beyond ASCII and their neighbours (a right grüße.txt read as jrulse.txt), so a text that has
    any is read back more loosely: its ASCII runs of three letters or more must show, in order; a text
    with no such run must read whole."""
    got, want = plain(read), plain(typed)
    if partly and len(got) > 4 and got[1:-1] in want:
        return True
    runs = [run for run in (fold(run) for run in re.findall(r"[\x00-\x7f]+", typed)) if len(run) >= 3]
    if typed.isascii() or not runs:  # with no ASCII run, nothing OCR reads surely: it must read it all (Zoë)
        return got in (want, want + "l")
    position = 0
    for run in runs:
        position = got.find(run, position)
        if position < 0:
            return False
        position += len(run)
    return True
