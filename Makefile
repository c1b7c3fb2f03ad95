# Two commands matter: `make test` (installs everything it needs, runs every check) and `make up STACK=foo`.
SHELL := /bin/bash
STACK ?= foo
VENV ?= venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
TOOLS := .tools
CHECKOV := $(TOOLS)/checkov/bin/checkov
PYTHON ?= python3
GO = $(shell $(PY) -c 'import go, os; print(os.path.join(os.path.dirname(go.__file__), "bin", "go"))')
GOENV = GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOCACHE=$(CURDIR)/build/gocache GOPATH=$(CURDIR)/build/gopath
APP := apps/helloworld
PYSRC := infra tests policy tools __main__.py

.PHONY: test lint go-test pytest plan snapshot up preview destroy kubeconfig verify watch swap-node install tools upgrade-check snapshot-db pulumi-cli

# ---------------------------------------------------------------- setup (idempotent; a stamp per requirements)
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || { $(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip >/dev/null; $(PY) -m pip install -q uv==0.13.9; }
	$(UV) pip install -q --compile-bytecode -p $(PY) -r requirements-dev.txt
	touch $@

$(CHECKOV): requirements-checkov.txt | $(VENV)/.installed
	# checkov pins an old `packaging` that breaks pulumi, so it gets a venv of its own.
	$(UV) venv -q -p $(PY) $(TOOLS)/checkov
	$(UV) pip install -q --compile-bytecode -p $(TOOLS)/checkov/bin/python -r requirements-checkov.txt
	touch $@

install: $(VENV)/.installed
tools: $(CHECKOV)

# ---------------------------------------------------------------- checks
test: lint go-test pytest

lint: install
	$(VENV)/bin/ruff check $(PYSRC)
	$(VENV)/bin/ruff format --check $(PYSRC)
	$(VENV)/bin/mypy $(PYSRC)

go-test: install
	cd $(APP) && test -z "$$($(dir $(GO))gofmt -l .)" || { echo "gofmt: run gofmt -w $(APP)"; exit 1; }
	cd $(APP) && $(GOENV) $(GO) vet ./... && $(GOENV) $(GO) test -race -count=1 ./...

# One worker per core, a test file per worker at a time (module fixtures are built once). `make pytest` alone:
# about a minute on 2 cores; the serial run (`$(PY) -m pytest -q`) takes about 100 s.
pytest: install tools
	$(PY) -m pytest -q -n auto --dist loadfile

# ---------------------------------------------------------------- offline preview (mocks; no AWS needed)
plan: install
	$(PY) tools/plan.py $(STACK)

snapshot: install
	$(PY) tools/plan.py $(STACK) --write-snapshot

# ---------------------------------------------------------------- a real account (Pulumi CLI + AWS credentials)
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

up: install pulumi-cli
	$(pulumi_login)
	pulumi up -s $(STACK)

preview: install pulumi-cli
	$(pulumi_login)
	pulumi preview -s $(STACK) --policy-pack policy

kubeconfig: install
	$(PY) -m infra.ops kubeconfig $(STACK) $(ARGS)

verify: install
	$(PY) -m infra.ops verify $(STACK) $(ARGS)

watch: install
	$(PY) -m infra.ops watch $(STACK) $(ARGS)

swap-node: install
	$(PY) -m infra.ops swap-node $(STACK) $(NODE) $(ARGS)

destroy: install
	$(PY) -m infra.ops destroy $(STACK) $(ARGS)

upgrade-check: install
	$(PY) -m infra.ops upgrade-check $(STACK) $(if $(TO),--to $(TO)) $(ARGS)

snapshot-db: install
	$(PY) -m infra.ops snapshot $(STACK) $(ARGS)
