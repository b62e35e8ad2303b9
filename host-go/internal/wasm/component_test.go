package wasm

import (
	"errors"
	"slices"
	"testing"
)

func TestExportNames(t *testing.T) {
	m := simpleModule(funcType(nil, nil), body(noLocals, end))
	names, err := ExportNames(m)
	if err != nil || !slices.Equal(names, []string{"f", "memory"}) {
		t.Errorf("ExportNames = %q, %v; want f and memory", names, err)
	}
	if _, err := ExportNames(m[:len(m)-3]); !errors.Is(err, ErrMalformed) {
		t.Errorf("ExportNames(truncated) = %v, want ErrMalformed", err)
	}
	if _, err := ExportNames([]byte("not wasm")); !errors.Is(err, ErrMalformed) {
		t.Errorf("ExportNames(not wasm) = %v, want ErrMalformed", err)
	}
}
