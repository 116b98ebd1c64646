"""Skills: demonstration skills in folders (NAME/skill.json and the episode) and Python skills in
*.py files here; see agent/demos/skills.py. `gui-agent skills list` shows them."""
