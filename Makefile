# One-command setup: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU build that lies on this machine's disk; installed before the project so that the
# project's own torch range is already satisfied and pip never reaches for a CUDA build.
TORCH  := torch==2.13.0
# Only for the pretrained MTCNN weights in its wheel (facenet_pytorch/data/{p,r,o}net.pt); its own
# pins are stale and its code needs torchvision, so it goes in without dependencies and is never
# imported: supervised.face_detect reads the weight files into its own networks.
FACENET := facenet-pytorch==2.6.0

.PHONY: install demo test bench notebooks lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,dev,ray]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(FACENET)
	touch $@

demo: install
	$(BIN)/rlcourse figure 2.2 --out results/bandit --force

# One process per core (pytest-xdist; a module's tests stay together, so its fixtures are built
# once), each with one torch/BLAS thread: small networks gain nothing from a second thread.
test: install
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n auto --dist loadscope

# Re-execute every course notebook at its own budgets and save it with its figures.
notebooks: install
	$(BIN)/python notebooks/execute.py

bench: install
	$(BIN)/python benchmarks/bandit_vs_loop.py
	$(BIN)/python benchmarks/gridworld_vs_frozenlake.py
	$(BIN)/python benchmarks/dqn_vs_sb3.py --seeds 10
	$(BIN)/python benchmarks/sweep_backends.py
	$(BIN)/python benchmarks/faces_vs_lbp.py
	$(BIN)/python benchmarks/style_networks.py
	$(BIN)/python benchmarks/pixel_dqn_ablations.py
	$(BIN)/rlcourse sweep docs/sweeps/dqn-variants-minatar.toml --out results/dqn-variants
	$(BIN)/rlcourse aggregate results/dqn-variants --per-env --out results/dqn-variants-aggregate --force
	$(BIN)/python benchmarks/sweep_backends.py --config docs/sweeps/dqn-variants-minatar.toml --runs 1 --steps 5000 --no-ray
	cd benchmarks && ../$(BIN)/python dqn_presets_vs_sb3.py --envs LunarLander-v3 --seeds 3

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
