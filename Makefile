# One entry point per job. Everything installs into .venv inside the checkout.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test test-all lint demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch lies on this machine's disk; installing it first keeps every
	# later resolver from pulling a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	# The official PaSST code, for the equivalence tests only; its declared dependencies (torchaudio,
	# timm) would not load here and are not needed by the part the tests import.
	$(BIN)/pip install --quiet --no-deps hear21passt==0.0.26
	# aiSFX's weights (CC-BY-4.0). The package pins numpy 1.23 and librosa 0.9, which audioret needs
	# neither of: its own encoder reads the checkpoint file alone.
	$(BIN)/pip install --quiet --no-deps aisfx==0.1.2
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	$(BIN)/audioret demo

clean:
	rm -rf $(VENV) audioret-demo .pytest_cache
