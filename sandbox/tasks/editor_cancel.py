"""A dialog closed without saving: nothing is written."""

from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    return (len(end.events("dialog_open")) == 1 and len(end.events("dialog_cancel")) == 1
            and not end.events("saved") and end.state.get("dialog") is None and end.files() == [])


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=6, check=check,
            instruction="press ctrl+s, then click Cancel")
