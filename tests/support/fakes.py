"""Offline stand-ins: a screen that shows synthetic frames, a planner that does one action, then DONE()."""

import numpy as np

from agent.core.actions import Done
from agent.core.executors import RecordingComputer
from agent.core.geometry import Monitor
from agent.core.planner import Decision, Reply
from agent.core.screen import Frame


def synthetic_frame(width: int = 1280, height: int = 800, shade: int = 0, monitor: Monitor | None = None) -> Frame:
    pixels = np.full((height, width, 4), 255, np.uint8)
    pixels[: height // 4, : width // 4, :3] = shade  # a block whose shade tells frames apart
    return Frame(pixels, monitor or Monitor(0, 0, width, height))


class FakeScreen:
    """Shows a new synthetic frame after every action, so each step's screenshot differs."""

    display = ":fake"
    monitor_index = 1

    def __init__(self, width: int = 1280, height: int = 800, monitor: Monitor | None = None, still: bool = False):
        self.width, self.height, self.monitor, self.still = width, height, monitor, still
        self.frames = 0

    def capture(self) -> Frame:
        self.frames += 1
        shade = 0 if self.still else self.frames % 256  # a still screen never changes
        return synthetic_frame(self.width, self.height, shade=shade, monitor=self.monitor)

    def settle(self, before: Frame, timeout: float = 3.0) -> tuple[Frame, bool]:
        return self.capture(), True


class OneActionPlanner:
    """Does `action`, then says it is done."""

    def __init__(self, action, name: str = "one-action"):
        self.action, self.name, self.asked = action, name, 0

    def decide(self, task, frame, feedback=None):
        self.asked += 1
        action = self.action if self.asked == 1 else Done()
        return Decision(Reply(raw=action.call()), action, f"step {self.asked}", None, call_text=action.call())


class ScriptedScreen:
    """Shows frames[n] once the computer has done n things (the last one from then on)."""

    display = ":scripted"
    monitor_index = 1

    def __init__(self, computer: RecordingComputer, frames: list[Frame]):
        self.computer, self.frames = computer, frames

    def capture(self) -> Frame:
        return self.frames[min(len(self.computer.calls), len(self.frames) - 1)]

    def settle(self, before: Frame, timeout: float = 3.0) -> tuple[Frame, bool]:
        return self.capture(), True
