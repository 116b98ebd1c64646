"""Reading the text on screen with rapidocr's ONNX models (they ship in its wheel: nothing is downloaded).

`OCR.read` gives every text line of an image; `OCR.lines` gives them as far as they are asked for:
lines are detected a band of rows (or a rectangle) at a time, and each line's text is recognised
when first needed. Both are cached: detection runs again only where the screen changed since the
last image, and a text is remembered by its crop's hash, across images and across OCR instances,
which share one engine per process. Detecting a band at a time also bounds the detector's memory,
whatever the screen's size.
"""

import ctypes
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels, x1/y1 exclusive

FULL_READ_FRACTION = 0.4  # above this share of the screen changed, one full detection is cheaper
CONTEXT = 12  # pixels of context around a changed region, so text cut by its edge is read whole
CACHE_SIZE = 4000
# The detector's working memory grows with its input (≈ 0.4 MB a row at 1920 px: 550 MB for a whole
# 1080p screen). It reads a band of BAND rows at a time, with MARGIN rows of the image either side
# for context; a line belongs to the band its centre is in, so lines up to 2 × MARGIN tall are read
# whole. Narrow bands also let a search detect little more than the rows it needs.
BAND = 128
MARGIN = 32
MIN_SCORE = 0.5
SMALL = 1 << 15  # pixels: an image up to this size (a line's crop) is detected on one thread, and the
# little memory that frees is not handed back (its pages would be faulted in again by the next run)


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


class Engine:
    """rapidocr's detector and recogniser, run as rapidocr runs them (not its angle classifier:
    screen text is upright), and the texts recognised so far by crop hash. One per process: see
    `engine()`."""

    def __init__(self):
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess
        from rapidocr_onnxruntime.ch_ppocr_rec.utils import CTCLabelDecode
        from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
        from rapidocr_onnxruntime.utils import read_yaml, update_model_path

        config = update_model_path(read_yaml(DEFAULT_CFG_PATH))
        det, rec = config["Det"], config["Rec"]
        self._models = det["model_path"], rec["model_path"]
        self._detector = _session(det["model_path"])
        self._lines_of = DBPostProcess(det["thresh"], det["box_thresh"], det["max_candidates"], det["unclip_ratio"],
                                       det["score_mode"], det["use_dilation"])
        self._recogniser = _session(rec["model_path"])
        self._decode = CTCLabelDecode(self._recogniser.get_modelmeta().custom_metadata_map["character"].splitlines())
        _, self._rec_height, self._rec_width = rec["rec_img_shape"]  # 48 px tall, at least 320 wide
        self._texts: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    # The one-thread sessions are made when first used (≈ 0.1 s and 16 MB together): a run that masks
    # no secret never glances, and one that reads only whole screens never detects a small crop.
    @cached_property
    def _detector_alone(self):
        return _session(self._models[0], threads=1)

    @cached_property
    def _recogniser_alone(self):  # for glances (see glance)
        return _session(self._models[1], threads=1)

    def detect(self, bgr: np.ndarray) -> list[Box]:
        """Text line boxes on a BGR image, detected at its own size."""
        height, width = bgr.shape[:2]
        # pad to multiples of 32 so the detector does not stretch the image to that size
        padded = cv2.copyMakeBorder(bgr, 0, -height % 32, 0, -width % 32, cv2.BORDER_REPLICATE)
        tensor = padded.astype(np.float32)
        tensor *= 2 / 255  # rapidocr's (x / 255 - 0.5) / 0.5, in place and in float32
        tensor -= 1
        tensor = np.ascontiguousarray(tensor.transpose(2, 0, 1)[np.newaxis])
        # a small image is detected on one thread: two spend more time handing its many small steps
        # over than working (a line's crop: 5 ms alone, 20 ms on two, with other work on the machine)
        detector = self._detector_alone if height * width <= SMALL else self._detector
        probabilities = detector.run(None, {detector.get_inputs()[0].name: tensor})[0]
        del tensor
        found, _ = self._lines_of(probabilities, padded.shape[:2])
        del probabilities
        if height * width > SMALL:
            _release_freed_memory()
        boxes = []
        for points in found:
            xs, ys = points[:, 0], points[:, 1]
            box = (int(xs.min()), int(ys.min()), min(width, int(np.ceil(xs.max()))),
                   min(height, int(np.ceil(ys.max()))))
            if box[2] - box[0] >= 4 and box[3] - box[1] >= 4:
                boxes.append(box)
        return boxes

    def _recognised(self, crop: np.ndarray, height: int | None = None) -> tuple[str, float]:
        """One crop's text and its score, as rapidocr's recogniser reads a crop alone: scaled to 48 px
        tall and padded to 320 px wide or more. (A batch is padded to its widest crop, which makes a
        crop's text depend on its batch-mates: a menu bar read as "FileEdit" two times in three.)
        At another `height`, padded only to its own width: a glance, quicker and rougher."""
        rows, width = crop.shape[:2]
        ratio = width / rows
        height = height or self._rec_height
        least = self._rec_width if height == self._rec_height else 0
        padded_width = max(1, int(height * max(least / height, ratio)))
        resized_width = min(padded_width, int(np.ceil(height * ratio)))
        resized = cv2.resize(crop, (resized_width, height)).astype(np.float32).transpose(2, 0, 1) / 255
        tensor = np.zeros((1, 3, height, padded_width), np.float32)
        tensor[0, :, :, :resized_width] = (resized - 0.5) / 0.5
        recogniser = self._recogniser if height == self._rec_height else self._recogniser_alone
        scores = recogniser.run(None, {recogniser.get_inputs()[0].name: tensor})[0]
        text, score = self._decode(scores)[0]
        return text, float(score)

    def glance(self, crop: np.ndarray, height: int) -> tuple[str, float]:
        """The crop's text and score read at `height` pixels tall, its own width (not remembered), on
        one thread: two were slower with the machine busy (a 36x188 line 9.6 against 12.6 ms, a 36x1200
        one 69 against 80 ms, load average 2.5), as it is while an app draws."""
        return self._recognised(crop, height)

    def known(self, key: bytes) -> tuple[str, float] | None:
        with self._lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]
        return None

    def recognise(self, key: bytes, crop: np.ndarray) -> tuple[str, float]:
        text, score = self._recognised(crop)
        with self._lock:
            self._texts[key] = text, score
            while len(self._texts) > CACHE_SIZE:
                self._texts.popitem(last=False)
        return text, score


def _session(model: str, threads: int = 0):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False  # freed tensors go back to malloc (and, trimmed, to the system)
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads  # 0: one a core
    # threads that wait for work sleep instead of spinning: on a busy machine spinning threads fight
    # over the cores (a line's recognition took 73 ms spinning, 35 ms not, with other OCR runs about)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


_engine: Engine | None = None
_engine_lock = threading.Lock()


def engine() -> Engine:
    """The process's one engine, loaded when first needed (≈ 0.3 s, ≈ 60 MB)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine


def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_trim = _malloc_trim()


def _release_freed_memory() -> None:
    """Hand the detector's freed working memory back to the system: glibc keeps it otherwise, and
    what it keeps adds to later peaks (detecting a busy 1080p screen: 245-270 MB at the peak, not 270-300)."""
    if _trim is not None:
        _trim(0)


def crop_key(gray: np.ndarray, box: Box) -> bytes:
    crop = gray[box[1]:box[3], box[0]:box[2]]
    return hashlib.blake2b(crop.tobytes(), digest_size=16, key=bytes(str(crop.shape), "ascii")).digest()


def centre_in(box: Box, area: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return area[0] <= cx < area[2] and area[1] <= cy < area[3]


class Lines:
    """The text lines of one image, as far as they are known: lines are detected a band of rows (or
    a rectangle) at a time when asked for, and a line's text is recognised when first asked for, and
    never twice (the engine remembers it by its crop). `read()` detects and reads them all."""

    def __init__(self, ocr: "OCR", bgr: np.ndarray, gray: np.ndarray):
        self._ocr, self._bgr, self._gray = ocr, bgr, gray
        self._read: dict[Box, tuple[str, float]] = {}
        self._bands_detected: set[int] = set()  # on this image, not carried over from an earlier one

    @property
    def boxes(self) -> list[Box]:
        """The lines detected so far, in reading order (of the OCR's latest image: these lines')."""
        return sorted(self._ocr._boxes, key=lambda b: (b[1], b[0]))

    @property
    def size(self) -> tuple[int, int]:
        return self._gray.shape[1], self._gray.shape[0]

    def bands_left(self, within: Box | None = None) -> list[Box]:
        """The bands (whole rows of the image) whose lines are not all detected yet; a line
        belongs to the band its centre is in."""
        width, height = self.size
        bands = [(0, top, width, min(top + BAND, height)) for top in range(0, height, BAND)
                 if top // BAND not in self._ocr._bands]
        return [band for band in bands if within is None or overlaps(band, within)]

    def detect_band(self, band: Box) -> None:
        """Detect the lines of a band from `bands_left` now."""
        self._ocr._detect_band(self._gray, self._bgr, band)
        self._bands_detected.add(band[1] // BAND)

    def detected_afresh(self, within: Box | None = None) -> bool:
        """Whether every line (in `within`) was detected on this image, none carried over from an
        earlier one: then detecting afresh finds nothing new."""
        width, height = self.size
        area = within or (0, 0, width, height)
        return all(band in self._bands_detected for band in range(area[1] // BAND, (area[3] - 1) // BAND + 1))

    def detect_rectangle(self, area: Box) -> None:
        """Detect the lines whose centre is in this rectangle now (those of bands not yet detected)."""
        self._ocr._detect_rectangle(self._gray, self._bgr, area)

    def detect_all(self, within: Box | None = None) -> None:
        for band in self.bands_left(within):
            self.detect_band(band)

    def is_read(self, box: Box) -> bool:
        return box in self._read

    def read(self, boxes: list[Box] | None = None) -> list[TextBox]:
        """The texts of these lines (every line, all detected first, by default), recognising those
        not read before; lines read as nothing, or unsure, are left out."""
        if boxes is None:
            self.detect_all()
        wanted = self.boxes if boxes is None else boxes
        stats = self._ocr.stats
        for box in wanted:
            if box not in self._read:
                key = crop_key(self._gray, box)
                found = engine().known(key)
                stats["cached" if found else "recognised"] += 1
                self._read[box] = found or engine().recognise(
                    key, np.ascontiguousarray(self._bgr[box[1]:box[3], box[0]:box[2]]))
        return self._texts(set(wanted))

    def _texts(self, boxes) -> list[TextBox]:
        texts = []
        for box in self.boxes:
            if box in boxes and box in self._read:
                text, score = self._read[box]
                if text.strip() and score >= MIN_SCORE:
                    texts.append(TextBox(text.strip(), score, box))
        return texts


class KnownLines(Lines):
    """Lines read elsewhere, given with their texts (for tests and for texts from elsewhere)."""

    def __init__(self, texts: list[TextBox]):
        self._texts_given = texts
        self._read = {t.box: (t.text, t.score) for t in texts}

    @property
    def boxes(self) -> list[Box]:
        return [t.box for t in self._texts_given]

    def bands_left(self, within: Box | None = None) -> list[Box]:
        return []

    def detected_afresh(self, within: Box | None = None) -> bool:
        return True

    def detect_rectangle(self, area: Box) -> None:
        pass

    def detect_all(self, within: Box | None = None) -> None:
        pass

    def read(self, boxes: list[Box] | None = None) -> list[TextBox]:
        return self._texts(set(self.boxes if boxes is None else boxes))


class OCR:
    """Reads one screen after another. It keeps the last image's lines, and which parts of it they
    cover (bands of rows, rectangles): on the next image, only what changed in those parts is
    detected again, and the rest when it is asked for."""

    def __init__(self):
        self._gray: np.ndarray | None = None
        self._boxes: list[Box] = []  # each line's centre is in a band of _bands or in one of _areas
        self._bands: set[int] = set()  # bands (rows BAND * n onwards) whose lines are all in _boxes
        self._areas: list[Box] = []  # rectangles whose lines are all in _boxes
        self._apart: list[Box] = []
        self.stats = {"full_reads": 0, "region_reads": 0, "band_reads": 0, "area_reads": 0,
                      "recognised": 0, "cached": 0}

    def read(self, image: np.ndarray, full: bool = False, apart: Sequence[Box] = ()) -> list[TextBox]:
        """Every text line on a BGR or BGRA image, with its box; `full` detects afresh everywhere.
        Text inside an `apart` box (a popup menu, a dialog) is read on its own, never as one line
        with the text beside it."""
        return self.lines(image, full, apart).read()

    def lines(self, image: np.ndarray, full: bool = False, apart: Sequence[Box] = ()) -> Lines:
        """The text lines on the image, as `read` finds them, detected and recognised only as far
        as they are asked for."""
        bgr = image[:, :, :3]
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        height, width = gray.shape
        apart = list(apart)
        fresh = full or self._gray is None or self._gray.shape != gray.shape
        regions = None if fresh or self._gray is None else merge_boxes(changed_regions(self._gray, gray)
                                                 + [box for box in apart if box not in self._apart])
        self._apart = apart
        if regions is None or sum((b[2] - b[0]) * (b[3] - b[1]) for b in regions) > FULL_READ_FRACTION * width * height:
            self._boxes, self._bands, self._areas = [], set(), []
            self.stats["full_reads"] += 1
        elif regions:
            kept = self._boxes
            for region in regions:
                region = (max(0, region[0] - CONTEXT), max(0, region[1] - CONTEXT),
                          min(width, region[2] + CONTEXT), min(height, region[3] + CONTEXT))
                if not self._covers_any(region):
                    continue  # nothing was detected there yet: it is, when it is asked for
                for box in kept:  # a text line the change touched is read again whole
                    if overlaps(box, region):
                        region = union(region, box)
                kept = [box for box in kept if not overlaps(box, region)] + [
                    box for box in self._detect(bgr, region, apart) if self._covered(box)]
                self.stats["region_reads"] += 1
            self._boxes = kept
        self._gray = gray
        return Lines(self, bgr, gray)

    def _covered(self, box: Box) -> bool:
        cy = (box[1] + box[3]) / 2
        return int(cy // BAND) in self._bands or any(centre_in(box, area) for area in self._areas)

    def _covers_any(self, region: Box) -> bool:
        return (any(overlaps(region, area) for area in self._areas)
                or any(b in self._bands for b in range(region[1] // BAND, (region[3] - 1) // BAND + 1)))

    def _detect_band(self, gray: np.ndarray, bgr: np.ndarray, band: Box) -> None:
        if gray is not self._gray:
            raise ValueError("these lines are of an earlier image")
        height, width = gray.shape
        if band[1] // BAND in self._bands:
            return
        found = self._detect(bgr, (0, max(0, band[1] - MARGIN), width, min(height, band[3] + MARGIN)), self._apart)
        self._boxes = [box for box in self._boxes if not centre_in(box, band)] + [
            box for box in found if centre_in(box, band)]
        self._bands.add(band[1] // BAND)
        self.stats["band_reads"] += 1

    def _detect_rectangle(self, gray: np.ndarray, bgr: np.ndarray, area: Box) -> None:
        if gray is not self._gray:
            raise ValueError("these lines are of an earlier image")
        height, width = gray.shape
        x0, y0, x1, y1 = area
        if all(b in self._bands for b in range(y0 // BAND, (y1 - 1) // BAND + 1)) or any(
                contains(known, area) for known in self._areas):
            return
        found = self._detect(bgr, (max(0, x0 - CONTEXT), max(0, y0 - CONTEXT), min(width, x1 + CONTEXT),
                                   min(height, y1 + CONTEXT)), self._apart)

        def new(box: Box) -> bool:  # a band detected already has the say on the lines of its rows
            return centre_in(box, area) and int((box[1] + box[3]) / 2 // BAND) not in self._bands
        self._boxes = [box for box in self._boxes if not new(box)] + [box for box in found if new(box)]
        self._areas.append(area)
        self.stats["area_reads"] += 1

    def _detect(self, bgr: np.ndarray, region: Box, apart: Sequence[Box] = ()) -> list[Box]:
        """Text line boxes in the region; the parts of it inside `apart` boxes are detected on their
        own (and a box inside one of those on its own again)."""
        inner = [clip(box, region) for box in apart if overlaps(box, region) and not contains(box, region)]
        if not inner:
            return detect_lines(bgr, region)
        masked = bgr.copy()  # blank the apart boxes, so no line outside runs into them
        for x0, y0, x1, y1 in inner:
            masked[y0:y1, x0:x1] = np.median(bgr[y0:y1, x0:x1].reshape(-1, 3), axis=0)
        boxes = detect_lines(masked, region)
        for box in inner:
            if not any(contains(other, box) and other != box for other in inner):
                boxes += self._detect(bgr, box, apart)
        return boxes


def detect_lines(bgr: np.ndarray, region: Box) -> list[Box]:
    """The region's text lines, detected a band of rows at a time (see BAND)."""
    x0, y0, x1, y1 = region
    if x1 - x0 < 8 or y1 - y0 < 8:
        return []
    bands = [(y0, y1)] if y1 - y0 <= BAND + 2 * MARGIN else [(y, min(y + BAND, y1)) for y in range(y0, y1, BAND)]
    boxes = []
    for top, bottom in bands:
        above, below = max(y0, top - MARGIN), min(y1, bottom + MARGIN)
        for bx0, by0, bx1, by1 in engine().detect(bgr[above:below, x0:x1]):
            if top <= above + (by0 + by1) / 2 < bottom:  # its centre is in this band, not in the next
                boxes.append((bx0 + x0, by0 + above, bx1 + x0, by1 + above))
    return boxes
