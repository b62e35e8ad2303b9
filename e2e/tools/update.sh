#!/usr/bin/env bash
# Point the tools modules at other releases, then run build.sh:
#
#   e2e/tools/update.sh v1.37.2 v3.7.3     # kube-apiserver, etcd
#
# kube/go.mod requires k8s.io/kubernetes at the given version, with one
# replace line per staging module that k8s.io/kubernetes requires at the
# fake version v0.0.0 (the list changes between releases: it is read from
# that release's own go.mod), each pointed at v0.MINOR.PATCH.
# etcd/go.mod requires go.etcd.io/etcd/server/v3 at the given version.
# Both are tidied; commit go.mod and go.sum.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
k8s=${1:?usage: update.sh KUBERNETES-VERSION [ETCD-VERSION]}
etcd=${2:-}
[[ $k8s =~ ^v1\.([0-9]+\.[0-9]+)$ ]] || { echo "update.sh: want a release like v1.37.2, got $k8s" >&2; exit 1; }
staging=v0.${BASH_REMATCH[1]}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

gomod=$(cd "$here/kube" && go mod download -json "k8s.io/kubernetes@$k8s" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
[[ -f $gomod ]] || { echo "update.sh: no go.mod for k8s.io/kubernetes@$k8s" >&2; exit 1; }
{
	sed -n '1,/^module /{/^module /!p}' "$here/kube/go.mod"
	cat <<MOD
module github.com/kubernetai/kubernetai/e2e/tools/kube

go $(awk '$1 == "go" { print $2; exit }' "$gomod")

tool (
	k8s.io/kubernetes/cmd/kube-apiserver
	k8s.io/kubernetes/cmd/kubectl
)

require k8s.io/kubernetes $k8s

replace (
MOD
	awk -v v="$staging" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { printf "\t%s => %s %s\n", $1, $1, v }' "$gomod" | sort -u
	echo ")"
} >"$here/kube/go.mod.new"
mv "$here/kube/go.mod.new" "$here/kube/go.mod"
(cd "$here/kube" && go mod tidy)

if [[ -n $etcd ]]; then
	(cd "$here/etcd" && go get "go.etcd.io/etcd/server/v3@$etcd" && go mod tidy)
fi
echo "update.sh: kube-apiserver $k8s (staging $staging)${etcd:+, etcd $etcd}; now run $here/build.sh" >&2
