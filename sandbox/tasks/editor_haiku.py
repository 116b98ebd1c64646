"""Model-only: writing text of its own."""

from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    text = end.file("haiku.txt")
    if text is None:
        return False
    lines = [line for line in text.splitlines() if line.strip()]
    return len(lines) == 3 and "fox" in text.lower() and "Line 1:" not in text


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=20, check=check, model_only=True,
            instruction="Replace the whole document with a three-line haiku about a fox and save it as haiku.txt.")
