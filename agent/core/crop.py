"""Cutting a part of a frame around a point. Every crop is in image pixels (the frame's own), and says
where its top-left corner is on the frame, so a point in it maps back by adding `origin`."""

from dataclasses import dataclass

import numpy as np

from agent.core.screen import Frame


@dataclass(frozen=True, slots=True)
class Crop:
    pixels: np.ndarray  # the frame's pixels (BGRA), contiguous
    origin: tuple[int, int]  # its top-left corner on the frame, in image pixels

    def inside(self, point: tuple[float, float]) -> tuple[float, float]:
        """A point on the frame as a point in the crop."""
        return point[0] - self.origin[0], point[1] - self.origin[1]


def crop_around(frame: Frame, point: tuple[int, int], half_size: tuple[int, int], inward: bool = False) -> Crop:
    """The part of the frame within `half_size` (x, y) of an image point: cut short at the frame's edges, or,
    `inward`, moved inward there so that it keeps its whole size."""
    (x, y), (half_width, half_height) = point, half_size
    left, top = x - half_width, y - half_height
    if inward:
        left, top = min(frame.width - 2 * half_width, left), min(frame.height - 2 * half_height, top)
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = (x0, y0) if inward else (left, top)
    x1, y1 = min(frame.width, x1 + 2 * half_width), min(frame.height, y1 + 2 * half_height)
    return Crop(np.ascontiguousarray(frame.pixels[y0:y1, x0:x1]), (x0, y0))
