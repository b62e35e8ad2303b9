package builder

// This file is compiled into the builder and also copied, through go:embed,
// into the generated main.go (see insertSource). One source means the
// function the tests exercise is byte for byte the one CoreDNS runs. Keep it
// self-contained: it may use only fmt and strings, which main.go imports.

import (
	"fmt"
	"strings"
)

// insertDirective returns a copy of directives with name placed right after
// anchor, or right before it when after is false. A missing anchor is an
// error rather than an append at the end: CoreDNS runs plugins in this
// order, so a guessed position would silently change which plugin answers.
func insertDirective(directives []string, name, anchor string, after bool) ([]string, error) {
	at := -1
	for i, d := range directives {
		if d == name {
			return nil, fmt.Errorf("directive %q is already in the plugin chain", name)
		}
		if d == anchor {
			at = i
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("anchor directive %q is not in the plugin chain: %s",
			anchor, strings.Join(directives, " "))
	}
	if after {
		at++
	}
	out := make([]string, 0, len(directives)+1)
	out = append(out, directives[:at]...)
	out = append(out, name)
	return append(out, directives[at:]...), nil
}
