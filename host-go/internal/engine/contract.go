package engine

import "fmt"

// The types below mirror interface core of coredns:kubernetai@0.1.0
// (wit/kubernetai.wit) one to one. Field order follows the WIT because the
// canonical ABI lays records out in declaration order.

// Property is one option line inside a kubernetai block.
type Property struct {
	Name string
	Args []string
	Line uint32 // Corefile line, for error messages
}

// Stanza is one kubernetai block, that is one cluster.
type Stanza struct {
	Zones      []string
	Properties []Property
	Line       uint32 // Corefile line of the kubernetai directive
}

// ConfigError is the core's reason for refusing a configuration.
type ConfigError struct {
	Stanza   uint32 // index in Corefile order, from 0
	Line     uint32
	Property string // empty when the stanza as a whole is wrong
	Reason   string
}

func (e *ConfigError) Error() string {
	if e.Property == "" {
		return fmt.Sprintf("kubernetai stanza %d (line %d): %s", e.Stanza, e.Line, e.Reason)
	}
	return fmt.Sprintf("kubernetai stanza %d, line %d: %s: %s", e.Stanza, e.Line, e.Property, e.Reason)
}

// HostInfo is what the host knows of the machine it runs on.
type HostInfo struct {
	LocalIPs []string // addresses CoreDNS listens on (non-loopback), for ns.dns.<zone> and NS glue
	Search   []string // the search list of the host's resolv.conf, which ends autopath search paths
}

// Kind is a kind of Kubernetes object the core reads.
type Kind uint8

const (
	KindNamespace Kind = iota
	KindService
	KindEndpointSlice // discovery.k8s.io/v1 EndpointSlice
	KindPod
	KindServiceImport             // multicluster.x-k8s.io/v1alpha1 ServiceImport
	KindMulticlusterEndpointSlice // EndpointSlice labelled multicluster.kubernetes.io/service-name
	kindCount
)

var kindNames = [kindCount]string{
	"namespace", "service", "endpoint-slice", "pod", "service-import", "multicluster-endpoint-slice",
}

// String returns the WIT name of the kind.
func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// StanzaPlan says what the host must watch to feed one stanza.
type StanzaPlan struct {
	Zones []string // normalised zones the stanza is authoritative for
	Kinds []Kind   // object kinds to deliver to Apply
}

// Change says whether an event adds or replaces an object, or removes it.
type Change uint8

const (
	ChangeUpsert Change = iota
	ChangeDelete
	changeCount
)

func (c Change) String() string {
	switch c {
	case ChangeUpsert:
		return "upsert"
	case ChangeDelete:
		return "delete"
	}
	return fmt.Sprintf("change(%d)", uint8(c))
}

// Event is one object event. Change, Kind and Object cross to the core;
// Key does not: it names the object ("namespace/name", or "name" for
// cluster-scoped kinds) so that the Engine can keep the latest JSON of each
// object and replay it into a replacement instance.
type Event struct {
	Change Change
	Kind   Kind
	Object []byte // the object as the Kubernetes API serialises it (JSON)
	Key    string
}

// ZoneSerial is a zone and its SOA serial.
type ZoneSerial struct {
	Zone   string
	Serial uint32
}

// ApplyReport is the core's account of one batch of events.
type ApplyReport struct {
	Applied  uint32
	Skipped  uint32   // objects that could not be decoded or lack what DNS needs
	Problems []string // one line per skipped object
	// Serials are the SOA serials, after the batch, of each zone the
	// stanza transfers (for NOTIFY).
	Serials []ZoneSerial
}

// maxSerial is the largest serial of the report, 0 when it has none.
func (r *ApplyReport) maxSerial() uint32 {
	var m uint32
	for _, z := range r.Serials {
		m = max(m, z.Serial)
	}
	return m
}

// MetadataEntry is one value for CoreDNS's metadata plugin.
type MetadataEntry struct {
	Key   string
	Value string
}

// UpstreamQuery is a name the core needs resolved outside itself.
type UpstreamQuery struct {
	Name  string
	Qtype uint16
}

// UpstreamReply is the host's answer to an UpstreamQuery: the reply message
// as wire bytes, or empty when the lookup failed.
type UpstreamReply struct {
	Name    string
	Qtype   uint16
	Message []byte
}

// OutcomeKind is the case of the WIT variant outcome.
type OutcomeKind uint8

const (
	// OutcomeAnswer: write Outcome.Answer (a DNS message) to the client;
	// Outcome.Stanza answered, after the stanzas in Outcome.FellThrough
	// passed the name on.
	OutcomeAnswer OutcomeKind = iota
	// OutcomeFallthrough: no stanza answers; call the next plugin.
	// Outcome.FellThrough has bit i set when stanza i passed the name on
	// with fallthrough; none set means the name is in no stanza's zones.
	OutcomeFallthrough
	// OutcomeUpstream: resolve Outcome.Upstream through CoreDNS, then call
	// Lookup again with the replies.
	OutcomeUpstream
	// OutcomeRcode: write nothing; CoreDNS answers with Outcome.Rcode.
	OutcomeRcode
	outcomeCount
)

func (k OutcomeKind) String() string {
	switch k {
	case OutcomeAnswer:
		return "answer"
	case OutcomeFallthrough:
		return "fallthrough"
	case OutcomeUpstream:
		return "upstream"
	case OutcomeRcode:
		return "rcode"
	}
	return fmt.Sprintf("outcome(%d)", uint8(k))
}

// Outcome is the core's verdict on a query. Only the fields matching Kind
// are set: Answer, Stanza and FellThrough for OutcomeAnswer, FellThrough
// for OutcomeFallthrough, Upstream, Rcode. Answer is a fresh copy owned by
// the caller.
type Outcome struct {
	Kind        OutcomeKind
	Answer      []byte
	Stanza      uint32 // the stanza that answered, in Corefile order
	FellThrough uint64 // bit i: stanza i passed the name on with fallthrough
	Upstream    []UpstreamQuery
	Rcode       uint8
}
