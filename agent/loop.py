"""The perceive-plan-act loop."""

import time
from typing import Callable

from . import __version__
from .actions import Done
from .episode import EpisodeWriter
from .errors import ActionError, AgentError, FormatError, Interrupted
from .geometry import image_tokens
from .planners import Planner
from .screen import Screen

EXIT_CODES = {"done": 0, "error": 1, "failed": 10, "step_limit": 11, "format_errors": 12, "interrupted": 130}


class RunEnded(Exception):
    def __init__(self, status: str, message: str = ""):
        super().__init__(message)
        self.status, self.message = status, message


class Agent:
    def __init__(self, task: str, planner: Planner, computer, screen: Screen, episode: EpisodeWriter, *,
                 max_steps: int = 30, max_format_errors: int = 3, settle_timeout: float = 3.0,
                 settings: dict | None = None, on_step: Callable[[dict], None] = lambda record: None):
        self.task, self.planner, self.computer, self.screen, self.episode = task, planner, computer, screen, episode
        self.max_steps, self.max_format_errors, self.settle_timeout = max_steps, max_format_errors, settle_timeout
        self.settings, self.on_step = settings or {}, on_step
        self.steps, self.format_errors, self.feedback = 0, 0, None

    def run(self) -> tuple[str, str]:
        status, message = "error", ""
        try:
            self.frame = self.screen.capture()
            self.episode.header(task=self.task, planner=self.planner.name, agent_version=__version__,
                                settings=self.settings, screen=self._screen_info())
            while True:
                self.step()
        except RunEnded as end:
            status, message = end.status, end.message
        except (KeyboardInterrupt, Interrupted) as stop:
            status, message = "interrupted", str(stop) or "stopped by the user"
        except AgentError as error:
            status, message = "error", str(error)
        finally:
            self.episode.end(status, message, steps=self.steps)
        return status, message

    def step(self) -> None:
        if self.steps >= self.max_steps:
            raise RunEnded("step_limit", f"no DONE() within {self.max_steps} steps")
        self.steps += 1
        frame = self.frame
        record = {"index": self.steps, "screenshot": self.episode.screenshot(self.steps, frame.png()),
                  "image": {"width": frame.width, "height": frame.height,
                            "tokens": image_tokens(frame.width, frame.height)}}
        try:
            decision = self.planner.decide(self.task, frame, self.feedback)
        except FormatError as error:
            self.format_errors += 1
            self.feedback = f"Your previous reply could not be used: {error}. Answer again in the output format."
            self._record(record, error.reply, outcome="format_error", error=str(error))
            if self.format_errors >= self.max_format_errors:
                raise RunEnded("format_errors", f"{self.format_errors} unusable replies in a row; last: {error}")
            return
        self.format_errors, self.feedback = 0, None
        action, to_screen = decision.action, frame.geometry.model_to_screen
        acted = time.perf_counter()
        try:
            action.perform(self.computer, to_screen)
            outcome, error = "ok", None
        except ActionError as failure:
            outcome, error = "action_error", str(failure)
            self.feedback = f"The last action failed: {failure}"
        settled_at = time.perf_counter()
        settled = None
        if not action.ends_run:
            self.frame, settled = self.screen.settle(frame, timeout=self.settle_timeout)
        timings = {"capture": frame.capture_seconds, "act": settled_at - acted,
                   "settle": time.perf_counter() - settled_at}
        self._record(record, decision.reply, outcome=outcome, error=error, settled=settled,
                     explanation=decision.explanation, memory=decision.memory, action=action.model_dump(),
                     call=action.call(), screen={k: to_screen(p) for k, p in action.points().items()},
                     timings=timings, **({"snap": decision.snap} if decision.snap else {}))
        if action.ends_run:
            raise RunEnded("done" if isinstance(action, Done) else "failed")

    def _record(self, record: dict, reply, timings: dict | None = None, **fields) -> None:
        if reply is not None:
            fields |= {"raw": reply.raw, "reasoning": reply.reasoning, "usage": reply.usage,
                       "request": reply.request, "finish_reason": reply.finish_reason}
            timings = reply.timings | (timings or {})
        record |= fields | {"timings": {k: round(v, 4) for k, v in (timings or {}).items()}}
        self.episode.step(record)
        self.on_step(record)

    def _screen_info(self) -> dict:
        m = self.frame.monitor
        return {"display": getattr(self.screen, "display", None), "monitor": self.screen.monitor_index,
                "left": m.left, "top": m.top, "width": m.width, "height": m.height, "scale": m.scale,
                "image_width": self.frame.width, "image_height": self.frame.height}
