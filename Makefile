# scaleapp: `make run` serves locally, `make test` runs the whole suite (it installs its tools first).
SHELL := /bin/bash
.DEFAULT_GOAL := help

MODULE  := github.com/scaleapp/scaleapp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
# amd64 (x86_64 instances) or arm64 (Graviton); the Packer template passes the same choice.
GOARCH  ?= amd64
LDFLAGS := -s -w -X $(MODULE)/service/buildinfo.Version=$(VERSION) -X $(MODULE)/service/buildinfo.Commit=$(COMMIT)
BIN     := bin/scaleapp

# Where scripts/install-tools.sh puts the pinned tools (outside the repo, kept between runs).
export SCALEAPP_TOOLS ?= $(HOME)/.cache/scaleapp-tools
export PATH := $(SCALEAPP_TOOLS)/bin:$(PATH)
export PACKER_PLUGIN_PATH ?= $(SCALEAPP_TOOLS)/packer-plugins

.PHONY: help run build tools test test-go test-plugin lint test-image test-container bench \
	image image-run bake smoke scale-test clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# Locally there is no instance metadata: IMDS_DISABLED keeps the service from asking 169.254.169.254.
run: ## serve on :8080 (PORT=... to change), logs on the console
	IMDS_DISABLED=$${IMDS_DISABLED:-true} go run -ldflags "$(LDFLAGS)" ./service/cmd/scaleapp

build: ## the static binary bin/scaleapp (GOARCH=arm64 for Graviton)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./service/cmd/scaleapp
	@ls -l $(BIN) | awk '{print "built $(BIN) ($(VERSION), $(COMMIT), $(GOARCH)):", $$5, "bytes"}'

tools: ## install the pinned test and bake tools into ~/.cache/scaleapp-tools, and our Packer plugin
	scripts/install-tools.sh
	packer/plugin/install.sh

test: tools ## the full suite: Go tests, plugin tests, lint, terraform tests, image boot + bake, container, fleet lab
	@t0=$$SECONDS; \
	$(MAKE) --no-print-directory test-go test-plugin lint test-terraform test-image test-container test-lab && \
	echo "make test: all green in $$((SECONDS - t0)) s"

# -p 1: test binaries run one at a time, so the CPU-accuracy and latency tests do not compete with the
# scale-test's local fleet burning every core.
test-go: ## go vet + go test (race) of the service, contract and scripts
	go vet ./...
	go test -race -count=1 -p 1 ./...

test-plugin: ## the Packer plugin's own module, then its acceptance run with the real packer
	cd packer/plugin && go vet ./... && go test -race -count=1 ./...
	packer/plugin/acceptance.sh

lint: build ## gofmt, shellcheck, terraform (fmt, tflint, tfsec, docs), packer (fmt, validate), Jenkinsfile
	scripts/lint.sh

.PHONY: test-terraform
test-terraform: ## terraform init (provider mirror if any) + validate against the AWS provider schema + terraform test (mocked AWS) + offline destroy plan
	terraform/test/terraform-test.sh

test-image: build ## systemd boot test of the baked unit + local packer bake through the health gate
	packer/test/image-test.sh

test-container: build ## the container delivery path, built and run with podman
	container/test.sh

.PHONY: lab test-lab
lab: build ## the fleet lab at real speed: image instances behind HAProxy, 7 scenarios under load (root)
	scripts/lab.sh

# The same lab with every health check time and the drain divided by 5 (checks every 1 s, drain 3 s).
test-lab: build ## the fleet lab at time scale 1/5 (about 2.5 min)
	LAB_TIME_SCALE=5 scripts/lab.sh

image: build ## container image scaleapp:$(VERSION) from bin/scaleapp (podman, else docker)
	VERSION=$(VERSION) COMMIT=$(COMMIT) scripts/image.sh build

image-run: ## run the container image on PORT (default 8080)
	VERSION=$(VERSION) scripts/image.sh run

bake: build ## packer build of the golden AMI in AWS_REGION (AWS credentials from the default chain)
	VERSION=$(VERSION) COMMIT=$(COMMIT) scripts/bake.sh build

smoke: ## smoke test a deployed stack: make smoke URL=http://ALB [N=20] [EXPECTED=2]
	scripts/smoke.sh "$(URL)" $(or $(N),20) $(or $(EXPECTED),2)

scale-test: ## scale test of the deployed stack: MODE=scale-out (default) or replace; STRESS_TOKEN from the env
	scripts/scale-test.sh $(or $(MODE),scale-out)

bench: ## benchmark figures for the README (startup, throughput, CPU fill, /health under load, RSS, drain)
	scripts/bench.sh

clean: ## remove build outputs
	rm -rf bin dist
