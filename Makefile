# Two commands for a newcomer: `make run` (install and serve on the embedded defaults) and
# `make test` (install and run the test suite). Both create .venv on first use, installing the
# exact versions in requirements.lock (checked against their hashes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint lock messages bench bench-quick demo clean

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

# After changing a text in the code or the templates: extract the message ids (babel.cfg) into
# threads/locale/messages.pot and update the Dutch catalog; then translate what is new or
# fuzzy in threads/locale/nl/LC_MESSAGES/messages.po (tests/test_translations.py checks).
# nl_je holds only the informal wordings and is edited by hand.
LOCALES := threads/locale
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k translate:2 -k translate_plural:2,3 \
		--add-comments=TRANSLATORS: --add-location=file --sort-by-file --project=Mediate --no-wrap \
		-o $(LOCALES)/messages.pot .
	$(BIN)/pybabel -q update -i $(LOCALES)/messages.pot -d $(LOCALES) -l nl \
		--ignore-obsolete --no-wrap --ignore-pot-creation-date

demo: $(STAMP)
	$(BIN)/mediate demo

bench: $(STAMP)
	$(BIN)/python -m bench.run --full

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) var .pytest_cache
