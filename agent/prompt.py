"""The one user message GLM-4.5V gets at each step, in the structure its GUI agent was trained on:
header, task, platform, action space, history (last 4 screenshots at half size), memory,
output format, then the current screenshot full size."""

import base64
import json
from dataclasses import dataclass

HISTORY_IMAGES = 4

_POINT = {"type": "string", "description": "'[x,y]' in thousandths (0-999) of the screenshot"}
_INFO = {"type": "string", "description": "short description of the target element"}
ACTION_SPACE = [
    ("left_click", "left_click(start_box='[x,y]', element_info='')", "Click the left mouse button at a point.",
     {"start_box": _POINT, "element_info": _INFO}),
    ("right_click", "right_click(start_box='[x,y]', element_info='')", "Click the right mouse button at a point.",
     {"start_box": _POINT, "element_info": _INFO}),
    ("middle_click", "middle_click(start_box='[x,y]', element_info='')", "Click the middle mouse button at a point.",
     {"start_box": _POINT, "element_info": _INFO}),
    ("hover", "hover(start_box='[x,y]', element_info='')", "Move the pointer to a point without clicking.",
     {"start_box": _POINT, "element_info": _INFO}),
    ("left_double_click", "left_double_click(start_box='[x,y]', element_info='')", "Double-click at a point.",
     {"start_box": _POINT, "element_info": _INFO}),
    ("left_drag", "left_drag(start_box='[x1,y1]', end_box='[x2,y2]', element_info='')",
     "Press the left button at start_box, move to end_box and release.",
     {"start_box": _POINT, "end_box": _POINT, "element_info": _INFO}),
    ("key", "key(keys='')", "Press a key or a combination joined by '+', e.g. 'ctrl+c', 'alt+tab', 'enter'.",
     {"keys": {"type": "string"}}),
    ("type", "type(content='')", "Type text at the keyboard focus. It does not click or clear the field first.",
     {"content": {"type": "string"}}),
    ("scroll", "scroll(start_box='[x,y]', direction='down or up', step=5, element_info='')",
     "Scroll the wheel over a point; step is the number of wheel notches.",
     {"start_box": _POINT, "direction": {"type": "string", "enum": ["down", "up"]},
      "step": {"type": "integer", "minimum": 1}, "element_info": _INFO}),
    ("WAIT", "WAIT()", "Wait about 5 seconds for the screen to change.", {}),
    ("DONE", "DONE()", "The task is finished.", {}),
    ("FAIL", "FAIL()", "The task cannot be done.", {}),
]

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


@dataclass
class Turn:
    """One earlier step as the model sees it in the history."""

    thought: str
    call: str
    image_png: bytes | None  # half-size screenshot; None once it is older than HISTORY_IMAGES


def image_part(png: bytes) -> dict:
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return {"type": "image_url", "image_url": {"url": url}}


def action_space_text() -> str:
    sections = []
    for name, rule, meaning, params in ACTION_SPACE:
        schema = {"type": "object", "properties": params, "required": [k for k in params if k != "element_info"]}
        sections.append(f"### {name}\nCall rule: `{rule}`\n{meaning}\n{json.dumps(schema)}")
    return "\n\n".join(sections)


def build_content(task: str, turns: list[Turn], memory: str, screenshot_png: bytes,
                  feedback: str | None = None) -> list[dict]:
    """The content parts of the step's single user message."""
    text = (f"{HEADER}\n\n# Task:\n{task}\n\n# Task Platform\nUbuntu\n\n# Action Space\n\n"
            f"{action_space_text()}\n\n# Historical Actions and Current Memory\nHistory:")
    parts: list[dict] = []
    for number, turn in enumerate(turns, 1):
        if turn.image_png is None:
            text += f"\nstep {number}: Screenshot: (omitted in context) Thought: {turn.thought}\nAction: {turn.call}"
            continue
        parts += [{"type": "text", "text": text + f"\nstep {number}: Screenshot:"}, image_part(turn.image_png)]
        text = f" Thought: {turn.thought}\nAction: {turn.call}"
    if not turns:
        text += "\n(no earlier steps)"
    text += f"\nMemory:\n{memory}\n\n{OUTPUT_FORMAT}"
    if feedback:
        text += f"\n\n# Correction\n{feedback}"
    text += "\n\nCurrent screenshot:"
    parts += [{"type": "text", "text": text}, image_part(screenshot_png)]
    return parts
