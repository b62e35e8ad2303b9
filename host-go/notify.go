package kubernetai

import (
	"sync"
	"time"

	"github.com/coredns/coredns/plugin/transfer"
)

// notifier tells the transfer plugin's secondaries (its `to` addresses)
// that a zone changed, so they transfer it at once instead of at the SOA
// refresh (two hours). Neither the kubernetes plugin nor upstream
// kubernetai notify. A zone is notified at most once per interval: a burst
// of changes gives one NOTIFY now and one when the interval ends.
type notifier struct {
	send     func(zone string) error
	interval time.Duration
	// servers are the `server` labels of notifies_total: the servers of
	// the block whose transfer plugin sends (set with send).
	servers []string

	mu      sync.Mutex
	serials map[string]uint32
	last    map[string]time.Time
	pending map[string]bool
}

func newNotifier(interval time.Duration) *notifier {
	return &notifier{
		interval: interval,
		serials:  map[string]uint32{},
		last:     map[string]time.Time{},
		pending:  map[string]bool{},
	}
}

// attach connects the notifier to the server block's transfer plugin,
// served by servers, and notifies the zones known so far (secondaries hear
// of a restart).
func (n *notifier) attach(t *transfer.Transfer, servers []string) {
	n.attachFunc(t.Notify, servers)
}

func (n *notifier) attachFunc(send func(zone string) error, servers []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.send, n.servers = send, servers
	for zone := range n.serials {
		n.schedule(zone)
	}
}

// serial records a zone's serial; a change is notified.
func (n *notifier) serial(zone string, serial uint32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, seen := n.serials[zone]; seen && old == serial {
		return
	}
	n.serials[zone] = serial
	n.schedule(zone)
}

// schedule sends now, or once the interval since the last NOTIFY ends.
// Callers hold mu.
func (n *notifier) schedule(zone string) {
	if n.send == nil || n.pending[zone] {
		return
	}
	wait := time.Until(n.last[zone].Add(n.interval))
	n.pending[zone] = true
	time.AfterFunc(max(wait, 0), func() { n.fire(zone) })
}

func (n *notifier) fire(zone string) {
	n.mu.Lock()
	send, servers := n.send, n.servers
	n.pending[zone] = false
	n.last[zone] = time.Now()
	n.mu.Unlock()
	if err := send(zone); err != nil {
		log.Warningf("NOTIFY for %s: %v", zone, err)
		return
	}
	for _, server := range servers {
		notifies.WithLabelValues(server, zone).Inc()
	}
}
