"""File > Save As...: the window title names the saved file."""

from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    return "report.txt - Demo Editor" in end.window_titles() and end.file("report.txt") is not None


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=10, check=check,
            instruction='click File, click "Save As...", type "report.txt" into "File name", click Save')
