# treue — make targets. `make help` lists them.

# Pinned tool versions; each is built with `go install` into bin/, never downloaded
# as a prebuilt binary.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION    ?= v2.15.0
HELM_VERSION             ?= v3.22.0
KUBE_VERSION             ?= v1.37.2
ETCD_VERSION             ?= v3.6.16
# kube-api-linter has no releases yet: a pseudo-version of its module.
KUBE_API_LINTER_VERSION  ?= v0.0.0-20260716143926-092fe0c72997

export GOTOOLCHAIN := local
export KUBE_VERSION ETCD_VERSION

LOCALBIN       := $(CURDIR)/bin
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT  := $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
KUBE_API_LINTER := $(LOCALBIN)/golangci-lint-kube-api-linter-$(KUBE_API_LINTER_VERSION)
HELM           := $(LOCALBIN)/helm-$(HELM_VERSION)
VERSION        ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS        := -X github.com/treue-dev/treue/internal/version.Version=$(VERSION)
IMAGE_REPO     ?= ghcr.io/treue-dev/treue
IMAGE          ?= $(IMAGE_REPO):$(VERSION)

# envtest finds etcd and kube-apiserver here; hack/control-plane.sh builds them.
KUBEBUILDER_ASSETS = $(shell hack/control-plane.sh assets)
KUBECTL            = $(KUBEBUILDER_ASSETS)/kubectl

.PHONY: all
all: build

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and the admission policies into config/ and the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=manager crd:allowDangerousTypes=false paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	hack/sync-chart.sh
	go run ./hack/admission-policy
	go run ./hack/event-schemas

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint kube-api-linter shellcheck ## Run golangci-lint (depguard keeps the packages' boundaries), kube-api-linter over api/ and shellcheck.
	$(GOLANGCI_LINT) run ./...
	$(KUBE_API_LINTER) run -c .golangci-kal.yml ./api/...
	shellcheck -x .ci/run hack/*.sh hack/cluster/*.sh

.PHONY: shellcheck
shellcheck: # Debian's shellcheck (`.ci/run` installs it when missing).
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: apt-get install shellcheck (Debian), brew install shellcheck (macOS)" >&2; exit 1; }

.PHONY: envtest
envtest: ## Build etcd, kube-apiserver and kubectl from source (cached) for envtest.
	hack/control-plane.sh build etcd kube-apiserver kubectl

.PHONY: test
test: manifests generate vet envtest helm ## Run all tests against a real kube-apiserver.
	KUBEBUILDER_ASSETS="$(KUBEBUILDER_ASSETS)" TREUE_HELM="$(HELM)" \
	TREUE_TEST_POSTGRES_DSN="$${TREUE_TEST_POSTGRES_DSN:-$$(hack/postgres.sh --if-possible)}" \
	go test ./... -count=1

##@ Benchmarks

.PHONY: bench-ledger
bench-ledger: ## Measure the ledger's write throughput on SQLite and PostgreSQL against a one-row-commit floor.
	TREUE_TEST_POSTGRES_DSN="$${TREUE_TEST_POSTGRES_DSN:-$$(hack/postgres.sh)}" go run ./bench/ledger $(BENCH_FLAGS)

.PHONY: bench-accrual
bench-accrual: ## Measure the accrual service over loopback HTTP against a bare net/http handler.
	TREUE_TEST_POSTGRES_DSN="$${TREUE_TEST_POSTGRES_DSN:-$$(hack/postgres.sh)}" go run ./bench/accrual $(BENCH_FLAGS)

.PHONY: bench-settlement
bench-settlement: ## Measure the netting engine on 1,000,000 entries against a bare sum of the same entries.
	go run ./bench/settlement $(BENCH_FLAGS)

.PHONY: bench-operator
bench-operator: envtest build ## Measure the operator at scale against envtest: time to settle, RSS, idle writes.
	KUBEBUILDER_ASSETS="$(KUBEBUILDER_ASSETS)" go run ./bench/operator $(BENCH_FLAGS)

##@ Build and run

.PHONY: build
build: ## Build the treue binary into bin/treue.
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/treue .

.PHONY: image
image: ## Build the treue image without a container engine: bin/treue-image.tar, tagged $(IMAGE).
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "$(LDFLAGS)" -o $(LOCALBIN)/linux-amd64/treue .
	go run ./hack/image --binary $(LOCALBIN)/linux-amd64/treue --tag $(IMAGE) --version $(VERSION) --out $(LOCALBIN)/treue-image.tar

.PHONY: cluster-up
cluster-up: ## A real single-node cluster on this machine, built from source (Linux, root): bin/cluster/kubeconfig.
	hack/cluster.sh up

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and remove what it created.
	hack/cluster.sh down

.PHONY: e2e
e2e: helm ## The end-to-end suite on a real cluster: the local one (Linux, root) unless KUBECONFIG is set.
	HELM="$(HELM)" hack/e2e.sh

.PHONY: docker-build
docker-build: ## Build the image with Docker instead (a distroless static base), tagged $(IMAGE).
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

.PHONY: run
run: envtest build helm ## The samples running: on KUBECONFIG, else the local cluster (Linux, root), else a control plane without a node.
	HELM="$(HELM)" hack/run.sh

.PHONY: install
install: envtest ## Install the CRDs into the cluster in KUBECONFIG.
	$(KUBECTL) apply --server-side --field-manager=treue-install -f config/crd/bases

.PHONY: uninstall
uninstall: envtest ## Remove the CRDs (and every object of their kinds) from the cluster in KUBECONFIG.
	$(KUBECTL) delete --ignore-not-found -f config/crd/bases

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $@

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(LOCALBIN)/golangci-lint $@

# kube-api-linter ships as a golangci-lint with the linter built in.
.PHONY: kube-api-linter
kube-api-linter: $(KUBE_API_LINTER)
$(KUBE_API_LINTER):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter@$(KUBE_API_LINTER_VERSION)
	mv $(LOCALBIN)/golangci-lint-kube-api-linter $@

.PHONY: helm
helm: $(HELM)
$(HELM):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(LOCALBIN)/helm $@
