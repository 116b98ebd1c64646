"""Key chords on an open file: select all, replace, save in place."""

from sandbox.tasks import EDITOR_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    return end.file("todo.txt") == "buy bread" and end.files() == ["todo.txt"]


TASK = Task(app="editor", geometry=EDITOR_GEOMETRY, max_steps=8, check=check,
            files={"todo.txt": "buy milk\n"}, args=("--open", "{work}/todo.txt"),
            instruction='press ctrl+a, type "buy bread", press ctrl+s')
