"""Typed secrets out of the pixels of every screenshot that is stored or sent.

Once a --secret value has been typed, each frame the agent keeps (step PNGs, the images sent to the
model, and so the report and the GIF) is masked before anyone sees it, in two ways:
- the place where the secret appeared: what changed on screen while it was typed, for as long as
  those pixels stay as they were (a field that still shows it);
- anywhere else it is read again (the field scrolled or moved, the text echoed in a terminal or a
  title): every text line in which OCR finds a run of the secret's characters.
A secret drawn in an image, or so distorted that OCR does not read it, can still show; a masked
field (dots) needs nothing.
"""

from dataclasses import replace
from difflib import SequenceMatcher

import numpy as np

from agent.core.ocr import OCR, Box, changed_regions

LINE_HEIGHT_MAX = 80  # pixels: a change taller than this while typing is more than the typed line
MATCH_MIN = 4  # characters of the secret in a row (or half of it if longer) that mark a line as showing it
CONFUSABLE = str.maketrans("0oil|5s8", "OO1111SB")


def fold(text: str) -> str:
    return "".join(text.split()).upper().translate(CONFUSABLE)


class SecretMask:
    def __init__(self, ocr: OCR | None = None):
        self.typed: list[str] = []  # secrets typed so far, folded
        self.pinned: list[tuple[Box, np.ndarray]] = []  # where one appeared, with the pixels it showed
        self._ocr = ocr
        self._just_typed = False

    def secret_typed(self, value: str) -> None:
        """Called by the executor after it typed a secret's value."""
        if value and fold(value) not in self.typed:
            self.typed.append(fold(value))
        self._just_typed = True

    def hide(self, pixels: np.ndarray, before: np.ndarray | None = None) -> np.ndarray:
        """`pixels` (BGRA) with the secrets covered; `before` is the frame before the last action."""
        if not self.typed:
            return pixels
        gray = pixels[:, :, 1]
        if self._just_typed and before is not None and before.shape == pixels.shape:
            for box in changed_regions(before[:, :, 1], gray):
                if box[3] - box[1] <= LINE_HEIGHT_MAX:
                    self.pinned.append((box, gray[box[1]:box[3], box[0]:box[2]].copy()))
        self._just_typed = False
        boxes = [box for box, shown in self.pinned if np.array_equal(gray[box[1]:box[3], box[0]:box[2]], shown)]
        boxes += [line.box for line in self.ocr.read(pixels) if self._shows_secret(line.text)]
        if not boxes:
            return pixels
        masked = pixels.copy()
        for x0, y0, x1, y1 in boxes:
            masked[y0:y1, x0:x1] = (64, 64, 64, 255)
        return masked

    def _shows_secret(self, text: str) -> bool:
        text = fold(text)
        for secret in self.typed:
            run = SequenceMatcher(None, secret, text, autojunk=False).find_longest_match(0, len(secret), 0, len(text))
            if run.size >= min(len(secret), max(MATCH_MIN, len(secret) // 2)):
                return True
        return False

    @property
    def ocr(self) -> OCR:
        if self._ocr is None:
            self._ocr = OCR()
        return self._ocr


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
