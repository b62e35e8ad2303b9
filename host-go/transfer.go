package kubernetai

import (
	"context"
	"fmt"
	"time"

	"github.com/coredns/coredns/plugin/transfer"
	"github.com/miekg/dns"
)

// transferTimeout bounds building a zone transfer in the core.
const transferTimeout = 10 * time.Second

// Transfer implements the transfer plugin's Transferer: the first stanza
// authoritative for zone (one of its forward zones) sends its records, in
// batches, SOA first and last. A serial not older than the zone's (an
// IXFR from an up-to-date secondary) gets the SOA alone.
func (k *Kubernetai) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	msgs, ok, err := k.engine.Transfer(ctx, zone, serial)
	if err != nil {
		countGuestFailure("transfer", err)
		return nil, fmt.Errorf("transfer of %s: %w", zone, err)
	}
	if !ok {
		return nil, transfer.ErrNotAuthoritative
	}
	batches := make([][]dns.RR, 0, len(msgs))
	for _, b := range msgs {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return nil, fmt.Errorf("transfer of %s: the core wrote an unreadable batch: %w", zone, err)
		}
		batches = append(batches, m.Answer)
	}
	ch := make(chan []dns.RR)
	go func() {
		defer close(ch)
		for _, b := range batches {
			ch <- b
		}
	}()
	return ch, nil
}
