"""The perceive-plan-act loop: the one engine every run goes through. A planner decides each step (a
model, the embedded planner, a replay of recorded replies, a re-grounded replay, a Python skill); the
loop acts, settles, times and writes it. docs/control-flow.md follows a screenshot and a recorded
step through it, file by file."""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

from agent.core.computer import ComputerBase
from agent.core.confirm import Confirmer, NeedsConfirmation
from agent.core.defaults import Outcome, Status
from agent.core.episode import EpisodeWriter
from agent.core.errors import (
    ActionError,
    AgentError,
    EndpointError,
    FormatError,
    Interrupted,
    StepFailed,
    StopRequested,
)
from agent.core.geometry import image_tokens
from agent.core.planner import Decision, Planner, feedback_for
from agent.core.screen import Frame, Screen
from agent.core.stop import TimeUp
from agent.core.version import __version__

STUCK_REPEATS = 3
PLANNER_PHASES = ("encode", "snap", "check")  # a planner's own timings: its encoding, snap, a repair's screen check


class RunEnded(Exception):
    def __init__(self, status: Status, message: str = ""):
        super().__init__(message)
        self.status, self.message = status, message


def ending(error: BaseException) -> tuple[Status, str]:
    """The status and message of a run that `error` ends."""
    if isinstance(error, RunEnded):
        return error.status, error.message
    if isinstance(error, TimeUp):
        return Status.TIME_LIMIT, str(error)
    if isinstance(error, (KeyboardInterrupt, StopRequested, Interrupted)):
        return Status.INTERRUPTED, str(error) or "stopped by the user"
    if isinstance(error, AgentError):
        return Status.ERROR, str(error)
    return Status.ERROR, f"unexpected {type(error).__name__}: {error}; please report it with this episode"


class StepClock:
    """One clock for the whole run, read at the end of each phase, so that a step's timings (seconds)
    add up to its wall time, from the grab of its screenshot to the grab of the next: capture (until
    the loop has the screenshot: grabbing it, settle's last look at it), encode (saving it, then the
    planner's own encoding and request building), model (the rest of the planner's decision), snap
    (or a repair's check), act, settle. What comes between two steps (writing a step's line) counts in
    the next encode."""

    def __init__(self, frame: Frame):
        """`frame`: the run's first screenshot, just grabbed."""
        self._mark = time.monotonic()
        self._counted: Frame | None = None  # the last frame whose grab was counted
        self._carried, self.timings = self._mark - grabbed(frame), {"capture": 0.0}

    def begin(self, frame: Frame) -> None:
        """A step deciding on `frame`; one already counted (no action was performed) took no grab."""
        self.timings = {"capture": self._carried if frame is not self._counted else 0.0}
        self._counted = frame

    def lap(self, phase: str, planner: dict | None = None) -> None:
        """The time since the last lap goes to `phase`, but for the planner's own PLANNER_PHASES."""
        now, own = time.monotonic(), {k: v for k, v in (planner or {}).items() if k in PLANNER_PHASES}
        for name, seconds in {**own, phase: now - self._mark - sum(own.values())}.items():
            self.timings[name] = self.timings.get(name, 0.0) + seconds
        self._mark = now

    def saw(self, frame: Frame) -> None:
        """The planner grabbed `frame` while deciding: its grab counts in the model phase, not as a capture."""
        self._counted = frame

    def hand_over(self, frame: Frame) -> None:
        """`frame` is the next step's screenshot: the time since its grab began is that step's capture."""
        if frame is not self._counted:
            self._carried = self._mark - grabbed(frame)
            self.timings["settle"] -= self._carried


def grabbed(frame: Frame) -> float:
    """When the grab of the frame began (time.monotonic())."""
    return frame.captured_at - frame.capture_seconds


@dataclass
class Limits:
    steps: int = 30
    seconds: float | None = None
    tokens: int | None = None
    format_errors: int = 3


@dataclass
class Acting:
    """The action under way, as the step's line records it, and where the run is in it."""

    action: dict
    call: str
    screen: dict  # its points in screen pixels, by name
    cut: Literal["before", "during", "after"] = "before"  # where a run that ends now stopped in it


@dataclass
class StepState:
    """What the loop knows of the step under way."""

    index: int
    frame: Frame  # the screenshot it decides and acts on
    line: dict  # its line, filled in as the step goes; written once it has an outcome
    done: list[dict] = field(default_factory=list)  # the actions performed: the line holds the first at its
    # top, the others (the further calls of one reply) in `then`
    acting: Acting | None = None


class Repeats:
    """The same action on a screen it did not change, counted; waiting on a still screen is fine."""

    def __init__(self) -> None:
        self.call: str | None = None
        self.frame: Frame | None = None
        self.count = 0

    def once_too_often(self, action, frame: Frame) -> bool:
        """Whether `action` on `frame` is the STUCK_REPEATS-th in a row (not to be done); RunEnded after that."""
        same = action.call() == self.call and self.frame is not None and frame.same_as(self.frame)
        self.count = self.count + 1 if same and not action.traits.idle else 1
        self.call, self.frame = action.call(), frame
        if self.count > STUCK_REPEATS:
            raise RunEnded(Status.STUCK, f"{action.call()} again on a screen it did not change, after being told")
        return self.count == STUCK_REPEATS


class Agent:
    def __init__(self, task: str, planner: Planner, computer: ComputerBase, screen: Screen, episode: EpisodeWriter, *,
                 limits: Limits | None = None, settle_timeout: float = 3.0, settings: dict | None = None,
                 confirmer: Confirmer | None = None, resume_from: dict | None = None,
                 on_step: Callable[[dict], None] = lambda record: None, on_pause: Callable[[], bool] = lambda: False):
        self.task, self.planner, self.computer, self.screen, self.episode = task, planner, computer, screen, episode
        self.limits, self.settle_timeout, self.settings = limits or Limits(), settle_timeout, settings or {}
        self.confirmer = confirmer or Confirmer(mode="never")
        self.resume_from, self.on_step, self.on_pause = resume_from, on_step, on_pause
        self.steps = resume_from["steps"] if resume_from else 0
        self.tokens = resume_from["tokens"] if resume_from else 0
        self.feedback: str | None = None  # what the planner is told at the next step
        self.format_errors, self.repeats = 0, Repeats()
        self.current: StepState | None = None  # the step under way, or the last one

    def run(self) -> tuple[Status, str]:
        status, message = Status.ERROR, ""
        self.started = time.monotonic()
        if self.limits.seconds is not None:  # so a long type stops in time
            self.computer.set_deadline(self.started + self.limits.seconds)
        try:
            self.frame = self.screen.capture()
            self.clock = StepClock(self.frame)
            if self.resume_from:
                self.episode.resume(after_step=self.steps, agent_version=__version__)
            else:
                self.episode.header(task=self.task, planner=self.planner.name, agent_version=__version__,
                                    settings=self.settings, screen=self._screen_info())
            while True:
                try:
                    self.step()
                except KeyboardInterrupt:
                    if not self.on_pause():
                        raise
        except (RunEnded, AgentError, KeyboardInterrupt, StopRequested) as end:
            status, message = ending(end)
        except Exception as error:  # a bug, here or in a library: the run still ends on a readable line
            status, message = ending(error)
            raise
        finally:
            self.episode.end(status, message, steps=self.steps, tokens=self.tokens, **self._final_screenshot())
        return status, message

    def _final_screenshot(self) -> dict:
        """The screen as the run left it, for the end line: the last step's screenshot when nothing
        was done after it was taken, else FINAL_SCREENSHOT; none when it cannot be written (the end
        line matters more)."""
        frame = getattr(self, "frame", None)
        if frame is None:
            return {}
        step = self.current
        if step and frame is step.frame and "screenshot" in step.line:
            return {"screenshot": step.line["screenshot"]}
        return self.episode.end_screenshot(frame.png)

    def step(self) -> None:
        self._check_limits()
        self.steps += 1
        self.clock.begin(self.frame)
        step = self.current = StepState(self.steps, self.frame, {"index": self.steps})
        self._show(step, self.frame)
        self.clock.lap("encode")
        try:
            self._decide_and_act(step)
        except (Exception, KeyboardInterrupt, StopRequested) as end:  # a planner that cannot go on, a stop...
            if "outcome" not in step.line:  # ...still leaves the step's line beside its screenshot
                self._record(step, **self._cut_short(step, end))
            raise

    def _show(self, step: StepState, frame: Frame) -> None:
        """Writes `frame` as the step's screenshot: the one it decides and acts on."""
        step.line |= {"screenshot": self.episode.screenshot(step.index, frame.png()),
                      "image": {"width": frame.width, "height": frame.height,
                                "tokens": image_tokens(frame.width, frame.height)}}
        step.frame = self.frame = frame

    def _decide_and_act(self, step: StepState) -> None:
        decision = self._decide(step)
        if decision is None:
            return
        to_screen = step.frame.geometry.model_to_screen
        for action in decision.actions:  # one, or the calls of a tools reply, each on the screen the last one left
            before = self.frame
            points = {name: to_screen(point) for name, point in action.points().items()}
            step.acting = acting = Acting(action.model_dump(), action.call(), points)
            outcome, error = self._act(acting, action, decision, to_screen)
            self.clock.lap("act")
            decision.outcomes.append(error or Outcome.OK)
            seen: dict = {"settled": None}  # and, where it settled, whether the screen changed
            if not action.ends_run and outcome != Outcome.REFUSED:
                self.frame, seen["settled"] = self.screen.settle(before, timeout=self.settle_timeout)
                seen["changed"] = not self.frame.same_as(before)
                self.clock.lap("settle")
            done, step.acting = asdict(acting), None
            del done["cut"]
            step.done.append({"outcome": outcome, "error": error, **seen, **done})
            if outcome != Outcome.OK or action.ends_run:
                break
        self.clock.hand_over(self.frame)
        self._record(step, **self._actions_fields(step.done))
        if status := action.traits.ends_with or (decision.ends_with if outcome == Outcome.OK else None):
            raise RunEnded(status, decision.explanation if status == Status.FAILED else "")

    def _decide(self, step: StepState) -> Decision | None:
        """The planner's decision on the step's screen, in the step's line; None after an unusable reply."""
        try:
            decision = self.planner.decide(self.task, step.frame, self.feedback)
        except FormatError as error:
            self.clock.lap("model", error.reply.timings if error.reply else None)
            self._take_reply(step.line, error.reply)
            self.format_errors += 1
            self.feedback = feedback_for(Outcome.FORMAT_ERROR, str(error))
            self._record(step, outcome=Outcome.FORMAT_ERROR, error=str(error))
            if self.format_errors >= self.limits.format_errors:
                raise RunEnded(Status.FORMAT_ERRORS,
                               f"{self.format_errors} unusable replies in a row; last: {error}") from error
            return None
        except EndpointError as error:
            self.clock.lap("model")
            self._record(step, outcome=Status.ENDPOINT_ERROR, error=str(error), attempts=error.attempts)
            raise RunEnded(Status.ENDPOINT_ERROR, str(error)) from error
        self.clock.lap("model", decision.timings)
        if decision.seen is not None:  # it looked again: the step shows what it decided on
            self.clock.saw(decision.seen)
            self._show(step, decision.seen)
        if decision.reply is not None:
            self._take_reply(step.line, decision.reply)
            step.line |= {"explanation": decision.explanation, "memory": decision.memory}
        step.line |= ({"snap": decision.snap} if decision.snap else {}) | decision.line
        self.format_errors, self.feedback = 0, None
        return decision

    def _act(self, acting: Acting, action, decision: Decision, to_screen) -> tuple[Outcome, str | None]:
        """Perform the action unless it is refused or repeats without effect: outcome and error.
        An act line goes to the episode first, so a run killed while it is under way still says so."""
        try:
            refusal = self.confirmer.refusal(action)
        except NeedsConfirmation as needed:
            raise RunEnded(Status.NEEDS_CONFIRMATION, str(needed)) from needed
        if refusal:
            self.feedback = refusal
            return Outcome.REFUSED, refusal
        if not decision.as_recorded and self.repeats.once_too_often(action, self.frame):
            self.feedback = (f"You did {action.call()} {STUCK_REPEATS} times and the screen did not change; "
                             "it was not done again. Try something else.")
            return Outcome.NOT_REPEATED, self.feedback
        self.episode.act(step=self.steps, call=acting.call, action=acting.action, screen=acting.screen)
        acting.cut = "during"
        try:
            action.perform(self.computer, to_screen)
            outcome, error = Outcome.OK, None
        except ActionError as failure:
            if decision.as_recorded:  # no model to tell: the run ends
                raise
            self.feedback = feedback_for(Outcome.ACTION_ERROR, str(failure))
            outcome, error = Outcome.ACTION_ERROR, str(failure)
        acting.cut = "after"
        return outcome, error

    def _cut_short(self, step: StepState, end: BaseException) -> dict:
        """The line of a step the run ended in: the actions done, then the one it stopped in, whose
        `cut` says whether that was before, during or after performing it (and how much was typed).
        A step the planner could not decide says so in its own words (StepFailed)."""
        outcome, error = ending(end)
        if isinstance(end, StepFailed):
            outcome = end.outcome
            if end.seen is not None:
                self._show(step, end.seen)
            step.line |= end.line
        entries = list(step.done)
        if step.acting:
            cut = {"outcome": outcome, "error": error, **asdict(step.acting)}
            action = cut["action"]
            if cut["cut"] == "during" and action["type"] == "type" and "{{" not in action["content"]:
                cut["typed"] = self.computer.typed  # not for a secret: it would tell its length
            entries.append(cut)
        return self._actions_fields(entries) if entries else {"outcome": outcome, "error": error}

    @staticmethod
    def _actions_fields(entries: list[dict]) -> dict:
        """A step line's action fields: the first action's at the top, the others in `then`."""
        return {**entries[0], **({"then": entries[1:]} if entries[1:] else {})}

    def _check_limits(self) -> None:
        limits = self.limits
        if self.steps >= limits.steps:
            raise RunEnded(Status.STEP_LIMIT, f"no DONE() within {limits.steps} steps")
        if limits.seconds is not None and time.monotonic() - self.started >= limits.seconds:
            raise RunEnded(Status.TIME_LIMIT, f"no DONE() within {limits.seconds:g} s")
        if limits.tokens is not None and self.tokens >= limits.tokens:
            raise RunEnded(Status.TOKEN_LIMIT, f"{self.tokens} tokens used, the limit is {limits.tokens}")

    def _take_reply(self, line: dict, reply) -> None:
        """Puts what came back for the step in its line, and counts its tokens."""
        if reply is None:
            return
        line |= reply.fields()
        self.tokens += reply.usage.get("total_tokens") or reply.request.get("image_tokens", 0)

    def _record(self, step: StepState, **fields) -> None:
        step.line |= fields
        step.line["timings"] = {k: round(v, 4) for k, v in self.clock.timings.items()}
        self.episode.step(step.line)
        self.on_step(step.line)

    def _screen_info(self) -> dict:
        m = self.frame.monitor
        return {"display": getattr(self.screen, "display", None), "monitor": self.screen.monitor_index,
                "left": m.left, "top": m.top, "width": m.width, "height": m.height, "scale": m.scale,
                "image_width": self.frame.width, "image_height": self.frame.height}
