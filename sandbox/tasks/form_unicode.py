"""Non-ASCII typing into a field."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    submitted = end.submitted()
    return submitted is not None and submitted["name"] == "Zoë Ångström"


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=8, check=check,
            instruction='type "Zoë Ångström" into Name, click Submit')
