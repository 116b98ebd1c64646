"""Scrolling: Uruguay is far down the country list."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    submitted = end.submitted()
    return submitted is not None and submitted["country"] == "Uruguay"


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=20, check=check,
            instruction="select Uruguay from Country, then click Submit")
