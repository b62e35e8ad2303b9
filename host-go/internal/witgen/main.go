// Command witgen writes the Go side of the canonical ABI of a WIT
// interface: its types, the layouts of its records and variants in linear
// memory, the lowering of arguments through cabi_realloc, the lifting of
// results with every check the canonical ABI makes, and the table of core
// exports the host checks a module against. It reads the subset of WIT
// that wit/kubernetai.wit uses and refuses the rest with a clear error.
//
//	go run ./internal/witgen -wit ../wit/kubernetai.wit -out internal/engine/wit_gen.go
//
// `make generate` runs it; `make test` fails when its output is stale.
// What the generated code expects of the hand-written code beside it is
// listed in gen.go.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	wit := flag.String("wit", "", "the WIT file to read")
	out := flag.String("out", "", "the Go file to write")
	pkg := flag.String("package", "engine", "the Go package of the output")
	recv := flag.String("receiver", "instance", "the type whose methods call the functions")
	flag.Parse()
	if *wit == "" || *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*wit, *out, Options{Package: *pkg, Receiver: *recv}); err != nil {
		fmt.Fprintln(os.Stderr, "witgen:", err)
		os.Exit(1)
	}
}

func run(witPath, outPath string, opts Options) error {
	src, err := os.ReadFile(witPath)
	if err != nil {
		return err
	}
	f, err := Parse(witPath, string(src))
	if err != nil {
		return err
	}
	code, err := Generate(f, opts)
	if err != nil {
		return err
	}
	return os.WriteFile(outPath, code, 0o644)
}
