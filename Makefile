# The main job on the embedded planner, in a sandbox: no display, key or network needed.
DEMO_TASK = type "Ada Lovelace" into Name, then type "ada@example.com" into Email, then tick "Subscribe", \
	then select "Uruguay" from Country, then select "Large" from Size, then click "Submit"

.PHONY: demo test install
demo: install
	python3 -m agent sandbox --size 1280x800 --apps form -- python3 -m agent run --model local '$(DEMO_TASK)'

test: install
	python3 -m pytest -q

install:
	bash .ci/install
