"""Every conversion between model space, image pixels and screen pixels.

Model space is per-mille (0-999) of the image the model saw. A per-mille value m names the
cell [m, m+1) / 1000 of the image; we aim at the centre of that cell. A monitor is a rectangle
of the virtual screen in the input layer's coordinates; `scale` is image pixels captured per
screen pixel (1 on X11, 2 on a HiDPI display whose input uses logical points).
"""

import math
from dataclasses import dataclass

import numpy as np

MODEL_SPAN = 1000

Point = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Monitor:
    left: int
    top: int
    width: int
    height: int
    scale: float = 1.0

    def contains(self, point: Point) -> bool:
        x, y = point
        return self.left <= x < self.left + self.width and self.top <= y < self.top + self.height


@dataclass(frozen=True, slots=True)
class Geometry:
    """Where an image the model saw sits on the screen."""

    monitor: Monitor
    image_width: int
    image_height: int

    def model_to_image(self, point: tuple[float, float]) -> tuple[float, float]:
        x, y = point
        return (x + 0.5) * self.image_width / MODEL_SPAN, (y + 0.5) * self.image_height / MODEL_SPAN

    def image_to_model(self, point: tuple[float, float]) -> Point:
        x, y = point
        return (
            _clamp(math.floor(x * MODEL_SPAN / self.image_width), MODEL_SPAN - 1),
            _clamp(math.floor(y * MODEL_SPAN / self.image_height), MODEL_SPAN - 1),
        )

    def image_to_screen(self, point: tuple[float, float]) -> tuple[float, float]:
        x, y = point
        m = self.monitor
        return m.left + x * m.width / self.image_width, m.top + y * m.height / self.image_height

    def screen_to_image(self, point: tuple[float, float]) -> tuple[float, float]:
        x, y = point
        m = self.monitor
        return (x - m.left) * self.image_width / m.width, (y - m.top) * self.image_height / m.height

    def model_to_screen(self, point: Point) -> Point:
        """The screen pixel a model point lands on; always inside the monitor."""
        x, y = self.image_to_screen(self.model_to_image(point))
        return math.floor(x), math.floor(y)

    def screen_to_model(self, point: Point) -> Point:
        """The model point of a screen pixel (taken at the pixel's centre)."""
        if not self.monitor.contains(point):
            raise ValueError(f"screen point {point} is outside the monitor {self.monitor}")
        x, y = point
        return self.image_to_model(self.screen_to_image((x + 0.5, y + 0.5)))


def _clamp(value: int, high: int) -> int:
    return max(0, min(high, value))


# The Glm4v image processor: sides rounded to multiples of 28, total pixels kept within bounds.
PATCH = 28
MAX_PIXELS = 9_633_792
MIN_PIXELS = 12_544


def smart_resize(width: int, height: int) -> tuple[int, int]:
    """The size the server resizes an image to before turning it into tokens."""
    w = max(PATCH, round(width / PATCH) * PATCH)
    h = max(PATCH, round(height / PATCH) * PATCH)
    if 2 * w * h > MAX_PIXELS:
        beta = math.sqrt(2 * width * height / MAX_PIXELS)
        w = max(PATCH, math.floor(width / beta / PATCH) * PATCH)
        h = max(PATCH, math.floor(height / beta / PATCH) * PATCH)
    elif 2 * w * h < MIN_PIXELS:
        beta = math.sqrt(MIN_PIXELS / (2 * width * height))
        w = math.ceil(width * beta / PATCH) * PATCH
        h = math.ceil(height * beta / PATCH) * PATCH
    return w, h


def image_tokens(width: int, height: int) -> int:
    w, h = smart_resize(width, height)
    return (w // PATCH) * (h // PATCH)


def distance_to_box(point: tuple[float, float], box) -> float:
    """How far a point is from a box (x0, y0, x1, y1): 0 inside it."""
    x, y = point
    dx = max(box[0] - x, 0, x - box[2])
    dy = max(box[1] - y, 0, y - box[3])
    return float(np.hypot(dx, dy))
