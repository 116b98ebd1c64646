"""Replaying an episode's recorded replies through the same parser, so a run is reproduced without
a model; each step only on a screen that still looks as it did when the step was recorded.

"Looks as it did": a pixel has changed when its gray level is more than CHANGE_LEVEL away from
every pixel within SHIFT_TOLERANCE of the same place in the other screenshot, either way round;
changed pixels less than PLACE_GAP apart are one place; no place may hold more than
MAX_CHANGED_IN_ONE_PLACE changed pixels. Measured in the sandbox (1366x768, tests/episodes/):
the form and editor replayed as recorded change at most 27 pixels in one place (a caret); the
form moved by 1 px 0, by 3 px 2442, by 10 px 37003, by 100 px 203419, resized 95811. On its
screenshots: a clock's minute 9-34, text drawn a pixel over 0, a field left empty where the run
typed "Zoë Ångström" 393, a check box left unticked 144. So the check also sees an earlier action
that did not have its recorded effect, and at the last step (DONE) whether the run ended as
recorded. Keystrokes have no point and go to whichever window has the focus, which only the
screen as a whole shows: every step is checked on the whole screen.

Two allowances keep a faithful replay going: a screen that does not match yet is captured again
for up to SETTLE_SECONDS (an app still drawing), and away from the step's points a place may look
as on the next recorded screenshot where the recording caught it mid-change (see difference).
"""

import time
from dataclasses import dataclass

import cv2
import numpy as np

from agent.core.defaults import PlannerKind
from agent.core.episode import Episode
from agent.core.errors import AgentError
from agent.core.planner import Decision, Reply
from agent.core.screen import Frame, Screen
from agent.planners import dialects

CHANGE_LEVEL = 64  # gray levels
SHIFT_TOLERANCE = 1  # pixels
PLACE_GAP = 8  # pixels
MAX_CHANGED_IN_ONE_PLACE = 100  # pixels
AROUND = (200, 100)  # pixels around a point that must look as on the step's own screenshot
SETTLE_SECONDS = 2.0  # how long a screen that does not look as recorded (yet) is looked at again
RETRY_SECONDS = 0.1


class ScreenDiffers(AgentError):
    """The screen no longer looks as it did when the step was recorded; the replay stops rather than act blind."""


@dataclass(frozen=True, slots=True)
class Change:
    pixels: int  # changed pixels in the place with the most
    box: tuple[int, int, int, int] | None  # that place: left, top, right, bottom, image pixels
    places: int


def changed_pixels(now: np.ndarray, then: np.ndarray) -> np.ndarray:
    """Where two grayscale images of one size differ beyond a pixel's shift and CHANGE_LEVEL."""
    kernel = np.ones((2 * SHIFT_TOLERANCE + 1,) * 2, np.uint8)

    def beyond(a, b):  # a pixel of `a` outside the range of `b`'s pixels around it
        low = cv2.erode(b, kernel).astype(np.int16) - CHANGE_LEVEL
        high = cv2.dilate(b, kernel).astype(np.int16) + CHANGE_LEVEL
        return (a < low) | (a > high)

    return beyond(now, then) | beyond(then, now)


def largest_place(changed: np.ndarray) -> Change:
    """The place with the most changed pixels, in a mask of them."""
    if not changed.any():
        return Change(0, None, 0)
    joined = cv2.dilate(changed.astype(np.uint8), np.ones((PLACE_GAP + 1,) * 2, np.uint8))
    count, places = cv2.connectedComponents(joined)
    sizes = np.bincount(places[changed], minlength=count)
    largest = int(np.argmax(sizes[1:])) + 1
    ys, xs = np.nonzero(changed & (places == largest))
    return Change(int(sizes[largest]), (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
                  int(np.count_nonzero(sizes[1:])))


def area_around(point: tuple[float, float], width: int, height: int) -> tuple[int, int, int, int]:
    x, y = round(point[0]), round(point[1])
    w, h = AROUND
    return max(0, x - w // 2), max(0, y - h // 2), min(width, x + w // 2), min(height, y + h // 2)


def near(point: tuple[float, float], box: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = box
    return x0 - PLACE_GAP <= point[0] <= x1 + PLACE_GAP and y0 - PLACE_GAP <= point[1] <= y1 + PLACE_GAP


def gray(frame: Frame) -> np.ndarray:
    return cv2.cvtColor(frame.pixels[:, :, :3], cv2.COLOR_BGR2GRAY)


def difference(now: Frame, then: Frame, points: dict[str, tuple[int, int]], before: Frame | None = None,
               after: Frame | None = None) -> str | None:
    """What no longer looks on `now` as on `then`, the recorded screenshot of a step that acts on
    `points` (model space), if anything. Away from the points, a place may look as on `after`, the
    next recorded screenshot, where it looks neither as on `then` nor as on `before`, the previous
    one: the recording caught it mid-change (text still being drawn), and the change went on."""
    if (now.width, now.height) != (then.width, then.height):
        return f"the screen is {now.width}x{now.height}, it was {then.width}x{then.height}"
    a = gray(now)
    changed = changed_pixels(a, gray(then))
    if before is not None and after is not None and before.pixels.shape == after.pixels.shape == now.pixels.shape:
        went_on = ~changed_pixels(a, gray(after)) & changed_pixels(a, gray(before))
        for point in points.values():
            x0, y0, x1, y1 = area_around(now.geometry.model_to_image(point), now.width, now.height)
            went_on[y0:y1, x0:x1] = False
        changed &= ~went_on
    change = largest_place(changed)
    if change.box is None or change.pixels <= MAX_CHANGED_IN_ONE_PLACE:
        return None
    x0, y0, x1, y1 = change.box
    left, top = (round(v) for v in now.geometry.image_to_screen((x0, y0)))
    right, bottom = (round(v) for v in now.geometry.image_to_screen((x1, y1)))
    found = f"{change.pixels} pixels changed in the place ({left}, {top})-({right}, {bottom})"
    inside = [name for name, point in points.items() if near(now.geometry.model_to_image(point), change.box)]
    if inside:
        found += f" around the {' and '.join(inside)} it acts on"
    if change.places > 1:
        found += f", and more in {change.places - 1} other place{'s' * (change.places > 2)}"
    return found + f" (at most {MAX_CHANGED_IN_ONE_PLACE} in one place)"


class ReplayPlanner:
    """Serves the raw replies of a recorded episode in order, through the same parser, each only
    on a screen that looks like the step's recorded screenshot (with `check_all` False, as for a
    dry run that changes nothing, only the first step's). A `screen` to capture again is looked
    at for up to SETTLE_SECONDS more while it does not, in case an app is still drawing."""

    name: str = PlannerKind.REPLAY

    def __init__(self, episode: Episode, check_all: bool = True, screen: Screen | None = None):
        self.episode, self.check_all, self.screen = episode, check_all, screen
        self.replied = [position for position, step in enumerate(episode.steps) if "raw" in step]
        self.served = 0
        self.read = (dialects.of_episode(episode) or dialects.dialect("text")).read  # the embedded planner writes text

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        if self.served >= len(self.replied):
            raise AgentError(f"the episode has no more recorded replies ({self.served} served) and never said DONE()")
        position = self.replied[self.served]
        step = self.episode.steps[position]
        self.served += 1
        decision = self.read(Reply(step["raw"], step.get("reasoning") or ""))
        if snap := step.get("snap"):  # the run clicked where the grounding check moved the model's point
            decision.snap = snap
            decision.action = decision.action.model_copy(update={"point": tuple(snap["point"])})
        if self.check_all or self.served == 1:
            self.check(position, decision, frame)
        return decision

    def check(self, position: int, decision: Decision, frame: Frame) -> None:
        """Raises ScreenDiffers unless `frame` (or a capture soon after) looks like the screenshot
        recorded for the step at `position`. Further actions of the same reply act on screens that
        were not recorded; the next step's check sees what they did."""
        step = self.episode.steps[position]
        renumbered = f" (recorded step {step['index']})" if step.get("index") != self.served else ""
        doing = f"step {self.served}{renumbered}, {decision.action.call()}"
        then = self.screenshot(position, frame)
        if then is None:
            raise ScreenDiffers(f"{doing}: its recorded screenshot {step.get('screenshot')} is missing or unreadable, "
                                "so the screen cannot be checked; nothing was done (replay with --reground to find "
                                "the targets on the screen instead)")
        before, after = self.screenshot(position - 1, frame), self.screenshot(position + 1, frame)
        deadline = time.monotonic() + (SETTLE_SECONDS if self.screen else 0.0)
        while found := difference(frame, then, decision.action.points(), before, after):
            if time.monotonic() >= deadline or self.screen is None:
                outcome = "the run's end is not confirmed" if decision.action.ends_run else "nothing was done"
                raise ScreenDiffers(f"{doing}: the screen no longer looks as recorded: {found}; {outcome} "
                                    "(replay with --reground to find the targets again)")
            time.sleep(RETRY_SECONDS)
            frame = self.screen.capture()

    def screenshot(self, position: int, like: Frame) -> Frame | None:
        """The recorded screenshot of the step at `position`, if there is that step and it is readable."""
        if not 0 <= position < len(self.episode.steps):
            return None
        try:
            return Frame.from_png(self.episode.screenshot(self.episode.steps[position]), like.monitor)
        except AgentError:
            return None
