# resilience.ops: an Ansible collection of Go binary modules.
# `make help` lists the targets.

SHELL        := /bin/bash
GO           ?= go
PREFIX       ?= /usr/local
SBINDIR      ?= $(PREFIX)/sbin
# Modules built for every target platform and placed where the action plugins find them.
MODULES      := qos_guard retry_manager qos_guard_release
# Command-line tools that `make install` puts in $(SBINDIR).
TOOLS        := qos_guard retry_backoff qos_guard_release
# The names of the shell scripts these tools replace, which existing CI jobs call: installed as
# symlinks to the tools (<script name>:<tool>), so the same binary runs, with the same exit codes.
SCRIPT_NAMES := retry_backoff.sh:retry_backoff qos_guard.sh:qos_guard
PLATFORMS    := linux/amd64 linux/arm64 windows/amd64
BIN_DIR      := plugins/modules/__bin
HOST_BIN_DIR := build/bin
GOFLAGS_REL  := -trimpath -ldflags='-s -w'
VERSION      := $(shell sed -n 's/^version: *//p' galaxy.yml)
DIST         := dist/resilience-ops-$(VERSION).tar.gz
GO_SOURCES   := $(shell find internal -name '*.go' -not -name '*_test.go') go.mod go.sum

export CGO_ENABLED := 0

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# One static binary per module and platform: plugins/modules/__bin/<module>_<goos>_<goarch>[.exe]
MODULE_BINS := $(foreach m,$(MODULES),$(foreach p,$(PLATFORMS),$(BIN_DIR)/$(m)_$(subst /,_,$(p))$(if $(findstring windows,$(p)),.exe)))

.PHONY: build
build: $(MODULE_BINS) $(addprefix $(HOST_BIN_DIR)/,$(TOOLS)) ## Cross-compile every module for every platform, and the CLI tools for this host

$(BIN_DIR)/%: $(GO_SOURCES)
	@mkdir -p $(BIN_DIR)
	@name=$(basename $*); mod=$${name%_*_*}; plat=$${name#$${mod}_}; \
	  goos=$${plat%_*}; goarch=$${plat#*_}; \
	  echo "go build $$mod for $$goos/$$goarch"; \
	  GOOS=$$goos GOARCH=$$goarch $(GO) build $(GOFLAGS_REL) -o $@ ./internal/cmd/$$mod

$(HOST_BIN_DIR)/%: $(GO_SOURCES)
	@mkdir -p $(HOST_BIN_DIR)
	$(GO) build $(GOFLAGS_REL) -o $@ ./internal/cmd/$*

.PHONY: dist
dist: build ## Build the collection tarball (dist/) with ansible-galaxy
	@mkdir -p dist
	ansible-galaxy collection build --force --output-path dist .

.PHONY: install
install: $(addprefix $(HOST_BIN_DIR)/,$(TOOLS)) ## Install the command-line tools in $(SBINDIR), also as retry_backoff.sh and qos_guard.sh
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(addprefix $(HOST_BIN_DIR)/,$(TOOLS)) $(DESTDIR)$(SBINDIR)/
	@for pair in $(SCRIPT_NAMES); do \
	  echo "ln -sf $${pair#*:} $(DESTDIR)$(SBINDIR)/$${pair%%:*}"; \
	  ln -sf "$${pair#*:}" "$(DESTDIR)$(SBINDIR)/$${pair%%:*}" || exit 1; \
	done

.PHONY: deps
deps: ## Install the Debian packages the demo and tests use, when missing
	@.ci/deps

.PHONY: test
test: deps ## Run every test: lint, Go unit tests, Ansible integration tests, the demo
	@$(MAKE) --no-print-directory lint unit fuzz demo integration

.PHONY: lint
lint: vet fmt-check yamllint ansible-lint observability ## go vet, gofmt, yamllint, ansible-lint, alert rules and dashboard

.PHONY: vet
vet:
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...

.PHONY: fmt-check
fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: yamllint
yamllint:
	yamllint --strict .

.PHONY: ansible-lint
ansible-lint: ## ansible-lint (production profile) with this checkout as resilience.ops
	@mkdir -p build/lint/ansible_collections/resilience
	@ln -sfn $(CURDIR) build/lint/ansible_collections/resilience/ops
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/build/lint ansible-lint --offline --strict

.PHONY: observability
observability: ## promtool: the alerting rules and their unit tests, the dashboard's PromQL
	observability/check.sh

.PHONY: unit
unit: ## Go unit and end-to-end tests (real processes, local servers)
	CGO_ENABLED=1 $(GO) test -race -count=1 ./...

.PHONY: fuzz
fuzz: ## Every Go fuzz target for a short fixed time (FUZZ_TIME, default 5s)
	tests/fuzz.sh $(FUZZ_TIME)

.PHONY: integration
integration: dist ## Ansible integration targets with ansible-test integration --local, on the installed tarball
	tests/integration/run.sh $(DIST)

.PHONY: bench
bench: dist ## Benchmarks against what users would otherwise use; writes bench/out/report.md (never fails on a number)
	tests/bench/run.sh $(DIST)

.PHONY: demo
demo: deps dist ## Run the demo story against localhost
	tests/demo/run.sh $(DIST)

.PHONY: clean
clean: ## Remove build outputs
	rm -rf $(BIN_DIR) build dist tests/output
