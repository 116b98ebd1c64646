"""The one user message GLM-4.5V gets at each step, in the structure its GUI agent was trained on:
header, task, platform, action space, history (last 4 screenshots at half size), memory,
output format, then the current screenshot full size. Also the text of the tools dialect's first
message (its action space goes in the request's `tools`)."""

import base64
import json
from dataclasses import dataclass

from agent.core.actions import offered_calls, skills_text

HISTORY_IMAGES = 4

POINT = {"type": "string", "description": "as '[x,y]' in thousandths (0-999) of the screenshot"}

HEADER = ("You are a GUI agent operating a desktop computer. You are given a task, your history of "
          "actions and the current screenshot, and you choose the next action. All coordinates are "
          "thousandths of the screenshot: integers from 0 to 999 for x (left to right) and y (top to bottom).")

OUTPUT_FORMAT = """# Output Format
Plain text explaining what you see and why you act, then exactly one action call from the action space, then:
Memory:
a JSON list of {"key": "value"} dicts holding what you must remember for later steps ([] when nothing).

# Notes
- Take one action at a time and check its effect in the next screenshot.
- Type only after the right field has the focus; type does not clear what is there.
- Call DONE() as soon as the task is complete, FAIL() if it cannot be done."""


TOOLS_NOTES = """# Notes
- Act by calling the tools. Call one, or a few that belong together (click a field, then type into it): they are \
carried out in order until one fails, each call's result comes back, then the screenshot after them.
- Type only after the right field has the focus; type does not clear what is there.
- Call DONE as soon as the task is complete, FAIL if it cannot be done."""


@dataclass
class Turn:
    """One earlier step as the model sees it in the history."""

    thought: str
    call: str  # the model's own call text as it wrote it (one call per line), as the official agent keeps it
    image_png: bytes | None  # half-size screenshot; None once it is older than HISTORY_IMAGES


def image_part(png: bytes) -> dict:
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return {"type": "image_url", "image_url": {"url": url}}


def action_space_text(skills: list[dict] | None = None, secrets: list[str] | None = None) -> str:
    """The calls offered; `secrets` (the names of those given) are said in `type`'s description."""
    text = "\n\n".join(f"### {call.name}\nCall rule: `{call.rule}`\n{call.describe(secrets)}\n"
                       f"{json.dumps(call.parameters(POINT))}" for call in offered_calls(skills))
    return f"{text}\n\nSkills:\n{skills_text(skills)}" if skills else text


def build_content(task: str, turns: list[Turn], memory: str, screenshot_png: bytes,
                  feedback: str | None = None, skills: list[dict] | None = None,
                  task_image_png: bytes | None = None, secrets: list[str] | None = None) -> list[dict]:
    """The content parts of the step's single user message; `task_image_png` follows the task's text
    (a demonstration's repair shows the target as it was recorded)."""
    parts: list[dict] = []
    text = f"{HEADER}\n\n# Task:\n{task}"
    if task_image_png is not None:
        parts += [{"type": "text", "text": text}, image_part(task_image_png)]
        text = ""
    text += (f"\n\n# Task Platform\nUbuntu\n\n# Action Space\n\n"
             f"{action_space_text(skills, secrets)}\n\n# Historical Actions and Current Memory\nHistory:")
    for number, turn in enumerate(turns, 1):
        if turn.image_png is None:
            text += f"\nstep {number}: Screenshot:(Omitted in context.) Thought: {turn.thought}\nAction: {turn.call}"
            continue
        parts += [{"type": "text", "text": text + f"\nstep {number}: Screenshot:"}, image_part(turn.image_png)]
        text = f" Thought: {turn.thought}\nAction: {turn.call}"
    text += f"\nMemory:\n{memory}\n\n{OUTPUT_FORMAT}"
    if feedback:
        text += f"\n\n# Correction\n{feedback}"
    text += "\n\nCurrent screenshot:"
    parts += [{"type": "text", "text": text}, image_part(screenshot_png)]
    return parts


def tools_task_text(task: str) -> str:
    """The text of the tools dialect's first user message; the screenshot follows it."""
    return f"{HEADER}\n\n# Task:\n{task}\n\n# Task Platform\nUbuntu\n\n{TOOLS_NOTES}\n\nCurrent screenshot:"
