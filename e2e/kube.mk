# e2e/kube.mk: real kube-apiserver and etcd for the end-to-end tests.
# Included from the main Makefile. The binaries are built from the tools
# modules in e2e/tools/ (sources only are committed) and cached under
# $(KUBERNETAI_CACHE)/kube/<kubernetes version>/; see e2e/README.md.
#
#   make kube-binaries   build them (cold ~7 min on 2 cores, then free)
#   make test-kube       the harness's own tests (etcd + 2 apiservers)
#   make kube-update KUBE_VERSION=v1.37.2 ETCD_VERSION=v3.7.3
#                        point the tools modules at other releases

KUBE_E2E := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
# The cache the tests read too (the main Makefile's CACHE when it has one).
export KUBERNETAI_CACHE ?= $(or $(CACHE),$(HOME)/.cache/kubernetai)

.PHONY: kube-binaries
kube-binaries:
	bash $(KUBE_E2E)/tools/build.sh

# Built before the e2e tests run, so a cold build is not inside go test's
# -timeout (go test stops a test binary 1 minute after it).
test-e2e: kube-binaries

.PHONY: test-kube
test-kube: kube-binaries
	cd $(KUBE_E2E) && go test -count=1 -v ./kube/

.PHONY: kube-update
kube-update:
	bash $(KUBE_E2E)/tools/update.sh $(KUBE_VERSION) $(ETCD_VERSION)
