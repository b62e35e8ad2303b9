package kubernetai

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coredns/coredns/plugin/transfer"
	"github.com/miekg/dns"
)

// transferPageTimeout bounds one page of a zone transfer: waiting for an
// instance, then the call itself, which the engine's wasm_timeout bounds.
const transferPageTimeout = 10 * time.Second

// Transfer implements the transfer plugin's Transferer: the first stanza
// authoritative for zone (one of its forward zones) sends its records,
// SOA first and last, a page at a time. Each page borrows an instance for
// one call and gives it back before its records go to the channel, so no
// instance waits on a slow secondary. A serial not older than the zone's
// (an IXFR from an up-to-date secondary) gets the SOA alone.
//
// A failure on the first page is returned; a later one (the core failed
// or was cut off, or refused the cursor it gave, after a module swap say)
// ends the transfer with the records sent so far, and is logged and
// counted.
func (k *Kubernetai) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	batches, next, err := k.transferPage(zone, serial, nil)
	if err != nil {
		if !errors.Is(err, transfer.ErrNotAuthoritative) {
			k.countTransferFailure()
		}
		return nil, err
	}
	ch := make(chan []dns.RR)
	go func() {
		defer close(ch)
		for {
			for _, b := range batches {
				ch <- b
			}
			if next == nil {
				return
			}
			if batches, next, err = k.transferPage(zone, serial, next); err != nil {
				k.countTransferFailure()
				log.Errorf("%v; ended after the records sent so far", err)
				return
			}
		}
	}()
	return ch, nil
}

// transferPage asks the core for the page of zone at cursor and returns
// its records, in batches, and the cursor of the next page (nil after the
// last).
func (k *Kubernetai) transferPage(zone string, serial uint32, cursor []byte) ([][]dns.RR, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), transferPageTimeout)
	defer cancel()
	page, ok, err := k.engine.Transfer(ctx, zone, serial, cursor)
	if err != nil {
		countGuestFailure(k.metricServers(), "transfer", err)
		return nil, nil, fmt.Errorf("transfer of %s: %w", zone, err)
	}
	if !ok {
		if cursor != nil {
			return nil, nil, fmt.Errorf("transfer of %s: no stanza is authoritative for it any more", zone)
		}
		return nil, nil, transfer.ErrNotAuthoritative
	}
	batches := make([][]dns.RR, 0, len(page.Messages))
	for _, b := range page.Messages {
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			return nil, nil, fmt.Errorf("transfer of %s: the core wrote an unreadable batch: %w", zone, err)
		}
		batches = append(batches, m.Answer)
	}
	return batches, page.Next, nil
}

// countTransferFailure counts a failed transfer for each server of the
// block: the transfer plugin asks without saying which server it serves.
func (k *Kubernetai) countTransferFailure() {
	for _, server := range k.metricServers() {
		transferFailures.WithLabelValues(server).Inc()
	}
}
