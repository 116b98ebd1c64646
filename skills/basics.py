"""Python skills for any app. A skill's first parameter is the SkillContext it acts through; the
others, typed str, int, float or bool, are what `gui-agent run-skill NAME key=value` takes."""

from agent.demos.skills import SkillContext, skill


@skill
def click_text(ctx: SkillContext, text: str, double: bool = False) -> None:
    """Click the text TEXT on the screen (a button's label, a list item), once it shows."""
    ctx.click(text, count=2 if double else 1)


@skill
def type_and_press(ctx: SkillContext, text: str, key: str = "enter") -> None:
    """Type TEXT at the keyboard focus, then press KEY."""
    ctx.type(text)
    ctx.key(key)
