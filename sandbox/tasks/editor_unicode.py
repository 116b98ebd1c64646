"""Non-ASCII text and a non-ASCII file name."""

from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    return end.file("grüße.txt") == "Grüße aus Köln"


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=12, check=check,
            instruction='click File, click New, type "Grüße aus Köln", press ctrl+s, '
                        'type "grüße.txt" into "File name", press enter')
