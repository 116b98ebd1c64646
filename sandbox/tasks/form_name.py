"""Easy: type a name into the demo form and submit it."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    submitted = end.submitted()
    return submitted is not None and submitted["name"] == "Ada Lovelace"


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=8, check=check,
            instruction='type "Ada Lovelace" into Name, then click Submit')
