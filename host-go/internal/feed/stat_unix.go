//go:build unix

package feed

import (
	"os"
	"syscall"
)

// inodeOf tells a file renamed over the old one from an edit in place.
func inodeOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
