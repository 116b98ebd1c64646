"""Fill in the email, tick the check box, submit."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task


def check(end: EndState) -> bool:
    submitted = end.submitted()
    return submitted is not None and submitted["email"] == "ada@example.com" and submitted["subscribe"] is True


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=10, check=check,
            instruction='type "ada@example.com" into Email, tick Subscribe, click Submit')
