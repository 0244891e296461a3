# Two commands for a newcomer: `make run` (install and serve on the embedded defaults) and
# `make test` (install and run the test suite). Both create .venv on first use, installing the
# exact versions in requirements.lock (checked against their hashes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint lock bench bench-quick demo clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# On first use: a config.toml of your own, with a fresh secret key (serve refuses the example's).
config.toml: | $(STAMP)
	$(BIN)/mediate init .

run: $(STAMP) config.toml
	$(BIN)/mediate serve

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check threads mailgate mediate tests bench

# After changing the dependencies in pyproject.toml: pin them again, with hashes.
lock: $(STAMP)
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links --extra test --extra postgresql \
		-o requirements.lock pyproject.toml

demo: $(STAMP)
	$(BIN)/mediate demo

bench: $(STAMP)
	$(BIN)/python -m bench.run --full

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) var .pytest_cache
