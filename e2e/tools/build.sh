#!/usr/bin/env bash
# Build the real kube-apiserver and etcd that the end-to-end tests run, and the
# kubectl of the same release that the deployment test drives them with, from
# the tools modules beside this script (kube/ and etcd/), and print where they
# are:
#
#   KUBE_APISERVER=/root/.cache/kubernetai/kube/v1.37.2/kube-apiserver
#   ETCD=/root/.cache/kubernetai/kube/v1.37.2/etcd
#   KUBECTL=/root/.cache/kubernetai/kube/v1.37.2/kubectl
#
# Binaries are never committed: they are built here, once, and cached outside
# the repository under $KUBERNETAI_CACHE/kube/<kubernetes version>/ (default
# ~/.cache/kubernetai). Each binary has a .stamp beside it: a hash of its
# module's go.mod, go.sum and sources, the Go version and the build flags.
# A binary whose stamp matches is reused, anything else is rebuilt, so running
# this again is free and changing a tools module rebuilds what it builds.
# Concurrent runs (several test packages at once) take a lock and build once.
#
# Progress goes to stderr; stdout carries only the three lines above.
# A cold build takes 7 to 12 minutes on 2 cores (see e2e/README.md).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${KUBERNETAI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubernetai}

# Versions come from the committed go.mod files, the single source of truth.
modversion() { # FILE MODULE
	awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { v = ($1 == m) ? $2 : $3 } END { print v }' "$1"
}
k8s_version=$(modversion "$here/kube/go.mod" k8s.io/kubernetes)
etcd_version=$(modversion "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)
[[ $k8s_version =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || {
	echo "build.sh: cannot read the k8s.io/kubernetes version from $here/kube/go.mod (got '$k8s_version')" >&2
	exit 1
}
k8s_minor=${BASH_REMATCH[1]}
[[ -n $etcd_version ]] || {
	echo "build.sh: cannot read the go.etcd.io/etcd/server/v3 version from $here/etcd/go.mod" >&2
	exit 1
}

out="$cache/kube/$k8s_version"
mkdir -p "$out"

export CGO_ENABLED=0
# The go directive of the tools modules is honoured with the installed Go;
# never fetch a toolchain behind the user's back.
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

# The version a release build would stamp (hack/lib/version.sh), so that
# /version and the apiserver's logs tell the truth.
kube_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$k8s_version \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$k8s_minor \
 -X k8s.io/component-base/version.gitTreeState=clean"
etcd_ldflags="-s -w"

stamp() { # MODULE-DIR LDFLAGS
	{
		go version
		echo "CGO_ENABLED=$CGO_ENABLED -trimpath $2"
		cd "$1" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs sha256sum
	} | sha256sum | cut -d' ' -f1
}

build() { # NAME MODULE-DIR PACKAGE LDFLAGS
	local name=$1 dir=$2 pkg=$3 ldflags=$4
	local bin="$out/$name" want
	want=$(stamp "$dir" "$ldflags")
	if [[ -x $bin && -f $bin.stamp && $(<"$bin.stamp") == "$want" ]]; then
		echo "build.sh: $name is current ($bin)" >&2
		return
	fi
	echo "build.sh: building $name ($pkg) into $bin; a cold build takes minutes" >&2
	local start=$SECONDS
	rm -f "$bin.tmp"
	(cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin.tmp" "$pkg")
	mv -f "$bin.tmp" "$bin"
	echo "$want" >"$bin.stamp"
	echo "build.sh: built $name in $((SECONDS - start)) s" >&2
}

# One build at a time per version; later runs find the stamps current.
exec 9>"$out/.lock"
if ! flock -n 9; then
	echo "build.sh: another build of $k8s_version is under way; waiting for it" >&2
	flock 9
fi

build kube-apiserver "$here/kube" k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"
# kubectl shares most of its packages with kube-apiserver (same module, same
# build flags), so after it only its own ~200 packages compile.
build kubectl "$here/kube" k8s.io/kubernetes/cmd/kubectl "$kube_ldflags"
build etcd "$here/etcd" . "$etcd_ldflags"

echo "KUBE_APISERVER=$out/kube-apiserver"
echo "ETCD=$out/etcd"
echo "KUBECTL=$out/kubectl"
echo "build.sh: kube-apiserver and kubectl $k8s_version, etcd $etcd_version" >&2
