"""Replaying a demonstration, or an agent's episode, on the screen as it is now.

Before every pointer action the target is found again, the first of these that is confident:
  1. the recorded grayscale crop, by template matching at a few scales;
  2. the recorded text, by OCR;
  3. the point's offset inside the same window (found by its name), when the place there still
     looks like the crop, if less than a search by the crop would accept.
Equally good crop matches in separate places (two empty text fields) are told apart by a larger
cut of the recorded screenshot around the point, then by nearness to where the target is
expected: its offset in its window when the window is there, else where it was recorded. The
replay waits for the screen to settle and for the target to appear, not the recorded timing; a
target not found in time ends the replay with an error naming the step, unless the replay repairs:
then GLM-4.5V is asked, and its point kept only where the screen agrees with the recording
(agent.demos.repair). It never clicks a guess.

Key and type steps are checked so too: the place their keys go (where the last click acted) must
look as it did when the step was recorded, waited for as a target is. A field that showed nothing
then but holds text now is emptied before the text is typed (End, Shift+Home, Delete), so a
demonstration recorded on an empty form replaces what a filled one holds.

Agent episodes (`gui-agent run`) have no recorded targets: their crops and texts are cut from
each step's screenshot around the point it acted on.

The replay is a planner, RegroundedPlanner: it decides each step on the screen it is given, and the
loop (agent.core.loop.Agent) acts, settles, times and writes it, as for any run.
"""

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agent.core import actions as a
from agent.core.defaults import TARGET_TIMEOUT, Outcome, PlannerKind, Status
from agent.core.desktop import Desktop, open_desktop
from agent.core.episode import Episode, EpisodeWriter, read_episode
from agent.core.errors import AgentError, StepFailed
from agent.core.geometry import Monitor, Point
from agent.core.loop import Agent, Limits
from agent.core.ocr import OCR, Box
from agent.core.planner import Decision, Planner
from agent.core.screen import Frame, Screen
from agent.demos.record import Windows, crop_around, in_window, text_near
from agent.demos.repair import Answer, Lost, ModelRepair
from agent.demos.versions import keep_repairs
from agent.planners import grounding as g
from agent.planners.glm import GLMConfig
from agent.planners.grounding import find_text
from agent.planners.snap import target_words

CROP_THRESHOLD = 0.9
TIE_BAND = 0.02  # crop matches this close to the best are equally good
CROP_SCALES = (1.0, 0.95, 1.05, 0.9, 1.1)
CONTEXT_SIZE = (320, 160)
MAX_PLACES = 20  # separate equally good crop matches looked at more closely
MIN_CROP_CONTRAST = 4.0  # gray-level spread below which a crop is a blank area that matches anything
# At its offset in its window the place is not searched for, only checked: it must look this much
# like the recorded crop (a field whose text changed still does, another widget does not).
WINDOW_THRESHOLD = 0.6
BLANK_BRIGHTNESS_SPAN = 64  # a blank place this many gray levels off the recorded one is not alike at all
RETRY_SECONDS = 0.25


class TargetNotFound(StepFailed):
    """A target is not on the screen; the replay stops rather than guess, its step's outcome not_found."""

    def __init__(self, message: str, seen: Frame | None = None, **line):
        super().__init__(message, Outcome.NOT_FOUND, seen, **line)


@dataclass
class Target:
    """What is known about where a pointer action acted."""

    recorded: Point  # screen pixels, at recording time
    crop: np.ndarray | None  # grayscale
    crop_point: Point  # where the point is in the crop
    text: str
    text_offset: Point  # from the text's centre to the point, image pixels
    window: dict | None  # name, left, top, width, height, offset
    context: np.ndarray | None = None  # a larger grayscale cut of the recorded screenshot, to tell equal crops apart
    context_point: Point = (0, 0)


@dataclass
class Found:
    point: Point  # screen pixels
    method: str  # crop, text, window, or model (a repair)
    score: float
    repair: dict | None = None  # what the model answered, for a repair


def substitute(text: str, params: dict[str, str]) -> str:
    """Fills in {name} for each given parameter, in one pass: a value that itself reads {other} is
    typed as it is. Other braces are left as they are."""
    return re.sub(r"\{(\w+)\}", lambda match: params.get(match.group(1), match.group()), text)


def recorded_targets(episode: Episode, step: dict, ocr: OCR, params: dict[str, str]) -> dict[str, Target]:
    """The targets of a step: as a demonstration recorded them, or, for an agent's step, cut from
    its screenshot around the point it acted on, with the text OCR reads there."""
    monitor = recorded_monitor(episode)
    try:
        frame = Frame.from_png(episode.screenshot(step), monitor)
    except AgentError:
        frame = None
    targets = {}
    for name, point in step["screen"].items():
        point = tuple(point)
        context, context_point = crop_around(frame, point, *CONTEXT_SIZE) if frame else (None, (0, 0))
        if recorded := step.get("target", {}).get(name):
            try:
                crop = cv2.imdecode(np.frombuffer(episode.image(recorded["crop"]), np.uint8), cv2.IMREAD_GRAYSCALE)
            except AgentError:
                crop = None  # missing or refused: the target is found by its text and window
            targets[name] = Target(point, crop, tuple(recorded["crop_point"]), substitute(recorded["text"], params),
                                   tuple(recorded["text_offset"]), recorded["window"], context, context_point)
            continue
        crop, crop_point, text, offset = None, (0, 0), "", (0, 0)
        if frame is not None:
            crop, crop_point = crop_around(frame, point)
            text, offset = text_near(ocr, frame, point) or ("", (0, 0))
        text = text or target_words(step["action"].get("element_info", ""))
        targets[name] = Target(point, crop, crop_point, text, offset, None, context, context_point)
    return targets


def recorded_monitor(episode: Episode) -> Monitor:
    s = episode.header.get("screen")
    if not s:
        raise AgentError(f"{episode.path} has no screen geometry in its header; it cannot be re-grounded")
    return Monitor(s["left"], s["top"], s["width"], s["height"], s.get("scale", 1.0))


class Grounder:
    def __init__(self, windows: Windows, ocr: OCR):
        self.windows, self.ocr = windows, ocr

    def find(self, frame: Frame, target: Target) -> tuple[Found | None, list[str]]:
        """The target on this frame by the first confident method, and what each method tried."""
        geometry = frame.geometry
        window, window_note = self._window(target.window)
        expected = target.recorded
        if window:
            expected = (window["left"] + target.window["offset"][0], window["top"] + target.window["offset"][1])
        expected_image = geometry.screen_to_image(expected)
        tried = []

        def on_screen(image_point) -> Point | None:
            point = tuple(round(v) for v in geometry.image_to_screen(image_point))
            return point if frame.monitor.contains(point) else None

        gray = cv2.cvtColor(frame.pixels[:, :, :3], cv2.COLOR_BGR2GRAY)
        if target.crop is not None and float(target.crop.std()) >= MIN_CROP_CONTRAST:
            score, image_point = match_crop(gray, target, expected_image)
            if score >= CROP_THRESHOLD and (point := on_screen(image_point)):
                return Found(point, "crop", round(score, 3)), tried
            tried.append(f"crop best {score:.2f} < {CROP_THRESHOLD}")
        elif target.crop is not None:
            tried.append("crop blank")
        if target.text:
            matches = find_text(self.ocr.read(frame.pixels), target.text, near=expected_image)
            if matches:
                cx, cy = matches[0].centre
                if point := on_screen((cx + target.text_offset[0], cy + target.text_offset[1])):
                    return Found(point, "text", round(matches[0].score, 3)), tried
            tried.append(f"text {target.text!r} not found")
        if window:
            inside = in_window(expected, window)
            score = alike_at(gray, target, expected_image) if inside else 0.0
            if score >= WINDOW_THRESHOLD and frame.monitor.contains(expected):
                return Found(expected, "window", round(score, 3)), tried
            was = f"{target.window['width']}x{target.window['height']}"
            tried.append(f"at its offset in window {window['name']!r} (now {window['width']}x{window['height']}, "
                         f"was {was}) " + (f"the place looks {score:.2f} alike < {WINDOW_THRESHOLD}" if inside
                                           else "is outside the window"))
        elif window_note:
            tried.append(window_note)
        return None, tried

    def _window(self, recorded: dict | None) -> tuple[dict | None, str]:
        """The window the target was in, by name (the one of the same size if several), and a note if absent."""
        if not recorded or not recorded.get("name"):
            return None, ""
        windows = self.windows.named(recorded["name"])
        same_size = [w for w in windows if (w["width"], w["height"]) == (recorded["width"], recorded["height"])]
        if same_size or windows:
            return (same_size or windows)[0], ""
        return None, f"no window named {recorded['name']!r}"


def match_crop(gray: np.ndarray, target: Target, expected: tuple[float, float]) -> tuple[float, tuple[float, float]]:
    """The best TM_CCOEFF_NORMED score of the target's crop over a few scales, and where its point
    lands. Matches within TIE_BAND of the best are equally good: if they lie in separate places,
    the target's larger context decides, then the nearness to the expected image point."""
    best_score, best_point = -1.0, expected
    for scale in CROP_SCALES:
        template = target.crop if scale == 1.0 else cv2.resize(
            target.crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        if template.shape[0] > gray.shape[0] or template.shape[1] > gray.shape[1]:
            continue
        result = np.nan_to_num(cv2.matchTemplate(gray, template, cv2.TM_CCOEFF_NORMED), nan=0.0, posinf=0.0, neginf=0.0)
        score = float(result.max())
        if score <= best_score:
            continue
        count, places = cv2.connectedComponents((result >= score - TIE_BAND).astype(np.uint8))
        candidates = []
        for place in range(1, min(count, MAX_PLACES + 1)):
            ys, xs = np.nonzero(places == place)
            xs, ys = xs + target.crop_point[0] * scale, ys + target.crop_point[1] * scale
            nearest = int(np.argmin((xs - expected[0]) ** 2 + (ys - expected[1]) ** 2))
            candidates.append((float(xs[nearest]), float(ys[nearest])))

        def rank(point, candidates=candidates):
            context = context_score(gray, target, point) if len(candidates) > 1 else 0.0
            # contexts within TIE_BAND of each other are a tie too, which nearness breaks
            return -round(context / TIE_BAND), (point[0] - expected[0]) ** 2 + (point[1] - expected[1]) ** 2
        best_score, best_point = score, min(candidates, key=rank)
    return best_score, best_point


def alike_at(gray: np.ndarray, target: Target, point: tuple[float, float], slack: int = 3) -> float:
    """How much the place at a point looks like the target's crop: the crop's correlation there
    (give or take `slack` pixels), or for a blank crop, a blank place of about the same brightness."""
    if target.crop is None:
        return 0.0
    height, width = target.crop.shape
    x0, y0 = round(point[0]) - target.crop_point[0], round(point[1]) - target.crop_point[1]
    rows, columns = gray.shape
    if x0 < 0 or y0 < 0 or x0 + width > columns or y0 + height > rows:
        return 0.0
    if float(target.crop.std()) < MIN_CROP_CONTRAST:
        place = gray[y0:y0 + height, x0:x0 + width]
        if float(place.std()) >= MIN_CROP_CONTRAST:
            return 0.0
        return max(0.0, 1 - abs(float(place.mean()) - float(target.crop.mean())) / BLANK_BRIGHTNESS_SPAN)
    region = gray[max(0, y0 - slack):y0 + height + slack, max(0, x0 - slack):x0 + width + slack]  # less at an edge
    return float(np.nan_to_num(cv2.matchTemplate(region, target.crop, cv2.TM_CCOEFF_NORMED)).max())


def context_score(gray: np.ndarray, target: Target, point: tuple[float, float], slack: int = 3) -> float:
    """How well the target's larger context matches around a candidate point (0 without one)."""
    if target.context is None:
        return 0.0
    height, width = target.context.shape
    x0, y0 = round(point[0]) - target.context_point[0], round(point[1]) - target.context_point[1]
    # the part of the context that falls on the screen, with a few pixels of slack around it
    cx0, cy0 = max(0, -x0), max(0, -y0)
    cx1, cy1 = min(width, gray.shape[1] - x0), min(height, gray.shape[0] - y0)
    if (cx1 - cx0) * (cy1 - cy0) < width * height / 2:
        return 0.0
    template = target.context[cy0:cy1, cx0:cx1]
    gx0, gy0 = max(0, x0 + cx0 - slack), max(0, y0 + cy0 - slack)
    region = gray[gy0:min(gray.shape[0], y0 + cy1 + slack), gx0:min(gray.shape[1], x0 + cx1 + slack)]
    if region.shape[0] < template.shape[0] or region.shape[1] < template.shape[1]:
        return 0.0
    return float(np.nan_to_num(cv2.matchTemplate(region, template, cv2.TM_CCOEFF_NORMED)).max())


class Looking:
    """Looks for a target on the screen until it shows or `target_timeout` passes; a target not found
    ends the step with outcome not_found (TargetNotFound) rather than a guess."""

    def __init__(self, screen: Screen, grounder: Grounder, target_timeout: float = TARGET_TIMEOUT):
        self.screen, self.grounder, self.target_timeout = screen, grounder, target_timeout

    def wait_for(self, frame: Frame, target: Target, what: str, ask: Callable[[Frame], Answer] | None = None,
                 **line) -> tuple[Frame, Found]:
        """The target on `frame` or a settled screen after it, looked for again until it shows or the
        timeout passes; then `ask`ed of the model, if given; else TargetNotFound naming `what` was
        looked for, with the `line` fields of its step."""
        deadline = time.monotonic() + self.target_timeout
        while True:
            found, tried = self.grounder.find(frame, target)
            if found:
                return frame, found
            if time.monotonic() >= deadline:
                message = (f"{what}: its target is not on the screen after {self.target_timeout:g} s "
                           f"({'; '.join(tried)})")
                if ask is not None:
                    answer = ask(frame)
                    if answer.point is not None:
                        return answer.frame, Found(answer.point, "model", 1.0, answer.record)
                    if answer.record:
                        line["repair"] = {"refused": answer.reason} | answer.record
                    message += f"; {answer.reason}"
                raise TargetNotFound(message + "; stopped without acting", frame, **line)
            time.sleep(RETRY_SECONDS)
            frame, _ = self.screen.settle(frame, timeout=1.0)

    def wait_until(self, frame: Frame, check: Callable[[Frame], tuple[Found | None, str]], what: str,
                   **line) -> tuple[Frame, Found]:
        """The first settled frame from `frame` on that `check` finds right, looked at again until the
        timeout passes; then TargetNotFound, with what `check` said of the last."""
        deadline = time.monotonic() + self.target_timeout
        while True:
            found, tried = check(frame)
            if found:
                return frame, found
            if time.monotonic() >= deadline:
                raise TargetNotFound(f"{what} after {self.target_timeout:g} s ({tried}); stopped without acting",
                                     frame, **line)
            time.sleep(RETRY_SECONDS)
            frame, _ = self.screen.settle(frame, timeout=1.0)


def replayed(action, on: Frame | None = None, given: Frame | None = None, **line) -> Decision:
    """A decision that does a step again as recorded, no model asked: `action` acts on the screen `on`,
    shown in the step when it is not the screen `given` to the planner; `line` goes in the step's line."""
    return Decision(None, action, "", None, line=line, seen=on if on is not given else None, as_recorded=True)


@dataclass
class Focus:
    """Where the last click acted: the keys of the steps after it go there."""

    recorded: Point  # screen pixels, at recording time
    now: Point  # where the replay clicked
    step: int  # the recorded step
    keys_since: bool = False  # a key step came after it (a tab may have moved the focus)


def field_at(frame: Frame, point: Point) -> tuple[Box, bool] | None:
    """The input field (a bordered box with a light inside) at a screen point, and whether it shows
    nothing in it but a text cursor."""
    image_point = frame.geometry.screen_to_image(point)
    box = g.smallest_containing(g.find_rectangles(frame.pixels), image_point, screen_area=frame.width * frame.height)
    if box is None or not g.is_input_like(frame.pixels, box):
        return None
    shown = g.shown_in_field(frame.pixels, box)
    return box, shown is None or shown[1] - shown[0] <= g.CURSOR_WIDTH


class RegroundedPlanner:
    """Plays the performed steps of a recorded episode as decisions, each on the screen as it is now:
    a pointer action's target found again (waited for, or asked of the `repair` model), a key or type
    step's place checked; the run ends after the last (or at a recorded DONE or FAIL)."""

    name: str = PlannerKind.REPLAY

    def __init__(self, recorded: Episode, params: dict[str, str], looking: Looking, repair: ModelRepair | None = None):
        """With `repair`, a target not found is asked of that model (agent.demos.repair)."""
        self.recorded, self.params, self.looking, self.model = recorded, params, looking, repair
        self.steps = [(step, a.ACTION.validate_python(step["action"])) for step in recorded.steps
                      # refused, not repeated or unparsable when recorded: nothing was done then
                      if step.get("outcome", Outcome.OK) == Outcome.OK and step.get("action")]
        self.queued: list[Decision] = []  # the decisions of a step that takes several (emptying a field first)
        self.focus: Focus | None = None
        self.index = 0  # the steps decided, numbered as the loop numbers them

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        self.index += 1
        if not self.queued:
            self.queued = self.replay(*self.steps.pop(0), frame) if self.steps else [replayed(a.Done())]
        decision = self.queued.pop(0)
        if not self.queued and not self.steps:
            decision.ends_with = Status.DONE
        return decision

    def replay(self, step: dict, action, frame: Frame) -> list[Decision]:
        """The decisions that do one recorded step again on `frame`, the screen as it is now."""
        if field := action.traits.text_field:
            action = action.model_copy(update={field: substitute(action.typed_text, self.params)})
        if action.traits.point_fields:
            return [self.pointer_step(step, action, frame)]
        if (action.traits.text_field or action.traits.keys_field) and self.focus is not None:
            return self.keys_step(step, action, frame)
        return [replayed(action, replays=step["index"])]

    def pointer_step(self, step: dict, action, given: Frame) -> Decision:
        targets = recorded_targets(self.recorded, step, self.looking.grounder.ocr, self.params)
        main = action.traits.point_fields[0]
        frame, found = self.looking.wait_for(given, targets[main], f"step {step['index']} ({step['call']})",
                                             ask=self.asker(step, main, targets[main]),
                                             call=step["call"], replays=step["index"])
        moved = {main: found.point}
        for name in action.traits.point_fields[1:]:  # a drag's end moves with its start: a slider's trough is blank
            point = tuple(now + (then - main_then) for now, then, main_then in
                          zip(found.point, step["screen"][name], step["screen"][main]))
            if not frame.monitor.contains(point):
                raise TargetNotFound(f"step {step['index']} ({step['call']}): the {name} would be off the screen at "
                                     f"{point}", frame, call=step["call"], replays=step["index"])
            moved[name] = point
        action = action.model_copy(update={name: frame.geometry.screen_to_model(p) for name, p in moved.items()})
        repaired = {}
        if found.repair:  # the model's time and tokens count in the step, as a run's do
            repaired = {"repair": {"name": main, **found.repair}, "timings": found.repair["timings"],
                        "usage": found.repair["usage"]}
        if action.traits.focuses:
            self.focus = Focus(tuple(step["screen"][main]), found.point, step["index"])
        return replayed(action, frame, given, replays=step["index"],
                        grounding={"method": found.method, "score": found.score}, **repaired)

    def keys_step(self, step: dict, action, given: Frame) -> list[Decision]:
        """A key or type step, checked first as a pointer step is: the place its keys go (where the last
        click acted) must look as it did when the step was recorded, waited for until the timeout. A
        field that showed nothing then but holds text now is emptied first, so the text typed replaces
        it (a demonstration recorded on an empty form, replayed on a filled one)."""
        focus = self.focus
        keys_since = focus.keys_since
        focus.keys_since = keys_since or bool(action.traits.keys_field)
        try:
            recorded = Frame.from_png(self.recorded.screenshot(step), recorded_monitor(self.recorded))
        except AgentError:  # nothing to compare with: the step is done as recorded
            recorded = None
        if recorded is None or keys_since:  # or a key since the click may have moved the focus (ctrl+s)
            return [replayed(action, replays=step["index"])]
        field = field_at(recorded, focus.recorded)
        frame, found = self.looking.wait_until(
            given, self.focus_check(recorded, field), f"step {step['index']} ({step['call']}): where its keys go "
            f"(where step {focus.step} clicked) does not look as recorded", call=step["call"], replays=step["index"])
        grounding = {"method": found.method, "score": found.score}
        decisions = [replayed(action, replays=step["index"], grounding=grounding)]
        if action.traits.text_field and field and field[1] and (now := field_at(frame, focus.now)) and not now[1]:
            decisions[:0] = [replayed(a.Key(keys=keys), replays=step["index"], grounding=grounding,
                                      empties="the field holds text it did not hold when recorded")
                             for keys in ("end", "shift+home", "delete")]
        decisions[0].seen = frame if frame is not given else None
        return decisions

    def focus_check(self, recorded: Frame, field: tuple[Box, bool] | None) -> Callable[[Frame], tuple]:
        """Whether a frame shows the focus's place as `recorded` does: alike, or the same field (as tall)
        where it was empty then."""
        focus = self.focus
        crop, crop_point = crop_around(recorded, focus.recorded)
        target = Target(focus.recorded, crop, crop_point, "", (0, 0), None)

        def check(frame: Frame) -> tuple[Found | None, str]:
            gray = cv2.cvtColor(frame.pixels[:, :, :3], cv2.COLOR_BGR2GRAY)
            score = alike_at(gray, target, frame.geometry.screen_to_image(focus.now))
            if score >= WINDOW_THRESHOLD:
                return Found(focus.now, "focus", round(score, 3)), ""
            now = field_at(frame, focus.now) if field and field[1] else None
            if now and abs((now[0][3] - now[0][1]) - (field[0][3] - field[0][1])) <= 2:
                return Found(focus.now, "focus field", round(score, 3)), ""  # the same field, holding text now
            return None, f"the place looks {score:.2f} alike < {WINDOW_THRESHOLD}"
        return check

    def asker(self, step: dict, name: str, target: Target) -> Callable[[Frame], Answer] | None:
        """How the model is asked for this target when the replay repairs; the step's screenshot is
        read only then."""
        if self.model is None:
            return None

        def ask(frame: Frame) -> Answer:
            try:
                recorded = Frame.from_png(self.recorded.screenshot(step), recorded_monitor(self.recorded))
            except AgentError as error:
                return Answer(None, None, {}, f"{self.model.model} was not asked: {error}")
            return self.model.ask(frame, Lost(step, name, target.text, target.window, recorded), self.index,
                                  self.looking.screen.capture)
        return ask


def act_on_screen(display: str | None, out: Path, planner_for: Callable[[Looking], Planner], *, task: str,
                  settings: dict, monitor: int = 1, target_timeout: float = TARGET_TIMEOUT,
                  settle_timeout: float = 3.0, on_step: Callable[[dict], None] = lambda record: None,
                  desktop: Desktop | None = None) -> tuple[str, str]:
    """Runs the planner `planner_for` makes (given how targets are looked for on the screen) in the
    loop, with no limit of steps, on the display (or on the `desktop` given, whose secrets typed are
    covered in every screenshot kept), writing the episode in `out`; returns the status and its message."""
    used = desktop or open_desktop(display, monitor)
    windows = Windows(used.screen.display)
    try:
        planner = planner_for(Looking(used.screen, Grounder(windows, OCR()), target_timeout))
        agent = Agent(task, planner, used.computer, used.screen, EpisodeWriter(out), limits=Limits(steps=sys.maxsize),
                      settle_timeout=settle_timeout, settings=settings, on_step=on_step)
        return agent.run()
    finally:
        windows.close()
        if used is not desktop:
            used.close()


def replay_demonstration(episode_dir: Path, display: str | None, out: Path, *, params: dict[str, str] | None = None,
                         settings: dict | None = None, repair: GLMConfig | None = None, **options) -> tuple[str, str]:
    """Replays the episode in `episode_dir` (a demonstration or an agent run) on the display,
    finding every pointer target again, and writes the replay as a new episode in `out`. With
    `repair`, a target not found is asked of that model, and when the replay ends done, the steps it
    repaired are kept as a new version of a demonstration or skill (agent.demos.versions).
    `options` are act_on_screen's. Returns the status (done, failed, error, interrupted) and its message."""
    recorded = read_episode(Path(episode_dir))
    params = params or {}
    asked = {"repair": repair.model_dump(include={"model", "base_url"})} if repair else {}

    def planner_for(looking: Looking) -> RegroundedPlanner:
        model = ModelRepair(repair, looking.grounder.windows, looking.grounder.ocr, Path(out)) if repair else None
        return RegroundedPlanner(recorded, params, looking, model)
    settings = {"replay_of": str(recorded.path / recorded.file), "params": params, **asked, **(settings or {})}
    status, message = act_on_screen(display, out, planner_for, task=recorded.header.get("task", ""),
                                    settings=settings, **options)
    if status == "done" and repair is not None:
        message = keep_repairs(recorded, Path(out))
    return status, message
