"""A menu, typing, then the Save As dialog confirmed with enter."""

from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    return end.file("hello.txt") == "hello world"


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=12, check=check,
            instruction='click File, click New, type "hello world", press ctrl+s, '
                        'type "hello.txt" into "File name", press enter')
