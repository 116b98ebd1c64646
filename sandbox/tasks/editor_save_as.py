"""A dialog: ctrl+s on an unsaved document opens Save As."""

from sandbox.apps.editor import DEFAULT_TEXT
from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    return end.file("notes.txt") == DEFAULT_TEXT


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=10, check=check,
            instruction='press ctrl+s, type "notes.txt" into "File name", click Save')
