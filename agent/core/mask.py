"""Typed secrets out of the pixels of every screenshot that is stored or sent.

Once a --secret value has been typed, each frame the agent keeps (step PNGs, the images sent to the
model, and so the report and the GIF) is masked before anyone sees it. What is covered is the place
the secret was typed into: what changed on screen as its keys went in, within the field they went
into. A change that runs only along a box's outline (a focus ring fading in or out, in this field
or in another one) is no typed text and stays as it is, so a username typed into the field before
stays readable. The place stays covered while most of it shows what it showed (a blinking caret
aside) or the field's border round it is where it was (its text selected or edited), and where its
pixels are found again after the screen changed (the field scrolled, the window moved).

The secret echoed elsewhere (a terminal that prints it, a field or a title that shows it again) is
covered too: every text line in which OCR reads a run of the secret's characters. Only what changed
since the last frame checked is read, outside the covered places, and only the changes that can
hold a text line: not a caret, an outline or a speck smaller than a character, not where nothing is
drawn now, and not what shows that frame's pixels scrolled or recoloured (a terminal that scrolled,
a page dimmed behind a dialog or on another background; see changes_since). Each change is widened
to its line (the ink on its rows, gaps narrower than a word's spacing), its lines are detected in
that crop and the lines it touched recognised: glanced at (smaller, about half the time), and read
in full only when the glance may have misread a secret (see clears). A line read so stays covered
while it shows what it showed; once it changes, what changed there is read again. A frame in which
nothing changed outside the covered places costs no OCR (3-6 ms at 1080p), nor one that scrolled or
was recoloured; one with new text costs a glance at each new line (a page of new text: all of it,
seconds; bench/mask_cost.py). Frames before the first secret is typed are not read (the secret is
not on the screen before its keys go in). What can still show: a secret drawn in an image or so
distorted that OCR does not read it, and a run completed by one glyph narrower than 3 px ('l', '.')
after its other characters showed in an earlier frame. A masked field (dots) needs nothing.
"""

from dataclasses import dataclass, replace
from difflib import SequenceMatcher

import cv2
import numpy as np

from agent.core.ocr import OCR, Box, crop_key, detect_lines, engine, merge_boxes, overlaps

LINE_HEIGHT_MAX = 80  # pixels: a change taller than this while typing is more than the typed line
BORDER = 4  # pixels: a change within this of its box's outline and nowhere inside it is a ring or a border
OUTLINE_MIN = (24, 14)  # pixels wide and tall: the smallest box whose outline is no typed character
PAD = 3  # pixels around typed text that are covered too (antialiasing), and that join its characters
KEPT = 0.9  # share of a place's pixels as they were for it to still show the secret (a caret may blink)
AROUND = 6  # pixels round a place in which its field's border is looked for
INK = 40  # grey levels from the background that count as something drawn
MOVED_TOLERANCE = 0.02  # share of a place's pixels that may differ where it is found again
MATCH_MIN = 4  # characters of the secret in a row (or half of it if longer) that mark a line as showing it
CONFUSABLE = str.maketrans("0oil|5s8", "OO1111SB")
GLANCE_HEIGHT = 36  # pixels: a line is read this tall first (its own width, not 320): about half the time
GLANCE_SURE = 0.9  # a glance's mean confidence from which it is trusted to show no secret ...
GLANCE_RUN = 3  # ... when it shows fewer characters of each secret in a row than this
SPECK = 3  # pixels: a change narrower or shorter than this holds no character (a caret, a rule)
WORD_GAP = 1.5  # times a change's height: the widest gap between the words of one line
CONTEXT = 8  # pixels round a line's crop, so the detector sees its edges
GAP_JOINED = 8  # pixels: changed pieces closer than this on the same rows are one change
TILE = 15  # pixels: the side of the squares a change is explained in (odd: centred on a pixel)
GREY_DISTANCES = np.abs(np.arange(256)[:, None] - np.arange(256)[None, :])
SAMPLE = 4  # every SAMPLE-th row and column of a change tells its map of greys
RECOLOURED = 2  # grey levels: what rounding leaves of a recolouring
STRIP = 64  # pixels: the width of the columns whose rows are matched to find a scroll
SCROLL_MAX = 400  # rows: the farthest a scroll is looked for
SCROLL_ROWS = 4  # rows that must agree on a scroll
WEIGHTS = np.random.default_rng(23).random(STRIP, np.float32)  # a row's signature: its pixels so weighted, summed


def fold(text: str) -> str:
    return "".join(text.split()).upper().translate(CONFUSABLE)


def changed_pieces(flags: np.ndarray):
    """The pieces of a change (`flags`: 1 where a pixel changed), those a pixel apart joined: for each,
    its box's top-left corner on the frame and its own flags in that box."""
    left, top, width, height = cv2.boundingRect(flags)
    if not width:
        return
    crop = flags[top:top + height, left:left + width]
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(crop, np.ones((3, 3), np.uint8)))
    for label in range(1, count):
        x, y, w, h = (int(value) for value in stats[label][:4])
        yield left + x, top + y, crop[y:y + h, x:x + w] & (labels[y:y + h, x:x + w] == label)


def ink(gray: np.ndarray) -> np.ndarray:
    """Where something is drawn on the crop's background (its median grey)."""
    return np.abs(gray.astype(np.int16) - int(np.median(gray))) > INK


def typed_places(before: np.ndarray, after: np.ndarray) -> list[Box]:
    """Where typing changed two grayscale frames: the pieces of the change that are not outlines."""
    places = []
    for x, y, piece in changed_pieces((cv2.absdiff(before, after) > 0).astype(np.uint8)):
        h, w = piece.shape
        if h > LINE_HEIGHT_MAX or is_outline(piece):
            continue
        places.append((x - PAD, y - PAD, x + w + PAD, y + h + PAD))
    rows, columns = before.shape
    return [(max(0, x0), max(0, y0), min(columns, x1), min(rows, y1)) for x0, y0, x1, y1 in merge_boxes(places)]


def is_outline(piece: np.ndarray) -> bool:
    """Whether a changed piece is a box's outline or a line: nothing changed inside its box."""
    h, w = piece.shape
    if min(h, w) <= BORDER:
        return max(h, w) >= 5 * BORDER  # a line (an underline focus); a shorter piece may be a typed '-'
    if w < OUTLINE_MIN[0] or h < OUTLINE_MIN[1]:
        return False  # a typed 'O' alone is a ring too, but a small one
    return not piece[BORDER:h - BORDER, BORDER:w - BORDER].any()


@dataclass
class Place:
    """Where a secret was typed, with the pixels it showed there, and the lines drawn round it (the
    field's border) that tell the field is still there."""

    box: Box
    shown: np.ndarray
    around: Box  # the box and AROUND pixels round it
    lines: np.ndarray  # where around the box something is drawn (not inside it)
    context: np.ndarray  # the pixels around the box

    @classmethod
    def of(cls, gray: np.ndarray, box: Box) -> "Place":
        x0, y0, x1, y1 = box
        around = grown(box, AROUND, gray.shape)
        context = gray[around[1]:around[3], around[0]:around[2]].copy()
        lines = ink(context)
        lines[y0 - around[1]:y1 - around[1], x0 - around[0]:x1 - around[0]] = False
        return cls(box, gray[y0:y1, x0:x1].copy(), around, lines, context)

    def shows(self, gray: np.ndarray) -> bool:
        """Whether the secret is still where it was typed: most of its pixels are as they were, or the
        field round it is (its text selected or edited)."""
        x0, y0, x1, y1 = self.box
        if np.count_nonzero(gray[y0:y1, x0:x1] == self.shown) >= KEPT * self.shown.size:
            return True
        ax0, ay0, ax1, ay1 = self.around
        drawn = np.count_nonzero(self.lines)
        kept = np.count_nonzero((gray[ay0:ay1, ax0:ax1] == self.context) & self.lines)
        return drawn >= x1 - x0 and kept >= KEPT * drawn

    def find(self, gray: np.ndarray, within: Box) -> Box | None:
        """Where the place's pixels are now, looked for `within` (where the screen changed): at half
        size first (a quarter of the work), then at full size around the best match."""
        h, w = self.shown.shape
        x0, y0 = max(0, within[0] - w), max(0, within[1] - h)
        region = gray[y0:within[3] + h, x0:within[2] + w]
        if region.shape[0] < h or region.shape[1] < w:
            return None
        half = cv2.resize(region, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        shown = cv2.resize(self.shown, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        if min(shown.shape) < 2 or half.shape[0] < shown.shape[0] or half.shape[1] < shown.shape[1]:
            return None
        _, _, (x, y), _ = cv2.minMaxLoc(cv2.matchTemplate(half, shown, cv2.TM_SQDIFF))
        nx0, ny0 = max(0, 2 * x - 2), max(0, 2 * y - 2)
        near = region[ny0:2 * y + h + 2, nx0:2 * x + w + 2]
        if near.shape[0] < h or near.shape[1] < w:
            return None
        best, _, (x, y), _ = cv2.minMaxLoc(cv2.matchTemplate(near, self.shown, cv2.TM_SQDIFF))
        if best > MOVED_TOLERANCE * self.shown.size * 255 ** 2:
            return None
        return x0 + nx0 + x, y0 + ny0 + y, x0 + nx0 + x + w, y0 + ny0 + y + h


def text_changes(changed: np.ndarray, gray: np.ndarray, covered: list[Box]) -> list[Box]:
    """The pieces of a change (`changed`: not 0 where `gray` changed) that may hold text: outside the
    covered boxes, not outlines, not specks, not where nothing is drawn now (what vanished)."""
    flags = (changed > 0).astype(np.uint8)
    for x0, y0, x1, y1 in covered:
        flags[y0:y1, x0:x1] = 0
    pieces = []
    for x, y, piece in changed_pieces(flags):
        px, py, pw, ph = cv2.boundingRect(piece)
        box = (x + px, y + py, x + px + pw, y + py + ph)
        if min(pw, ph) < SPECK or is_outline(piece[py:py + ph, px:px + pw]) or plain(gray, box):
            continue
        pieces.append(box)
    return pieces


def plain(gray: np.ndarray, box: Box) -> bool:
    """Whether the box shows one grey (rounding aside): nothing drawn."""
    low, high, _, _ = cv2.minMaxLoc(gray[box[1]:box[3], box[0]:box[2]])
    return high - low <= RECOLOURED


def line_of(gray: np.ndarray, box: Box) -> Box:
    """The box widened to the text line it is part of: the ink on its rows, left and right, up to a
    gap wider than a word's spacing."""
    x0, y0, x1, y1 = box
    rows = gray[y0:y1]
    inked = np.flatnonzero(ink(rows).any(axis=0))
    gap = WORD_GAP * (y1 - y0)
    for column in inked[inked >= x1]:
        if column - x1 > gap:
            break
        x1 = int(column) + 1
    for column in inked[inked < x0][::-1]:
        if x0 - column > gap:
            break
        x0 = int(column)
    return x0, y0, x1, y1


def covered(pixels: np.ndarray, boxes: list[Box], original: np.ndarray | None = None) -> np.ndarray:
    """The BGRA pixels with these boxes painted over: the same array when there are none, or when it
    is a copy already (not the `original` frame); else a copy."""
    if not boxes:
        return pixels
    masked = pixels.copy() if original is None or pixels is original else pixels
    for x0, y0, x1, y1 in boxes:
        masked[y0:y1, x0:x1] = (64, 64, 64, 255)
    return masked


def echoed(pixels: np.ndarray, pieces: list[Box], secrets: list[str]) -> list[Box]:
    """The text lines (of BGRA pixels) touched by these changed pieces in which OCR reads a run of a secret."""
    bgr, gray = pixels[:, :, :3], pixels[:, :, 1]
    changes = grouped(pieces, gray.shape)
    lines = []
    for region in merge_boxes([grown(line_of(gray, box), CONTEXT, gray.shape) for box in changes]):
        lines += [line for line in detect_lines(bgr, region) if any(overlaps(line, change) for change in changes)]
    texts = read_lines(bgr, gray, lines, secrets)
    return [own_rows(gray, line) for line, text in zip(lines, texts) if shows_secret(text, secrets)]


def own_rows(gray: np.ndarray, line: Box) -> Box:
    """A detected line's box cut to its own rows, and a pixel round them: the run of rows with ink round
    its middle (the detector's box takes in a margin, which may reach into the lines above and below)."""
    x0, y0, x1, y1 = line
    crop = gray[y0:y1, x0:x1]
    inked = ink(crop).any(axis=1)
    top = bottom = len(inked) // 2
    if not inked[top]:
        return line
    while top > 0 and inked[top - 1]:
        top -= 1
    while bottom < len(inked) and inked[bottom]:
        bottom += 1
    return x0, max(y0, y0 + top - 1), x1, min(y1, y0 + bottom + 1)


def grouped(pieces: list[Box], shape: tuple[int, int]) -> list[Box]:
    """The pieces joined where they share rows less than a word's gap apart (the words of a line)."""
    widened = merge_boxes([(x0 - GAP_JOINED, y0, x1 + GAP_JOINED, y1) for x0, y0, x1, y1 in pieces])
    return [(max(0, x0 + GAP_JOINED), y0, min(shape[1], x1 - GAP_JOINED), y1) for x0, y0, x1, y1 in widened]


def grown(box: Box, by: int, shape: tuple[int, int]) -> Box:
    return max(0, box[0] - by), max(0, box[1] - by), min(shape[1], box[2] + by), min(shape[0], box[3] + by)


def read_lines(bgr: np.ndarray, gray: np.ndarray, lines: list[Box], secrets: list[str]) -> list[str]:
    """The lines' texts, each recognised alone (side by side in one run of the recogniser they cost
    more: 1.7 times for three long lines) unless read before. Each is glanced at first (GLANCE_HEIGHT
    tall, its own width): the glance is kept when it shows a secret or `clears` the line, else the line
    is read in full (then remembered)."""
    texts = []
    for x0, y0, x1, y1 in lines:
        key = crop_key(gray, (x0, y0, x1, y1))
        crop = np.ascontiguousarray(bgr[y0:y1, x0:x1])
        found = engine().known(key)
        if found is None:
            glanced = engine().glance(crop, GLANCE_HEIGHT)
            trusted = shows_secret(glanced[0], secrets) or clears(*glanced, secrets)
            found = glanced if trusted else engine().recognise(key, crop)
        texts.append(found[0])
    return texts


def clears(text: str, score: float, secrets: list[str]) -> bool:
    """Whether a glance is sure enough that its line shows no secret: it reads with confidence, and
    fewer than GLANCE_RUN of a secret's letters and digits in a row (a glance drops small marks: '-',
    '.', '!'); never for a secret with fewer letters and digits than that. Of 420 rendered lines in
    which the full read finds a secret (7 fonts, 11-20 px, 3 colour schemes), the 21 whose glance did
    not show it read unsure (0.63-0.90) or sure with 7 or more in a row; clean lines 0.98 (median)."""
    text = alphanumeric(fold(text))
    return score >= GLANCE_SURE and all(
        GLANCE_RUN <= len(alphanumeric(secret)) and longest_run(text, alphanumeric(secret)) < min(
            GLANCE_RUN, run_needed(secret)) for secret in secrets)


def alphanumeric(text: str) -> str:
    return "".join(character for character in text if character.isalnum())


def longest_run(text: str, secret: str) -> int:
    """The most characters of the secret in a row that the text shows (both folded)."""
    return SequenceMatcher(None, secret, text, autojunk=False).find_longest_match(0, len(secret), 0, len(text)).size


def run_needed(secret: str) -> int:
    """The characters of the secret in a row that mark a line as showing it."""
    return min(len(secret), max(MATCH_MIN, len(secret) // 2))


def shows_secret(text: str, secrets: list[str]) -> bool:
    text = fold(text)
    return any(longest_run(text, secret) >= run_needed(secret) for secret in secrets)


class SecretMask:
    def __init__(self):
        self.typed: list[str] = []  # the secrets typed so far, folded
        self.places: list[Place] = []  # where they were typed (looked for again when lost)
        self.echoes: list[Place] = []  # where OCR read them (dropped when lost: what changed there is read again)
        self._just_typed = False
        self._checked: np.ndarray | None = None  # the last frame handed in (its text is read where it shows)
        self._hidden: list[Box] = []  # what was covered in it

    def secret_typed(self, value: str) -> None:
        """Called by the executor after it typed a secret's value."""
        if fold(value) and fold(value) not in self.typed:
            self.typed.append(fold(value))
        self._just_typed = True

    def hide(self, pixels: np.ndarray, before: np.ndarray | None = None) -> np.ndarray:
        """`pixels` (BGRA) with the secrets covered; `before` is the frame before (the last action)."""
        gray = pixels[:, :, 1]
        checked, self._checked = self._checked, gray
        if not self.typed:
            self._hidden = []
            return pixels
        earlier = before[:, :, 1] if before is not None and before.shape == pixels.shape else None
        if self._just_typed and earlier is not None:
            self.places += [Place.of(gray, box) for box in typed_places(earlier, gray)]
        self._just_typed = False
        self.echoes = [echo for echo in self.echoes if echo.shows(gray)]
        kept, moved = self._shown(gray, earlier)
        boxes = kept + [echo.box for echo in self.echoes]
        # the rest is read where it changed since the last frame checked, as it shows with the places
        # covered (text typed after a secret in its field stays readable), but for a place found
        # elsewhere just now, which may be found where the secret shows only in part
        readable = covered(pixels, boxes)
        pieces = text_changes(changes_since(checked, gray, self._hidden), gray, boxes)
        echoes = echoed(readable, pieces, self.typed) if pieces else []
        self.echoes += [Place.of(gray, box) for box in echoes]
        self._hidden = boxes + moved + echoes
        return covered(readable, moved + echoes, original=pixels)

    def _shown(self, gray: np.ndarray, earlier: np.ndarray | None) -> tuple[list[Box], list[Box]]:
        """Where the places show in `gray`: where they were or, moved, as they were (a caret aside);
        and apart, where the screen changed since `earlier` if their pixels are there now only near
        enough (then they are there from now on)."""
        kept, moved, changed = [], [], ...
        for index, place in enumerate(self.places):
            if place.shows(gray):
                kept.append(place.box)
                continue
            if changed is ...:  # looked for once, and only when a place is lost
                changed = changed_box(earlier, gray)
            found = place.find(gray, changed) if changed else None
            if found is not None:
                self.places[index] = Place.of(gray, found)
                same = np.count_nonzero(self.places[index].shown == place.shown) >= KEPT * place.shown.size
                (kept if same else moved).append(found)
        return kept, moved

    @property
    def ocr(self) -> OCR:
        """An OCR for the MCP server's reading tools (it has none of its own when secrets are given)."""
        return OCR()


def changes_since(checked: np.ndarray | None, gray: np.ndarray, hidden: list[Box]) -> np.ndarray:
    """Where `gray` shows what the frame checked last did not show in the open (uint8, 1 there): the
    pixels that changed, less those that show its pixels scrolled (moved up or down by the scroll
    most of its rows moved by) or recoloured (its greys mapped by the one map of greys most of the
    change follows: another background, a page dimmed behind a dialog). A pixel is explained so only
    within a TILE-pixel square that is explained whole by one of the two: a square of a new mark
    would hold pixels that neither explains. What was `hidden` (covered) in it explains nothing.
    All of `gray` with no frame checked."""
    if checked is None or checked.shape != gray.shape:
        return np.ones_like(gray)
    changed = (checked != gray).view(np.uint8)
    x, y, w, h = cv2.boundingRect(changed)
    if not w:
        return changed
    shown = np.ones(gray.shape, bool)  # where the frame checked showed its pixels (not covered)
    for x0, y0, x1, y1 in hidden:
        shown[y0:y1, x0:x1] = False
    x0, y0, x1, y1 = grown((x, y, x + w, y + h), TILE, gray.shape)
    before, after, region = checked[y0:y1, x0:x1], gray[y0:y1, x0:x1], changed[y0:y1, x0:x1]
    region[in_squares(recoloured(before, after) & shown[y0:y1, x0:x1])] = 0
    x, y, w, h = cv2.boundingRect(region)
    if not w:
        return changed
    x0, y0, x1, y1 = grown((x0 + x, y0 + y, x0 + x + w, y0 + y + h), TILE, gray.shape)
    dy = scroll_of(checked, gray, (x0, y0, x1, y1))
    if dy:
        rows = slice(max(y0, -dy), min(y1, gray.shape[0] - dy))
        source = slice(rows.start + dy, rows.stop + dy)
        moved = (gray[rows, x0:x1] == checked[source, x0:x1]) & shown[source, x0:x1]
        changed[rows, x0:x1][in_squares(moved)] = 0
    return changed


def in_squares(fits: np.ndarray) -> np.ndarray:
    """Where `fits` holds for every pixel of a TILE-pixel square round the pixel."""
    return cv2.morphologyEx(fits.view(np.uint8), cv2.MORPH_OPEN, np.ones((TILE, TILE), np.uint8),
                            borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)


def recoloured(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Where `after` is `before` with its greys mapped by the map most of its pixels follow (each
    grey to the grey it most often became in a sample), rounding aside; nowhere if that map brings
    two greys further apart (a fade-in). What became the background is left out of the sample:
    content that vanished is no recolouring."""
    old, new = before[::SAMPLE, ::SAMPLE].ravel(), after[::SAMPLE, ::SAMPLE].ravel()
    kept = (new != np.bincount(new).argmax()) | (old == np.bincount(old).argmax())
    counts = np.bincount(old[kept].astype(np.int32) << 8 | new[kept], minlength=1 << 16).reshape(256, 256)
    seen = np.flatnonzero(counts.any(axis=1))  # the greys the sample missed map as their neighbours do
    greys = np.interp(np.arange(256), seen, counts[seen].argmax(axis=1)).round().astype(np.uint8)
    if (np.abs(greys[:, None].astype(np.int16) - greys[None, :]) > GREY_DISTANCES + RECOLOURED).any():
        return np.zeros(before.shape, bool)  # it adds contrast: what was too faint to read may be readable now
    return cv2.absdiff(cv2.LUT(before, greys), after) <= RECOLOURED


def scroll_of(checked: np.ndarray, gray: np.ndarray, box: Box) -> int:
    """The rows the box's content scrolled by (the last frame's row y + dy is now row y): the shift
    most of its changed rows are found again at, in STRIP-pixel columns; 0 if none is."""
    x0, y0, x1, y1 = box
    strips = max(1, (x1 - x0) // STRIP)
    columns = slice(x0, x0 + strips * min(x1 - x0, STRIP))
    top = max(0, y0 - SCROLL_MAX)
    before = signatures(checked[top:y1 + SCROLL_MAX, columns], strips)
    after = signatures(gray[y0:y1, columns], strips)
    shifts = []
    for strip in range(strips):
        order = np.argsort(before[:, strip])
        wanted = after[:, strip]
        found = np.minimum(np.searchsorted(before[order, strip], wanted), len(order) - 1)
        match = before[order[found], strip] == wanted  # never for NaN
        shifts.append(top + order[found[match]] - (y0 + np.flatnonzero(match)))
    shifts = np.concatenate(shifts)
    shifts = shifts[(shifts != 0) & (np.abs(shifts) <= SCROLL_MAX)]
    if len(shifts) < SCROLL_ROWS:
        return 0
    votes = np.bincount(shifts + SCROLL_MAX)
    best = int(votes.argmax())
    return best - SCROLL_MAX if votes[best] >= SCROLL_ROWS else 0


def signatures(rows: np.ndarray, strips: int) -> np.ndarray:
    """A number per row and strip of columns that tells their pixels apart (a hash of every SAMPLE-th
    pixel: the pixels are compared afterwards); NaN for a plain one, which has no shape to match."""
    split = rows.reshape(len(rows) * strips, -1)[:, ::SAMPLE]
    found = split.astype(np.float32) @ WEIGHTS[:split.shape[1]]
    found[(split == split[:, :1]).all(axis=1)] = np.nan
    return found.reshape(len(rows), strips)


def changed_box(earlier: np.ndarray | None, gray: np.ndarray) -> Box | None:
    """The box round what changed since `earlier` (all of it with no earlier frame); None if nothing did."""
    if earlier is None:
        return 0, 0, gray.shape[1], gray.shape[0]
    x, y, w, h = cv2.boundingRect(cv2.absdiff(earlier, gray))  # of the pixels that are not 0
    return (x, y, x + w, y + h) if w else None


class MaskedScreen:
    """A Screen whose frames have the typed secrets covered; the loop, the planners and the episode
    only ever see these."""

    def __init__(self, screen, mask: SecretMask):
        self.screen, self.mask = screen, mask
        self._shown = self._raw = None  # the last frame handed out, and what was captured for it

    @property
    def display(self) -> str | None:
        return self.screen.display

    @property
    def monitor_index(self) -> int:
        return self.screen.monitor_index

    def close(self) -> None:
        self.screen.close()

    def capture(self):
        return self._masked(self.screen.capture())

    def grab(self):
        return self._masked(self.screen.grab())

    def settle_by_pixels(self, before, **options):
        frame, settled = self.screen.settle_by_pixels(self._raw if before is self._shown else before, **options)
        return self._masked(frame), settled

    def settle(self, before, **options):
        # the screen is compared with what was captured, not with the covered copy
        frame, settled = self.screen.settle(self._raw if before is self._shown else before, **options)
        return self._masked(frame), settled

    def _masked(self, frame):
        before = self._raw.pixels if self._raw is not None else None
        pixels = self.mask.hide(frame.pixels, before)
        shown = frame if pixels is frame.pixels else replace(frame, pixels=pixels, _png_cache={})
        self._shown, self._raw = shown, frame
        return shown
