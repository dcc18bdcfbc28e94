# The two commands: `make demo` and `make test`. Everything else is a step they share.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup system clean

demo: setup
	$(BIN)/shian demo

test: setup
	bash scripts/test.sh

setup: system $(STAMP)

# System packages (Chromium, CJK fonts, PDF tools, a C compiler): installed only when missing.
system:
	PYTHON=$(PYTHON) bash scripts/ensure-system.sh

# setup.py compiles nlp/*.pyx (Cython) into the source tree; an edited kernel is rebuilt here
$(STAMP): pyproject.toml setup.py $(wildcard nlp/*.pyx)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .search-node build nlp/*.c nlp/*.so
