# Build, test, lint, deploy and demo targets. `make demo` runs the main job against the local emulator; `make test`
# runs every test. Both set up their Python environment (.venv) themselves; `make lint` has its own (.venv-lint).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
LINT_VENV := .venv-lint
export EMULATOR_PYTHON := $(abspath $(VENV_PY))
export PATH := $(abspath $(VENV))/bin:$(PATH)
STACK ?= guardduty-enabler

.PHONY: all venv chromium test check lint build deploy demo bench emulator emulator-stop cli clean

all: check lint test

# The emulator's Python packages and cargo-lambda, pinned in tests/requirements.txt.
$(VENV)/.installed: tests/requirements.txt tests/emulator/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

venv: $(VENV)/.installed

# Headless Chromium, for the test that opens the evidence page: Debian's package when `chromium` is not on the PATH
# (and CHROMIUM names no browser). Elsewhere install Chromium or Chrome and set CHROMIUM to its binary.
chromium:
	@if [ -n "$$CHROMIUM" ] || command -v chromium >/dev/null 2>&1; then exit 0; fi; \
	echo "installing Debian's chromium package (for the evidence page's browser test)"; \
	if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
	$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# Unit tests, system tests (feature system-tests/emulator: each starts its own emulator on a free loopback port) and
# the template tests. A bare `cargo test --workspace` runs the unit tests alone, the executor's on an in-memory cloud.
test: venv chromium
	cargo test --workspace --all-targets --features system-tests/emulator
	$(VENV_PY) -m unittest discover --start-directory tests/infra --verbose

# Formatting, lints and docs, warnings as errors.
check:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --features system-tests/emulator -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

$(LINT_VENV)/.installed: infra/requirements.txt
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

# cfn-lint and checkov on both templates (checkov's skipped checks carry their reasons in the templates).
lint: $(LINT_VENV)/.installed
	$(LINT_VENV)/bin/cfn-lint infra/template.yaml infra/admin-role.yaml infra/findings-bucket.yaml
	$(LINT_VENV)/bin/checkov --directory infra --framework cloudformation --quiet --compact --skip-download

# The deployment artifacts (target/lambda/<function>/bootstrap): arm64, the template's default, where the aarch64
# target is installed; x86_64 otherwise (deploy that build with Architecture=x86_64).
build: venv
	@if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then \
	  cargo lambda build --release --arm64 --bin bootstrapper --bin responder; \
	else \
	  echo "make build: the aarch64-unknown-linux-gnu target is not installed, so this builds x86_64; deploy it with Architecture=x86_64"; \
	  cargo lambda build --release --x86-64 --compiler cargo --bin bootstrapper --bin responder; \
	fi
	@ls -l $${CARGO_TARGET_DIR:-target}/lambda/*/bootstrap

# Deploys the management account's stack with SAM (guided the first time, when there is no samconfig.toml).
deploy:
	sam build --beta-features --template-file infra/template.yaml
	@if [ -f samconfig.toml ]; then sam deploy; else sam deploy --guided --stack-name $(STACK) --capabilities CAPABILITY_NAMED_IAM; fi

# The benchmark: onboarding latency, API calls, scale, cold start and memory of the release binaries, against the
# emulator with injected latency. Prints a table and writes BENCHMARKS.md.
bench: build
	cargo run --quiet -p system-tests --bin bench -- --lambda-dir $${CARGO_TARGET_DIR:-target}/lambda --out BENCHMARKS.md

# The local emulator, left running with a seeded organization (the management account, the delegated admin and four
# members, every default region), for trying the command line by hand: prints the variables to export. `make
# emulator-stop` stops it.
emulator: venv
	@url=$$(tests/emulator/emulator.sh start); \
	read -r management admin < <($(VENV_PY) tests/demo.py seed "$$url" 4); \
	echo "# the emulator runs at $$url (management account $$management); to try the command line:"; \
	echo "export AWS_ENDPOINT_URL=$$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing GUARDDUTY_ADMIN_ACCOUNT_ID=$$admin"; \
	echo "# then, after make cli: target/release/guardduty-enabler status   (or plan, apply, report --out DIR)"

emulator-stop:
	tests/emulator/emulator.sh stop

# The command line, release build: target/release/guardduty-enabler (or $$CARGO_TARGET_DIR/release/...).
cli:
	cargo build --release -p guardduty-enabler
	@echo "built $${CARGO_TARGET_DIR:-target}/release/guardduty-enabler"

# The main job on the local emulator, end to end (see tests/demo.sh).
demo: venv
	bash tests/demo.sh

clean:
	rm -rf $(VENV) $(LINT_VENV) .emulator .aws-sam
	cargo clean
