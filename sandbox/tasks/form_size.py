"""A drop-down: open it and pick a size."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    submitted = end.submitted()
    return submitted is not None and submitted["size"] == "Large"


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=8, check=check,
            instruction="select Large from Size, click Submit")
