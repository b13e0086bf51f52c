# Build, test and demo targets. `make demo` runs the main job against the local emulator; `make test` runs
# every test. Both set up the emulator's Python environment (.venv) themselves.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
export EMULATOR_PYTHON := $(abspath $(VENV_PY))

.PHONY: all venv test check demo clean

all: check test

# The emulator's Python packages, pinned in tests/emulator/requirements.txt.
$(VENV)/.installed: tests/requirements.txt tests/emulator/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

venv: $(VENV)/.installed

# Unit tests and system tests (each system test starts its own emulator on a free loopback port).
test: venv
	cargo test --workspace --all-targets

# Formatting, lints and docs, warnings as errors.
check:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# The main job on the local emulator: seed an organization, bring it to the desired state, show before and after.
demo: venv
	bash tests/demo.sh

clean:
	rm -rf $(VENV) .emulator
	cargo clean
