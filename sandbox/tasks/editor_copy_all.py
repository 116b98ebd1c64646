"""The Edit menu, then ctrl+c: the whole document ends on the clipboard."""

from sandbox.apps.editor import DEFAULT_TEXT
from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    return end.selection("clipboard") == DEFAULT_TEXT


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=8, check=check,
            instruction='click Edit, click "Select All", press ctrl+c')
