"""Typed secrets out of the pixels of every screenshot that is stored or sent.

Once a --secret value has been typed, each frame the agent keeps (step PNGs, the images sent to the
model, and so the report and the GIF) is masked before anyone sees it. What is covered is the place
the secret was typed into: what changed on screen as its keys went in, within the field they went
into. A change that runs only along a box's outline (a focus ring fading in or out, in this field
or in another one) is no typed text and stays as it is, so a username typed into the field before
stays readable. The place stays covered while most of it shows what it showed (a blinking caret
aside) or the field's border round it is where it was (its text selected or edited), and where its
pixels are found again after the screen changed (the field scrolled, the window moved).

A secret echoed elsewhere in another font (a terminal's output, a title) is not looked for: OCR of
the changed regions alone cost 32-137 ms a 1080p frame, at or over the 30 ms budget, and a whole
frame about 1 s (bench/mask_cost.py, bench/README.md). A masked field (dots) needs nothing.
"""

from dataclasses import dataclass, replace

import cv2
import numpy as np

from agent.core.ocr import OCR, Box, merge_boxes

LINE_HEIGHT_MAX = 80  # pixels: a change taller than this while typing is more than the typed line
BORDER = 4  # pixels: a change within this of its box's outline and nowhere inside it is a ring or a border
OUTLINE_MIN = (24, 14)  # pixels wide and tall: the smallest box whose outline is no typed character
PAD = 3  # pixels around typed text that are covered too (antialiasing), and that join its characters
KEPT = 0.9  # share of a place's pixels as they were for it to still show the secret (a caret may blink)
AROUND = 6  # pixels round a place in which its field's border is looked for
INK = 40  # grey levels from the background that count as something drawn
MOVED_TOLERANCE = 0.02  # share of a place's pixels that may differ where it is found again


def typed_places(before: np.ndarray, after: np.ndarray) -> list[Box]:
    """Where typing changed two grayscale frames: the pieces of the change that are not outlines."""
    changed = cv2.absdiff(before, after)
    left, top, width, height = cv2.boundingRect(changed)  # of the pixels that are not 0
    if not width:
        return []
    crop = (changed[top:top + height, left:left + width] > 0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(crop, np.ones((3, 3), np.uint8)))
    places = []
    for label in range(1, count):
        x, y, w, h = (int(value) for value in stats[label][:4])
        if h > LINE_HEIGHT_MAX or is_outline(crop[y:y + h, x:x + w] & (labels[y:y + h, x:x + w] == label)):
            continue
        places.append((left + x - PAD, top + y - PAD, left + x + w + PAD, top + y + h + PAD))
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
        around = (max(0, x0 - AROUND), max(0, y0 - AROUND), min(gray.shape[1], x1 + AROUND),
                  min(gray.shape[0], y1 + AROUND))
        context = gray[around[1]:around[3], around[0]:around[2]].copy()
        lines = np.abs(context.astype(np.int16) - int(np.median(context))) > INK
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


class SecretMask:
    def __init__(self):
        self.typed = False  # whether a secret was typed yet
        self.places: list[Place] = []
        self._just_typed = False

    def secret_typed(self, value: str) -> None:
        """Called by the executor after it typed a secret's value."""
        self.typed = self.typed or bool(value)
        self._just_typed = True

    def hide(self, pixels: np.ndarray, before: np.ndarray | None = None) -> np.ndarray:
        """`pixels` (BGRA) with the secrets covered; `before` is the frame before (the last action)."""
        if not self.typed:
            return pixels
        gray = pixels[:, :, 1]
        earlier = before[:, :, 1] if before is not None and before.shape == pixels.shape else None
        if self._just_typed and earlier is not None:
            self.places += [Place.of(gray, box) for box in typed_places(earlier, gray)]
        self._just_typed = False
        boxes = self._shown(gray, earlier)
        if not boxes:
            return pixels
        masked = pixels.copy()
        for x0, y0, x1, y1 in boxes:
            masked[y0:y1, x0:x1] = (64, 64, 64, 255)
        return masked

    def _shown(self, gray: np.ndarray, earlier: np.ndarray | None) -> list[Box]:
        """Where the places show in `gray`: where they were, else where the screen changed since
        `earlier` if their pixels are there (then they are there from now on)."""
        boxes, changed = [], ...
        for index, place in enumerate(self.places):
            if not place.shows(gray):
                if changed is ...:  # looked for once, and only when a place is lost
                    changed = changed_box(earlier, gray)
                found = place.find(gray, changed) if changed else None
                if found is None:
                    continue
                place = self.places[index] = Place.of(gray, found)
            boxes.append(place.box)
        return boxes

    @property
    def ocr(self) -> OCR:
        """An OCR for the MCP server's reading tools (it has none of its own when secrets are given)."""
        return OCR()


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

    def __getattr__(self, name):
        return getattr(self.screen, name)

    def capture(self):
        return self._masked(self.screen.capture())

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
