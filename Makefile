# stemtwin: the two set-up commands are `make bench` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stemtwin-installed
OUT    ?= results

.PHONY: install test test-slow bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

test: install
	$(PY) -m pytest

test-slow: install
	$(PY) -m pytest -m slow

# The main job: quick variants of the default scenario subset (DKL-BO and rVAE), leaderboard + report.
bench: install
	mkdir -p $(OUT)
	$(VENV)/bin/stemtwin bench --quick --out $(OUT)/bench --force

clean:
	rm -rf $(VENV) build dist *.egg-info
