"""What a planner is: the reply it got, the decision it made from it, and the bounds on a reply
that every planner and the loop hold to."""

from dataclasses import dataclass, field
from typing import Protocol

from agent.core.actions import Action
from agent.core.defaults import Outcome, Status
from agent.core.errors import FormatError
from agent.core.screen import Frame


@dataclass
class Reply:
    """What came back for one step, kept in the episode even when it could not be parsed."""

    raw: str
    reasoning: str = ""
    usage: dict = field(default_factory=dict)
    request: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    finish_reason: str | None = None
    attempts: list[dict] = field(default_factory=list)  # failed attempts before this reply, with their waits

    def fields(self) -> dict:
        """What a step's record keeps of it."""
        return {"raw": self.raw, "reasoning": self.reasoning, "usage": self.usage, "request": self.request,
                "finish_reason": self.finish_reason, **({"attempts": self.attempts} if self.attempts else {})}


@dataclass
class Decision:
    reply: Reply | None  # None for a step that no model replied to (a re-grounded replay's)
    action: Action
    explanation: str
    memory: str | None
    snap: dict | None = None  # where a grounding check moved the model's point, if it did
    then: list[Action] = field(default_factory=list)
    """Further actions of the same reply (several calls in one reply), performed in order after `action`."""
    outcomes: list[str] = field(default_factory=list)
    """Filled in by the loop: "ok" or the error, one per action it performed; ToolsPlanner reports them back."""
    call_text: str = ""
    """The call(s) as the model wrote them, one per line; the history shows this, as the official agent does."""
    line: dict = field(default_factory=dict)
    """Fields the planner adds to the step's line (a re-grounded replay: the step it replays, how it found
    the target)."""
    seen: Frame | None = None
    """The screen the decision was made on, when the planner looked again after the one it was given (a
    re-grounded replay waiting for its target); the step shows it and acts on it."""
    as_recorded: bool = False
    """A recorded step done again, with no model to tell: it is done even when it repeats on a screen that
    did not change, and an action that fails ends the run."""
    ends_with: Status | None = None
    """The status the run ends with once this decision is done (a recording's last step), if its action
    does not end it."""

    @property
    def actions(self) -> list[Action]:
        return [self.action, *self.then]

    @property
    def timings(self) -> dict:
        """The planner's own timings (seconds): its reply's, or those the line carries (a repair's)."""
        return self.reply.timings if self.reply else self.line.get("timings", {})


class Planner(Protocol):
    name: str

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        """The next action; raises FormatError (with .reply set) when the reply is unusable."""
        ...


MAX_REPLY_CHARS = 100_000  # the answer (reasoning apart): GLM's is a few hundred characters
MAX_REASONING_CHARS = 200_000  # kept in the episode; beyond, the rest is cut
MAX_ACTIONS = 10  # actions performed for one reply
MAX_MEMORY_CHARS = 4_000  # the memory sent again with every later request


def bounded(reply: Reply) -> Reply:
    """The reply as the episode may keep it; FormatError (the reply cut to the bound) when its answer
    is longer than any real one, so a hostile or broken server cannot fill the disk or the next request.
    A lone surrogate (JSON's "\\ud800") becomes "?": it is no text, and no later request could hold it."""
    reply.raw, reply.reasoning = text_only(reply.raw), text_only(reply.reasoning)
    if len(reply.reasoning) > MAX_REASONING_CHARS:
        reply.reasoning = reply.reasoning[:MAX_REASONING_CHARS] + " [cut]"
    if len(reply.raw) > MAX_REPLY_CHARS:
        size, reply.raw = len(reply.raw), reply.raw[:MAX_REPLY_CHARS] + " [cut]"
        error = FormatError(f"the reply is {size} characters long, more than {MAX_REPLY_CHARS}; answer briefly")
        error.reply = reply
        raise error
    return reply


def text_only(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def within_bounds(decision: Decision) -> Decision:
    """FormatError when a decision asks for more actions, or carries more memory, than one reply should."""
    problem = None
    if len(decision.actions) > MAX_ACTIONS:
        problem = f"the reply asks for {len(decision.actions)} actions; give at most {MAX_ACTIONS} at a time"
    elif decision.memory is not None and len(decision.memory) > MAX_MEMORY_CHARS:
        problem = (f"the memory is {len(decision.memory)} characters long; keep it under {MAX_MEMORY_CHARS}, "
                   "only what later steps need")
    if problem:
        error = FormatError(problem)
        error.reply = decision.reply
        raise error
    return decision


def feedback_for(outcome: str, error: str | None) -> str | None:
    """What the model is told at its next step about a step that went wrong (the loop says it;
    a resumed tools conversation says it again)."""
    if outcome == Outcome.FORMAT_ERROR:
        return f"Your previous reply could not be used: {error}. Answer again in the output format."
    if outcome == Outcome.ACTION_ERROR:
        return f"The last action failed: {error}"
    return error if outcome in (Outcome.REFUSED, Outcome.NOT_REPEATED) else None
