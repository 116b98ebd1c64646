"""The text dialect (`--protocol text`, planner `glm` in episodes): GLM-4.5V's own GUI-agent protocol,
one user message per step with the history, the calls in the reply's text (agent.planners.reply reads
them). The transport is agent.planners.transport; agent.planners.glm_tools is the tool-calling dialect,
agent.planners.embedded the embedded planner, agent.planners.replay serves recorded replies instead.
"""

import time

from agent.core.defaults import PlannerKind
from agent.core.episode import Episode
from agent.core.errors import AgentError, FormatError
from agent.core.geometry import image_tokens
from agent.core.planner import Decision, Reply, bounded, within_bounds
from agent.core.screen import Frame
from agent.planners.dialects import register
from agent.planners.prompt import HISTORY_IMAGES, Turn, build_content
from agent.planners.reply import parse_reply
from agent.planners.transport import Dialect, EndpointConfig, json_size, reply_parts

GLMConfig = EndpointConfig  # the name callers and tests know


def interpret(reply: Reply) -> Decision:
    try:
        parsed = parse_reply(bounded(reply).raw, reply.reasoning)
    except FormatError as error:
        if reply.finish_reason == "length":
            error = FormatError(f"{error} (the reply was cut off at the token limit)")
        error.reply = reply
        raise error
    reply.reasoning = parsed.reasoning
    return within_bounds(Decision(reply, parsed.actions[0], parsed.explanation, parsed.memory,
                                  then=list(parsed.actions[1:]), call_text=parsed.call_text))


def history_entry(step: dict) -> tuple[str, str]:
    """(thought, call text as the model wrote it) of a recorded step, read again from its raw reply;
    from what was recorded when the raw reply no longer reads (an episode from an older parser)."""
    try:
        parsed = parse_reply(step.get("raw"), step.get("reasoning"))
    except FormatError:
        calls = [step["call"], *(then["call"] for then in step.get("then", []))]
        return step.get("explanation", ""), "\n".join(calls)
    return parsed.explanation, parsed.call_text


def cut_note(cut: dict) -> str:
    """What a resumed model is told about the action a run ended in (its step line's `cut` entry)."""
    state = {"before": "not done", "during": "under way, so it may be done in part or not at all",
             "after": "done"}[cut["cut"]]
    typed = f"; at least {cut['typed']} of its characters were typed" if cut.get("typed") is not None else ""
    return f"[The run was cut short here ({cut['error']}): {cut['call']} was {state}{typed}. Check the screen.]"


@register("text")
class GLMPlanner(Dialect):
    name = PlannerKind.GLM
    read = staticmethod(interpret)

    def __init__(self, config: EndpointConfig, skills: list[dict] | None = None, secrets: list[str] | None = None):
        super().__init__(config, skills, secrets)
        self.turns: list[Turn] = []
        self.memory = "[]"

    def restore(self, episode: Episode) -> None:
        """History and memory as they were after the episode's last step, to resume it."""
        self.turns, self.memory = [], "[]"
        for step in episode.steps:
            if "call" not in step:  # unusable replies are not history
                continue
            thought, call = history_entry(step)
            done = [step, *step.get("then", [])]
            if cut := next((entry for entry in done if "cut" in entry), None):  # the run ended inside this step
                call = "\n".join(entry["call"] for entry in done if entry.get("cut") != "before")
                thought = f"{thought} {cut_note(cut)}"
            self.turns.append(Turn(thought, call, None))
            if step.get("memory") is not None:
                self.memory = step["memory"]
        recent = [s for s in episode.steps if "call" in s][-HISTORY_IMAGES:]
        for turn, step in zip(self.turns[-len(recent):] if recent else [], recent):
            try:
                turn.image_png = Frame.from_png(episode.screenshot(step)).png(0.5)
            except AgentError:
                turn.image_png = None  # a missing or refused screenshot: the step stays as text

    def decide(self, task: str, frame: Frame, feedback: str | None = None) -> Decision:
        started = time.perf_counter()
        current, half = frame.png(), frame.png(0.5)
        content = build_content(task, self.turns, self.memory, current, feedback, self.skills,
                                secrets=self.secrets)
        history = sum(t.image_png is not None for t in self.turns)
        decision = self.answer(content, frame, [(round(frame.width / 2), round(frame.height / 2))] * history, started)
        self.turns.append(Turn(decision.explanation, decision.call_text or decision.action.call(), half))
        for old in self.turns[:-HISTORY_IMAGES]:
            old.image_png = None
        if decision.memory is not None:
            self.memory = decision.memory
        return decision

    def answer(self, content: list[dict], frame: Frame, other_images: list[tuple[int, int]],
               started: float | None = None) -> Decision:
        """The decision in the reply to one user message whose last image is `frame` (the sizes of
        the images before it are `other_images`), asked with a step's retries; the history is left
        as it is."""
        started = time.perf_counter() if started is None else started
        body = self.transport.body([{"role": "user", "content": content}])
        request = {"images": 1 + len(other_images),
                   "image_tokens": image_tokens(frame.width, frame.height)
                   + sum(image_tokens(*size) for size in other_images),
                   "bytes": json_size(body["messages"])}
        encoded = time.perf_counter()

        def read(response, attempts: list[dict]) -> Decision:
            content, reasoning, usage = reply_parts(response, self.config.thinking)
            return interpret(Reply(content, reasoning, usage, request,
                                   {"encode": encoded - started, "model": time.perf_counter() - encoded},
                                   response.choices[0].finish_reason, attempts))

        return self.transport.ask(body, read)
