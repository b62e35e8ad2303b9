package engine

import "fmt"

// The types of the contract are generated from the WIT (wit_gen.go); what
// the host adds to them is here.

// Error numbers the stanza from 1, as the Corefile reader counts them.
func (e *ConfigError) Error() string {
	if e.Property == "" {
		return fmt.Sprintf("kubernetai stanza %d (line %d): %s", e.Stanza+1, e.Line, e.Reason)
	}
	return fmt.Sprintf("kubernetai stanza %d, line %d: %s: %s", e.Stanza+1, e.Line, e.Property, e.Reason)
}

// KeyedEvent is an Event with the key of its object ("namespace/name", or
// "name" for cluster-scoped kinds), which does not cross to the core: the
// Engine keeps the latest JSON of each object by kind and key, to replay it
// into a replacement instance.
type KeyedEvent struct {
	Event
	Key string
}

// maxSerial is the largest serial of the report, 0 when it has none.
func (r *ApplyReport) maxSerial() uint32 {
	var m uint32
	for _, z := range r.Serials {
		m = max(m, z.Serial)
	}
	return m
}
