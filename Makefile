# jcqnap: the two newcomer commands are `make demo` and `make test` (see README).
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.jcqnap-installed
STACK ?= local

# The local sandbox stacks live on a file:// backend inside the work tree, with a passphrase that
# is only good for the sandbox. Real stacks use your own backend and secrets provider.
export PULUMI_BACKEND_URL ?= file://$(ROOT)/.pulumi-local
export PULUMI_CONFIG_PASSPHRASE ?= jcqnap-local-sandbox-only
export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING := true
ENGINE_BIN = $(shell cat $(VENV)/.engine-bin 2>/dev/null)
# The engine's bin comes first: with jcqnap's offline build it holds the bundled Python language host
# stand-in (tools/engine/build.sh); with an official CLI, the official host.
RUN = PATH="$(ENGINE_BIN):$$PATH"

.PHONY: bootstrap test lint unit demo demo-down demo-s3 demo-s3-down preview up destroy verify bench sandbox-up sandbox-down \
	fleet-preview fleet-up fleet-verify fleet-rotate

## bootstrap: Debian packages, the venv (pinned by constraints.txt), the Pulumi engine and SeaweedFS (S3 state)
bootstrap: $(STAMP)
	@bash tools/engine/build.sh > $(VENV)/.engine-bin.tmp && tail -1 $(VENV)/.engine-bin.tmp > $(VENV)/.engine-bin && rm -f $(VENV)/.engine-bin.tmp
	@echo "bootstrap: engine $$(cat $(VENV)/.engine-bin)"
	@bash tools/seaweedfs/build.sh > $(VENV)/.weed-bin.tmp && tail -1 $(VENV)/.weed-bin.tmp > $(VENV)/.weed-bin && rm -f $(VENV)/.weed-bin.tmp
	@echo "bootstrap: SeaweedFS $$(cat $(VENV)/.weed-bin)"

$(STAMP): pyproject.toml constraints.txt tools/apt-deps.sh
	bash tools/apt-deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## test: everything the tests need, then ruff, mypy and pytest (unit, integration, e2e)
test: bootstrap lint
	$(RUN) $(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy jcqnap tests $(wildcard bench) tools/engine/langhost.py

unit: $(STAMP)
	$(PY) -m pytest tests/unit

## demo: bring the sandbox up, deploy the directory and both site stacks, prove SMB logins
demo: bootstrap
	$(RUN) $(PY) -m jcqnap.demo up

demo-down: bootstrap
	$(RUN) $(PY) -m jcqnap.demo down

## demo-s3 / demo-s3-down: the same demo with its Pulumi state in the sandbox's SeaweedFS S3 bucket
demo-s3: bootstrap
	$(RUN) $(PY) -m jcqnap.demo up --s3

demo-s3-down: bootstrap
	$(RUN) $(PY) -m jcqnap.demo down --s3

## preview/up/destroy STACK=<name>: the real pulumi CLI on stacks/Pulumi.<name>.yaml, exit code passed through
preview: bootstrap
	$(RUN) $(PY) -m jcqnap.demo preview $(STACK)

up: bootstrap
	$(RUN) $(PY) -m jcqnap.demo up-stack $(STACK)

destroy: bootstrap
	$(RUN) $(PY) -m jcqnap.demo destroy $(STACK)

## verify STACK=<name>: check the whole chain (TLS bind, groups, Samba attributes, NAS workgroup and status)
verify: bootstrap
	$(RUN) $(PY) -m jcqnap verify --stack $(STACK)

## fleet-preview|fleet-up|fleet-verify|fleet-rotate [STACKS='glob ...'] [PARALLEL=N]: the directory stack, then
## every site in parallel, with a summary table; exit 0 clean, 7 drift, 1 failure (make reports any failure as 2)
STACKS ?= 'local-*'
PARALLEL ?= 4
fleet-preview fleet-up fleet-verify fleet-rotate: bootstrap
	$(RUN) $(PY) -m jcqnap fleet $(patsubst fleet-%,%,$@) --stacks $(STACKS) --parallel $(PARALLEL)

sandbox-up: bootstrap
	$(PY) -m jcqnap.sandbox up

sandbox-down: $(STAMP)
	$(PY) -m jcqnap.sandbox down

## bench: API calls, SSH sessions and wall time against baselines (not part of `make test`)
bench: bootstrap $(VENV)/.jcqnap-bench-installed
	$(RUN) $(PY) bench/run.py

# matplotlib draws the scale plot; only the bench needs it.
$(VENV)/.jcqnap-bench-installed: pyproject.toml constraints.txt
	$(PY) -m pip install -q -c constraints.txt -e '.[bench]'
	touch $@
