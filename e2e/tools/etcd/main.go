// Command etcd is the etcd server, built from its Go module for the
// end-to-end tests (`go install go.etcd.io/etcd/server/v3@...` is refused
// because that module has replace lines; a wrapper module is not).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
