"""Replaying an episode's recorded replies through the same parser, so a run is reproduced without a model."""

from .episode import Episode
from .errors import AgentError
from .planners import Decision, Reply, interpret
from .screen import Frame
from .tools import interpret_tools


class ReplayPlanner:
    """Serves the raw replies of a recorded episode in order, through the same parser."""

    name = "replay"

    def __init__(self, episode: Episode):
        self.replies = [Reply(s["raw"], s.get("reasoning") or "") for s in episode.steps if "raw" in s]
        self.served = 0
        self.read = interpret_tools if episode.header.get("planner") == "tools" else interpret

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        if self.served >= len(self.replies):
            raise AgentError(f"the episode has no more recorded replies ({self.served} served) and never said DONE()")
        reply = self.replies[self.served]
        self.served += 1
        return self.read(Reply(reply.raw, reply.reasoning))
