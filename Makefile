# The README's two commands. Both install what is missing first (.ci/install: Debian packages and
# .venv with the locked versions), so they work on a fresh machine whose python3 is Debian's own.
# The main job on the embedded planner, in a sandbox: no display, key or network needed.
DEMO_TASK = type "Ada Lovelace" into Name, then type "ada@example.com" into Email, then tick "Subscribe", \
	then select "Uruguay" from Country, then select "Large" from Size, then click "Submit"
PYTHON = .venv/bin/python

.PHONY: demo test test-fast lint install lock
demo: install
	$(PYTHON) -m agent sandbox --size 1280x800 --apps form -- $(PYTHON) -m agent run --model local '$(DEMO_TASK)'

test: install
	$(PYTHON) -m pytest -q

# every test that starts no X server (those are marked xvfb): a minute at most, on one worker per CPU (each
# test file on one worker, as some count what their tests tried)
test-fast: install
	$(PYTHON) -m pytest -q -m "not xvfb" -n auto --dist loadfile

# ruff (lint and import order) over all the Python, mypy over the packages; both read pyproject.toml
lint: install
	$(PYTHON) -m ruff check agent sandbox skills tests bench
	$(PYTHON) -m mypy agent sandbox skills

install:
	bash .ci/install

# requirements.lock anew from pyproject's ranges, in a throwaway environment
lock:
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,lint]'
	{ sed -n '1,2p' requirements.lock; .lock-venv/bin/python -m pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv
