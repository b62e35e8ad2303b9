package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/kubernetai/kubernetai/host-go/internal/wasm"
)

// instance is one instance of the core, with its own linear memory and
// state. It runs one call at a time and is not safe for concurrent use.
//
// Each call is bounded by its context and by a time limit
// (DefaultLookupTimeout for Lookup, Transfer, AutoPath and Metadata,
// DefaultCallTimeout for the others; an Engine sets its own): the
// Module's watchdog cuts off a call that overruns, which then fails with a
// *CallError wrapping ErrCutOff.
//
// Any error other than a *ConfigError is a *CallError (the guest trapped,
// ran out of memory, was cut off, or broke the ABI) or an argument the
// host refused before calling; after a *CallError the instance is dead
// and every later call returns that error again.
type instance struct {
	mod     api.Module
	mem     api.Memory
	realloc api.Function
	fns     [fnCount]api.Function
	posts   [fnCount]api.Function // nil where the function returns no area
	// stack is reused by every call so that calls do not allocate; four
	// slots fit the widest core signatures (apply, lookup, set-host,
	// autopath, metadata, cabi_realloc).
	stack [4]uint64
	lift  lifter
	err   error // the first *CallError; the instance is dead once set

	limits    limits
	watch     *watchdog
	interrupt api.MutableGlobal // set to 1 to make the guest trap (instrument.go)
	// deadline of the call in progress, shared with the watchdog (see
	// begin): nanoseconds since epoch, 0 between calls, cutOff once cut off.
	deadline atomic.Int64
	ctxMu    sync.Mutex
	ctx      context.Context // of the call in progress if it can be cancelled; under ctxMu
}

// instantiate makes a fresh instance of the module with the time limits
// lim. Its exports are looked up once here, not per call.
func (m *Module) instantiate(ctx context.Context, lim limits) (*instance, error) {
	// Anonymous (no name), so the compiled module can be instantiated many
	// times in one runtime; no start function: the core has none.
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions()
	mod, err := m.runtime.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiating the core: %w", err)
	}
	interrupt, ok := mod.ExportedGlobal(wasm.InterruptExport).(api.MutableGlobal)
	if !ok { // cannot happen: instrument exports it
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("instantiating the core: no mutable global %q", wasm.InterruptExport)
	}
	in := &instance{
		limits:    lim, // read by the watchdog: set before it sees the instance
		watch:     &m.watch,
		interrupt: interrupt,
	}
	in.bind(mod)
	m.watch.add(in)
	return in, nil
}

// bind makes mod the instance's module and looks its exports up.
func (in *instance) bind(mod api.Module) {
	in.mod = mod
	in.mem = mod.Memory()
	in.realloc = mod.ExportedFunction(exportRealloc)
	in.lift.mem = in.mem
	for i := range coreFuncs {
		f := &coreFuncs[i]
		in.fns[i] = mod.ExportedFunction(f.export())
		if f.post {
			in.posts[i] = mod.ExportedFunction(f.postExport())
		}
	}
}

// Close releases the instance.
func (in *instance) Close(ctx context.Context) error {
	in.watch.remove(in)
	return in.mod.Close(ctx)
}

// Err is the failure that killed the instance, or nil while it is usable.
func (in *instance) Err() error { return in.err }

// memorySize is the current size of the instance's linear memory in bytes.
func (in *instance) memorySize() uint32 { return in.mem.Size() }

// call runs f with params on the reused stack and returns its first result.
func (in *instance) call(ctx context.Context, f api.Function, what string, params ...uint64) (uint64, error) {
	if in.err != nil {
		return 0, in.err
	}
	copy(in.stack[:], params)
	if err := f.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, in.fail(what, err)
	}
	return in.stack[0], nil
}

// fail records that the instance is dead and why.
func (in *instance) fail(what string, err error) error {
	if in.err == nil {
		in.err = &CallError{Func: what, Err: err}
	}
	return in.err
}

// startLift prepares to read a return area.
func (in *instance) startLift() *lifter {
	in.lift.err = nil
	return &in.lift
}

// finish frees the return area of f once its result has been copied out
// (cabi_post_*), or kills the instance if reading the result failed.
func (in *instance) finish(ctx context.Context, f fn, area uint32) error {
	if in.lift.err != nil {
		return in.fail(coreFuncs[f].wit, in.lift.err)
	}
	_, err := in.call(ctx, in.posts[f], postNames[f], uint64(area))
	return err
}

// Configure validates and installs the configuration of every stanza,
// replacing any earlier one and its objects. A refusal is a *ConfigError;
// the instance stays usable.
func (in *instance) Configure(ctx context.Context, stanzas []Stanza, seed uint64) (_ []StanzaPlan, err error) {
	if err := checkStanzas(stanzas); err != nil {
		return nil, err
	}
	in.begin(ctx, fnConfigure)
	defer in.end(ctx, fnConfigure, &err)
	ptr, n, err := in.lowerList(ctx, len(stanzas), stanzaSize, func(rec []byte, i int) error {
		return in.putStanza(ctx, rec, &stanzas[i])
	})
	if err != nil {
		return nil, err
	}
	area, err := in.call(ctx, in.fns[fnConfigure], "configure", uint64(ptr), uint64(n), seed)
	if err != nil {
		return nil, err
	}
	plans, cerr := liftConfigure(in.startLift(), uint32(area))
	if err := in.finish(ctx, fnConfigure, uint32(area)); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	return plans, nil
}

func checkStanzas(stanzas []Stanza) error {
	for i := range stanzas {
		s := &stanzas[i]
		if err := checkUTF8("zone", s.Zones...); err != nil {
			return err
		}
		for _, p := range s.Properties {
			if err := checkUTF8("property", p.Name); err != nil {
				return err
			}
			if err := checkUTF8("argument", p.Args...); err != nil {
				return err
			}
		}
	}
	return nil
}

func (in *instance) putStanza(ctx context.Context, rec []byte, s *Stanza) error {
	if err := in.putStrings(ctx, rec[stanzaZones:], s.Zones); err != nil {
		return err
	}
	ptr, n, err := in.lowerList(ctx, len(s.Properties), propertySize, func(rec []byte, j int) error {
		p := &s.Properties[j]
		le.PutUint32(rec[propertyLine:], p.Line)
		if err := in.putString(ctx, rec[propertyName:], p.Name); err != nil {
			return err
		}
		return in.putStrings(ctx, rec[propertyArgs:], p.Args)
	})
	putPair(rec[stanzaProperties:], ptr, n)
	le.PutUint32(rec[stanzaLine:], s.Line)
	return err
}

// liftConfigure reads result<list<stanza-plan>, config-error>.
func liftConfigure(l *lifter, area uint32) ([]StanzaPlan, *ConfigError) {
	if l.discriminant(area, 2) == 1 {
		return nil, &ConfigError{
			Stanza:   l.u32(area + configErrStanza),
			Line:     l.u32(area + configErrLine),
			Property: l.string(area + configErrProperty),
			Reason:   l.string(area + configErrReason),
		}
	}
	base, n := l.list(area+variantPayload, planSize)
	plans := make([]StanzaPlan, n)
	for i := range n {
		p := base + i*planSize
		plans[i].Zones = l.strings(p + planZones)
		kbase, kn := l.list(p+planKinds, 1)
		plans[i].Kinds = make([]Kind, kn)
		for j := range kn {
			plans[i].Kinds[j] = Kind(l.discriminant(kbase+j, uint8(kindCount)))
		}
	}
	return plans, nil
}

// SetHost tells the core what the host knows of its machine: the
// addresses CoreDNS listens on and the resolv.conf search list.
func (in *instance) SetHost(ctx context.Context, info HostInfo) (err error) {
	if err := checkHostInfo(info); err != nil {
		return err
	}
	in.begin(ctx, fnSetHost)
	defer in.end(ctx, fnSetHost, &err)
	// The record is a parameter, so the canonical ABI flattens it into
	// its fields' (ptr, len) pairs rather than passing a pointer.
	iptr, ipn, err := in.lowerStrings(ctx, info.LocalIPs)
	if err != nil {
		return err
	}
	sptr, sn, err := in.lowerStrings(ctx, info.Search)
	if err != nil {
		return err
	}
	_, err = in.call(ctx, in.fns[fnSetHost], "set-host", uint64(iptr), uint64(ipn), uint64(sptr), uint64(sn))
	return err
}

func checkHostInfo(info HostInfo) error {
	if err := checkUTF8("address", info.LocalIPs...); err != nil {
		return err
	}
	return checkUTF8("search domain", info.Search...)
}

// Apply applies a batch of object events, in order, to one stanza; now is
// Unix time in seconds.
func (in *instance) Apply(ctx context.Context, stanza uint32, now int64, events []Event) (_ ApplyReport, err error) {
	for i := range events {
		if events[i].Change >= changeCount || events[i].Kind >= kindCount {
			return ApplyReport{}, fmt.Errorf("event %d: invalid %v %v", i, events[i].Change, events[i].Kind)
		}
	}
	in.begin(ctx, fnApply)
	defer in.end(ctx, fnApply, &err)
	ptr, n, err := in.lowerList(ctx, len(events), eventSize, func(rec []byte, i int) error {
		e := &events[i]
		rec[eventChange], rec[eventKind] = byte(e.Change), byte(e.Kind)
		return in.putBytes(ctx, rec[eventObject:], e.Object)
	})
	if err != nil {
		return ApplyReport{}, err
	}
	area, err := in.call(ctx, in.fns[fnApply], "apply", uint64(stanza), uint64(now), uint64(ptr), uint64(n))
	if err != nil {
		return ApplyReport{}, err
	}
	report := liftReport(in.startLift(), uint32(area))
	if err := in.finish(ctx, fnApply, uint32(area)); err != nil {
		return ApplyReport{}, err
	}
	return report, nil
}

// liftReport reads apply-report.
func liftReport(l *lifter, area uint32) ApplyReport {
	report := ApplyReport{
		Applied:  l.u32(area + reportApplied),
		Skipped:  l.u32(area + reportSkipped),
		Problems: l.strings(area + reportProblems),
	}
	base, n := l.list(area+reportSerials, zoneSerialSize)
	report.Serials = make([]ZoneSerial, n)
	for i := range n {
		z := base + i*zoneSerialSize
		report.Serials[i] = ZoneSerial{Zone: l.string(z + zoneSerialZone), Serial: l.u32(z + zoneSerialSerial)}
	}
	return report
}

// SetSynced tells the core whether a stanza's source has delivered its
// initial state.
func (in *instance) SetSynced(ctx context.Context, stanza uint32, synced bool) (err error) {
	var b uint64
	if synced {
		b = 1
	}
	in.begin(ctx, fnSetSynced)
	defer in.end(ctx, fnSetSynced, &err)
	_, err = in.call(ctx, in.fns[fnSetSynced], "set-synced", uint64(stanza), b)
	return err
}

// Transfer returns the messages of a zone transfer; authoritative is false
// (and msgs nil) when no stanza is authoritative for zone.
func (in *instance) Transfer(ctx context.Context, zone string, serial uint32) (msgs [][]byte, authoritative bool, err error) {
	if err := checkUTF8("zone", zone); err != nil {
		return nil, false, err
	}
	in.begin(ctx, fnTransfer)
	defer in.end(ctx, fnTransfer, &err)
	ptr, n, err := in.lowerString(ctx, zone)
	if err != nil {
		return nil, false, err
	}
	area, err := in.call(ctx, in.fns[fnTransfer], "transfer", uint64(ptr), uint64(n), uint64(serial))
	if err != nil {
		return nil, false, err
	}
	l, a := in.startLift(), uint32(area)
	if authoritative = l.discriminant(a, 2) == 1; authoritative {
		base, count := l.list(a+variantPayload, pairSize)
		msgs = make([][]byte, count)
		for i := range count {
			msgs[i] = l.bytes(base + i*pairSize)
		}
	}
	if err := in.finish(ctx, fnTransfer, a); err != nil {
		return nil, false, err
	}
	return msgs, authoritative, nil
}

// AutoPath returns the search path for autopath of a query for qname from
// the client address; ok is false (and search nil) when no stanza knows a
// pod at client.
func (in *instance) AutoPath(ctx context.Context, qname, client string) (search []string, ok bool, err error) {
	if err := checkUTF8("name", qname, client); err != nil {
		return nil, false, err
	}
	in.begin(ctx, fnAutopath)
	defer in.end(ctx, fnAutopath, &err)
	area, err := in.callNames(ctx, fnAutopath, qname, client)
	if err != nil {
		return nil, false, err
	}
	// option<list<string>>
	l := in.startLift()
	if ok = l.discriminant(area, 2) == 1; ok {
		search = l.strings(area + variantPayload)
	}
	if err := in.finish(ctx, fnAutopath, area); err != nil {
		return nil, false, err
	}
	return search, ok, nil
}

// Metadata returns the metadata plugin's values for a query for qname from
// the client address.
func (in *instance) Metadata(ctx context.Context, qname, client string) (_ []MetadataEntry, err error) {
	if err := checkUTF8("name", qname, client); err != nil {
		return nil, err
	}
	in.begin(ctx, fnMetadata)
	defer in.end(ctx, fnMetadata, &err)
	area, err := in.callNames(ctx, fnMetadata, qname, client)
	if err != nil {
		return nil, err
	}
	l := in.startLift()
	base, n := l.list(area+metadataList, metadataSize)
	entries := make([]MetadataEntry, n)
	for i := range n {
		m := base + i*metadataSize
		entries[i] = MetadataEntry{Key: l.string(m + metadataKey), Value: l.string(m + metadataValue)}
	}
	if err := in.finish(ctx, fnMetadata, area); err != nil {
		return nil, err
	}
	return entries, nil
}

// callNames calls f, autopath or metadata, with (qname, client) and
// returns its return area. The caller has checked both are UTF-8 and
// begun the call.
func (in *instance) callNames(ctx context.Context, f fn, qname, client string) (uint32, error) {
	qptr, qn, err := in.lowerString(ctx, qname)
	if err != nil {
		return 0, err
	}
	cptr, cn, err := in.lowerString(ctx, client)
	if err != nil {
		return 0, err
	}
	area, err := in.call(ctx, in.fns[f], coreFuncs[f].wit, uint64(qptr), uint64(qn), uint64(cptr), uint64(cn))
	return uint32(area), err
}

// Lookup answers one query (wire bytes), given the replies to the upstream
// queries an earlier Lookup of the same query asked for.
//
// This is the hot path: with no replies it makes exactly three guest calls
// (cabi_realloc for the query, lookup, cabi_post) and allocates only the
// answer it returns.
func (in *instance) Lookup(ctx context.Context, query []byte, replies []UpstreamReply) (_ Outcome, err error) {
	for i := range replies {
		if err := checkUTF8("upstream reply name", replies[i].Name); err != nil {
			return Outcome{}, err
		}
	}
	in.begin(ctx, fnLookup)
	defer in.end(ctx, fnLookup, &err)
	qptr, qn, err := in.lowerBytes(ctx, query)
	if err != nil {
		return Outcome{}, err
	}
	rptr, rn := uint32(recordAlign), uint32(0)
	if len(replies) > 0 {
		if rptr, rn, err = in.lowerReplies(ctx, replies); err != nil {
			return Outcome{}, err
		}
	}
	area, err := in.call(ctx, in.fns[fnLookup], "lookup", uint64(qptr), uint64(qn), uint64(rptr), uint64(rn))
	if err != nil {
		return Outcome{}, err
	}
	out := liftOutcome(in.startLift(), uint32(area))
	if err := in.finish(ctx, fnLookup, uint32(area)); err != nil {
		return Outcome{}, err
	}
	return out, nil
}

func (in *instance) lowerReplies(ctx context.Context, replies []UpstreamReply) (ptr, n uint32, err error) {
	return in.lowerList(ctx, len(replies), replySize, func(rec []byte, i int) error {
		r := &replies[i]
		le.PutUint16(rec[replyQtype:], r.Qtype)
		if err := in.putString(ctx, rec[replyName:], r.Name); err != nil {
			return err
		}
		return in.putBytes(ctx, rec[replyMessage:], r.Message)
	})
}

// liftOutcome reads variant outcome.
func liftOutcome(l *lifter, area uint32) Outcome {
	out := Outcome{Kind: OutcomeKind(l.discriminant(area, uint8(outcomeCount)))}
	p := area + outcomePayload
	switch out.Kind {
	case OutcomeAnswer:
		out.Answer = l.bytes(p + answerMessage)
		out.Stanza = l.u32(p + answerStanza)
		out.FellThrough = l.u64(p + answerFellThrough)
	case OutcomeFallthrough:
		out.FellThrough = l.u64(p)
	case OutcomeUpstream:
		base, n := l.list(p, querySize)
		out.Upstream = make([]UpstreamQuery, n)
		for i := range n {
			q := base + i*querySize
			out.Upstream[i] = UpstreamQuery{Name: l.string(q + queryName), Qtype: l.u16(q + queryQtype)}
		}
	case OutcomeRcode:
		out.Rcode = l.u8(p)
	}
	return out
}
