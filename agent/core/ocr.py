"""Reading the text on screen with rapidocr (its ONNX models ship in the wheel: nothing is downloaded).

Two caches keep repeated reads cheap: text detection runs again only where the screen changed
since the last read, and recognition runs only for text crops not seen before.
"""

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels, x1/y1 exclusive

FULL_READ_FRACTION = 0.4  # above this share of the screen changed, one full detection is cheaper
CONTEXT = 12  # pixels of context around a changed region, so text cut by its edge is read whole
CACHE_SIZE = 4000


@dataclass(frozen=True, slots=True)
class TextBox:
    text: str
    score: float
    box: Box

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def changed_regions(before: np.ndarray, after: np.ndarray) -> list[Box]:
    """Boxes around the pixels that differ between two grayscale frames, merged when close."""
    mask = cv2.dilate((cv2.absdiff(before, after) > 0).astype(np.uint8), np.ones((9, 9), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = [(x, y, x + w, y + h) for x, y, w, h in map(cv2.boundingRect, contours)]
    return merge_boxes(boxes)


def contains(outer: Box, box: Box) -> bool:
    return outer[0] <= box[0] and outer[1] <= box[1] and box[2] <= outer[2] and box[3] <= outer[3]


def clip(box: Box, to: Box) -> Box:
    return max(box[0], to[0]), max(box[1], to[1]), min(box[2], to[2]), min(box[3], to[3])


def merge_boxes(boxes: list[Box]) -> list[Box]:
    merged: list[Box] = []
    for box in sorted(boxes):
        for i, other in enumerate(merged):
            if overlaps(box, other):
                merged[i] = union(box, other)
                break
        else:
            merged.append(box)
    return merged if len(merged) == len(boxes) else merge_boxes(merged)


class OCR:
    def __init__(self):
        self._engine = None
        self._gray: np.ndarray | None = None
        self._boxes: list[Box] = []
        self._apart: list[Box] = []
        self._texts: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self.stats = {"full_reads": 0, "region_reads": 0, "recognised": 0, "cached": 0}

    @property
    def engine(self):
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            # 'max' keeps crops at their size (the default 'min' would blow small regions up to 736 px).
            # One crop per recognition batch: batches are padded to their widest crop, which makes a
            # crop's text depend on its batch-mates (a menu bar read as "FileEdit" two times in three).
            self._engine = RapidOCR(det_limit_type="max", det_limit_side_len=960, use_cls=False, rec_batch_num=1)
        return self._engine

    def read(self, image: np.ndarray, full: bool = False, apart: list[Box] = ()) -> list[TextBox]:
        """Every text line on a BGR or BGRA image, with its box; `full` detects afresh everywhere.
        Text inside an `apart` box (a popup menu, a dialog) is read on its own, never as one line
        with the text beside it."""
        bgr = image[:, :, :3]
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        height, width = gray.shape
        apart = list(apart)
        fresh = full or self._gray is None or self._gray.shape != gray.shape
        regions = None if fresh else merge_boxes(changed_regions(self._gray, gray)
                                                 + [box for box in apart if box not in self._apart])
        self._apart = apart
        if regions is None or sum((b[2] - b[0]) * (b[3] - b[1]) for b in regions) > FULL_READ_FRACTION * width * height:
            self._boxes = self._detect(bgr, (0, 0, width, height), apart)
            self.stats["full_reads"] += 1
        elif regions:
            kept = self._boxes
            for region in regions:
                region = (max(0, region[0] - CONTEXT), max(0, region[1] - CONTEXT),
                          min(width, region[2] + CONTEXT), min(height, region[3] + CONTEXT))
                for box in kept:  # a text line the change touched is read again whole
                    if overlaps(box, region):
                        region = union(region, box)
                kept = [box for box in kept if not overlaps(box, region)] + self._detect(bgr, region, apart)
                self.stats["region_reads"] += 1
            self._boxes = kept
        self._gray = gray
        return self._recognise(bgr, gray)

    def _detect(self, bgr: np.ndarray, region: Box, apart: list[Box] = ()) -> list[Box]:
        """Text line boxes in the region; the parts of it inside `apart` boxes are detected on their
        own (and a box inside one of those on its own again)."""
        inner = [clip(box, region) for box in apart if overlaps(box, region) and not contains(box, region)]
        if not inner:
            return self._detect_in(bgr, region)
        masked = bgr.copy()  # blank the apart boxes, so no line outside runs into them
        for x0, y0, x1, y1 in inner:
            masked[y0:y1, x0:x1] = np.median(bgr[y0:y1, x0:x1].reshape(-1, 3), axis=0)
        boxes = self._detect_in(masked, region)
        for box in inner:
            if not any(contains(other, box) and other != box for other in inner):
                boxes += self._detect(bgr, box, apart)
        return boxes

    def _detect_in(self, bgr: np.ndarray, region: Box) -> list[Box]:
        x0, y0, x1, y1 = region
        if x1 - x0 < 8 or y1 - y0 < 8:
            return []
        crop = bgr[y0:y1, x0:x1]
        # pad to multiples of 32 so the detector does not stretch the crop to that size
        pad_y, pad_x = -(y1 - y0) % 32, -(x1 - x0) % 32
        crop = cv2.copyMakeBorder(crop, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        found, _ = self.engine.text_det(crop)
        boxes = []
        for points in [] if found is None else found:
            xs, ys = points[:, 0], points[:, 1]
            box = (int(xs.min()) + x0, int(ys.min()) + y0, int(np.ceil(xs.max())) + x0, int(np.ceil(ys.max())) + y0)
            if box[2] - box[0] >= 4 and box[3] - box[1] >= 4:
                boxes.append(box)
        return boxes

    def _recognise(self, bgr: np.ndarray, gray: np.ndarray) -> list[TextBox]:
        keys = [self._key(gray, box) for box in self._boxes]
        missing = [(key, box) for key, box in zip(keys, self._boxes) if key not in self._texts]
        if missing:
            crops = [np.ascontiguousarray(bgr[b[1]:b[3], b[0]:b[2]]) for _, b in missing]
            results, _ = self.engine.text_rec(crops)
            for (key, _), (text, score) in zip(missing, results):
                self._texts[key] = (text, float(score))
        self.stats["recognised"] += len(missing)
        self.stats["cached"] += len(keys) - len(missing)
        texts = []
        for key, box in zip(keys, self._boxes):
            self._texts.move_to_end(key)
            text, score = self._texts[key]
            if text.strip() and score >= 0.5:
                texts.append(TextBox(text.strip(), score, box))
        while len(self._texts) > CACHE_SIZE:
            self._texts.popitem(last=False)
        return sorted(texts, key=lambda t: (t.box[1], t.box[0]))

    @staticmethod
    def _key(gray: np.ndarray, box: Box) -> bytes:
        crop = gray[box[1]:box[3], box[0]:box[2]]
        return hashlib.blake2b(crop.tobytes(), digest_size=16, key=bytes(str(crop.shape), "ascii")).digest()
