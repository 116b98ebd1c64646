"""Model-only: find line 150 by scrolling and looking, change one word, save."""

from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    text = end.file("line150.txt")
    if text is None:
        return False
    changed = [line for n, line in enumerate(text.splitlines(), 1) if line != f"Line {n}: the quick brown fox"]
    return changed == ["LINE 150: the quick brown fox"]


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=25, check=check, model_only=True,
            instruction="Make the first word of line 150 upper case and save the document as line150.txt.")
