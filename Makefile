# The README's two commands: `make demo` and `make test`. Both install what they need first.
.PHONY: bootstrap demo test unit lint bench-serve bench-apply bench-rollout bench-status bench-first-run bench-front bench-image clean-sandboxes

VENV := .venv
PY := $(VENV)/bin/python

bootstrap:
	./scripts/bootstrap.sh

# demo.sh and test.sh run bootstrap themselves, as their first timed phase.
demo:
	./scripts/demo.sh

test:
	./scripts/test.sh

unit: bootstrap
	$(VENV)/bin/pytest tests/unit -q

bench-serve: bootstrap
	$(PY) bench/serve/run.py

bench-apply: bootstrap
	$(PY) bench/apply/run.py

bench-rollout: bootstrap
	$(PY) bench/rollout/run.py

bench-status: bootstrap
	$(PY) bench/status/run.py

bench-first-run: bootstrap
	$(PY) bench/first-run/run.py

bench-front: bootstrap
	$(PY) bench/front/run.py

bench-image: bootstrap
	$(PY) bench/image/compress.py

lint: bootstrap
	$(VENV)/bin/ruff check fleetdeploy tests bench

clean-sandboxes: bootstrap
	$(VENV)/bin/fleetdeploy sandbox down --all
