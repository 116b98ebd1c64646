"""Screen capture with mss, frames that know their geometry, and waiting for the screen to settle."""

import os
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from agent.core.errors import DisplayError
from agent.core.geometry import Geometry, Monitor
from agent.core.png import encode_png


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One screenshot: BGRA pixels and the monitor they show."""

    pixels: np.ndarray
    monitor: Monitor
    captured_at: float = field(default_factory=time.monotonic)
    capture_seconds: float = 0.0
    _png_cache: dict = field(default_factory=dict, repr=False)

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.monitor, self.width, self.height)

    def same_as(self, other: "Frame") -> bool:
        return self.pixels.shape == other.pixels.shape and np.array_equal(self.pixels, other.pixels)

    def png(self, scale: float = 1.0) -> bytes:
        """PNG bytes, optionally shrunk (history images go at half size); encoded once per scale."""
        if scale in self._png_cache:
            return self._png_cache[scale]
        image = self.pixels  # resized as BGRA: resizing the strided view pixels[:, :, :3] copies it first
        if scale != 1.0:
            size = (max(1, round(self.width * scale)), max(1, round(self.height * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        self._png_cache[scale] = encode_png(image)
        return self._png_cache[scale]

    @classmethod
    def from_png(cls, data: bytes, monitor: Monitor | None = None) -> "Frame":
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise DisplayError("the screenshot file is not a readable PNG")
        pixels = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
        height, width = pixels.shape[:2]
        return cls(pixels, monitor or Monitor(0, 0, width, height))


class Screen:
    """Captures one monitor of one X display."""

    def __init__(self, display: str | None = None, monitor: int = 1):
        self.display = display or os.environ.get("DISPLAY")
        if not self.display:
            raise DisplayError("no display: set $DISPLAY or pass --display (start one with `gui-agent sandbox`)")
        import mss

        try:
            self._mss = mss.MSS(display=self.display)
            monitors = self._mss.monitors
        except Exception as error:
            raise DisplayError(f"cannot open display {self.display}: {error}; is the X server running, and $XAUTHORITY right?") from None
        if not 1 <= monitor < len(monitors):
            raise DisplayError(f"display {self.display} has no monitor {monitor}; it has {len(monitors) - 1}")
        self._region = monitors[monitor]
        self.monitor_index = monitor

    def capture(self) -> Frame:
        start = time.perf_counter()
        try:
            shot = self._mss.grab(self._region)
        except Exception as error:
            raise DisplayError(f"capture from display {self.display} failed: {error}") from None
        pixels = np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)
        r = self._region
        monitor = Monitor(r["left"], r["top"], r["width"], r["height"], scale=shot.width / r["width"])
        return Frame(pixels, monitor, capture_seconds=time.perf_counter() - start)

    def settle(self, before: Frame, timeout: float = 3.0, poll: float = 0.03, quiet: float = 0.25) -> tuple[Frame, bool]:
        """The first frame that equals the one before it, once the screen changed from `before`
        (or stayed still for `quiet` seconds, for actions with no visible effect).
        Returns the frame and whether the screen settled before the timeout."""
        start = time.monotonic()
        previous = before
        while True:
            frame = self.capture()
            elapsed = frame.captured_at - start
            if frame.same_as(previous) and (elapsed >= quiet or not frame.same_as(before)):
                return frame, True
            if elapsed >= timeout:
                return frame, False
            previous = frame
            time.sleep(poll)

    def close(self) -> None:
        self._mss.close()
