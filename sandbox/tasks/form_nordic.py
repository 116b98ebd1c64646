"""Model-only: the agent must make up the values and know which countries are Nordic."""

from sandbox.tasks import FORM_GEOMETRY, EndState, Task

NORDIC = {"Denmark", "Finland", "Iceland", "Norway", "Sweden"}


def check(end: EndState) -> bool:
    submitted = end.submitted()
    return (submitted is not None and submitted["name"].strip() != "" and "@" in submitted["email"]
            and submitted["subscribe"] is True and submitted["country"] in NORDIC)


TASK = Task(app="form", geometry=FORM_GEOMETRY, max_steps=25, check=check, model_only=True,
            instruction="Register a made-up person who lives in a Nordic country, with an email address and "
                        "the newsletter subscription, and submit the form.")
