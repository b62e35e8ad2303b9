package engine

import (
	"math"
	"syscall"
)

// reserve maps size bytes of address space for a linear memory.
// MAP_NORESERVE: no swap or commit charge for pages never touched; the
// kernel backs a page when the guest first writes it. false when the
// kernel refuses (an address-space limit): the memory then lives on the
// Go heap.
func reserve(size uint64) ([]byte, bool) {
	if size > math.MaxInt {
		return nil, false
	}
	b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil, false
	}
	return b, true
}

func unreserve(b []byte) { _ = syscall.Munmap(b) }
