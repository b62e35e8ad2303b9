package feed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// A snapshot is read one item at a time, so that reading one costs the
// objects it holds, trimmed, plus one item's text: read whole, as one
// YAML document, a 77 MB List of 100k services and their EndpointSlices
// took 3.5 GB of heap (the document as YAML nodes, then as JSON, then
// every item again) to give 110 MB of objects.
//
// What is read is what reading each document whole would give: the items
// of each document whose kind ends in "List", and every other document as
// one item; a YAML document that does not convert piece by piece is read
// again and converted whole. What differs, none of which kubectl writes: a
// document that is not a List loses a top-level `items` sequence (no kind
// the core reads has one), and JSON keys that are not UTF-8 are read as
// U+FFFD before the object is decoded rather than while.

// itemResult is one item of a snapshot: what decode made of it.
type itemResult struct {
	obj Object
	err error
}

// readItems reads a stream of YAML documents or JSON values, as
// utilyaml.NewYAMLOrJSONDecoder tells them apart, and returns what decode
// makes of each item, in order. A stream that cannot be parsed is an
// error. As that decoder does, a stream that looks like JSON (it begins
// with '{') but fails as JSON within its first two documents is read as
// YAML from the end of the first (YAML's flow style begins with '{' too):
// the reader is sought back there.
func readItems(r snapshotReader, decode func(raw []byte) itemResult) ([]itemResult, error) {
	stream, _, isJSON := utilyaml.GuessJSONStream(r, 4096)
	d := &documents{decode: decode}
	if !isJSON {
		return d.out, d.readYAML(stream, r, 0)
	}
	at := &jsonProgress{}
	err := d.readJSON(stream, at)
	if err == nil || at.documents > 1 {
		return d.out, err
	}
	d.out, d.n = d.out[:at.items], at.documents
	if _, serr := r.Seek(at.offset, io.SeekStart); serr != nil {
		return nil, err
	}
	br := bufio.NewReader(r)
	skipped := skipSpaceLine(br)
	if yerr := d.readYAML(br, r, at.offset+skipped); yerr != nil {
		return nil, err // the JSON error, as the decoder reports it
	}
	return d.out, nil
}

// jsonProgress is how far a JSON stream was read: the documents complete,
// the items they gave, and the offset where the last one ended.
type jsonProgress struct {
	documents, items int
	offset           int64
}

// skipSpaceLine skips white space up to the first thing that is not, or
// up to and including the first newline, and says how many bytes.
func skipSpaceLine(br *bufio.Reader) int64 {
	var n int64
	for {
		c, size, err := br.ReadRune()
		if err != nil {
			return n
		}
		if !unicode.IsSpace(c) {
			_ = br.UnreadRune()
			return n
		}
		n += int64(size)
		if c == '\n' {
			return n
		}
	}
}

// snapshotReader is what a snapshot is read from: a file, or bytes. It is
// read once in order; a document that must be read whole again is read
// again at its offset.
type snapshotReader interface {
	io.ReadSeeker
	io.ReaderAt
}

// documents collects the items of a stream's documents.
type documents struct {
	decode func(raw []byte) itemResult
	out    []itemResult
	n      int // documents begun
}

// end takes a document read: its top-level fields but a list of items
// that was read item by item (streamed, decoded). The items count if the
// document is a List; otherwise the document is an item.
func (d *documents) end(fields map[string]json.RawMessage, streamed []itemResult) error {
	var head struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	for _, f := range []struct {
		name string
		into any
	}{{"kind", &head.Kind}, {"items", &head.Items}} {
		if raw, ok := fields[f.name]; ok {
			if err := json.Unmarshal(raw, f.into); err != nil {
				return fmt.Errorf("document %d: not an object: %s: %w", d.n, f.name, err)
			}
		}
	}
	if !strings.HasSuffix(head.Kind, "List") {
		raw, err := json.Marshal(fields)
		if err != nil {
			return fmt.Errorf("document %d: %w", d.n, err)
		}
		d.out = append(d.out, d.decode(raw))
		return nil
	}
	d.out = append(d.out, streamed...)
	for _, raw := range head.Items {
		d.out = append(d.out, d.decode(raw))
	}
	return nil
}

// readJSON reads a stream of JSON values; the items of a top-level
// "items" array are decoded one by one. at follows its progress.
func (d *documents) readJSON(r io.Reader, at *jsonProgress) error {
	dec := json.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		d.n++
		switch {
		case err != nil:
			return fmt.Errorf("document %d: %w", d.n, err)
		case tok == nil: // null: an empty document
		case tok != json.Delim('{'):
			return fmt.Errorf("document %d: not an object", d.n)
		default:
			fields, streamed, err := d.jsonObject(dec)
			if err != nil {
				return fmt.Errorf("document %d: %w", d.n, err)
			}
			if err := d.end(fields, streamed); err != nil {
				return err
			}
		}
		*at = jsonProgress{documents: d.n, items: len(d.out), offset: dec.InputOffset()}
	}
}

// jsonObject reads the fields of an object whose '{' was read, up to its
// '}'.
func (d *documents) jsonObject(dec *json.Decoder) (map[string]json.RawMessage, []itemResult, error) {
	fields := map[string]json.RawMessage{}
	var streamed []itemResult
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, _ := tok.(string)
		if key != "items" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, nil, err
			}
			fields[key] = raw
			continue
		}
		if tok, err = dec.Token(); err != nil {
			return nil, nil, err
		}
		switch tok {
		case nil:
			continue
		case json.Delim('['):
		default:
			return nil, nil, errors.New("not an object: items is not a list")
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, nil, err
			}
			streamed = append(streamed, d.decode(raw))
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, nil, err
		}
	}
	_, err := dec.Token() // '}'
	return fields, streamed, err
}

// readYAML reads YAML documents line by line, from offset at of src. A
// top-level `items:` key followed by a block sequence (kubectl's `items:`
// then `- apiVersion: ...`) is cut into its entries, each converted and
// decoded alone; the rest of the document is converted whole. Should a
// piece fail to convert (the cut fell inside something YAML reads across
// lines, a flow mapping continued at column 0, say), the document is read
// again from src and converted whole, as it was before, so that the cut
// never makes a document unreadable.
func (d *documents) readYAML(r io.Reader, src io.ReaderAt, at int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	doc := yamlDocument{d: d, src: src, start: at, pos: at}
	for {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if len(line) > 0 {
			next := doc.pos + int64(len(line))
			if line[len(line)-1] != '\n' {
				line = append(line, '\n') // as utilyaml.LineReader ends every line
			}
			if lerr := doc.line(line, next); lerr != nil {
				return lerr
			}
		}
		if err != nil {
			return doc.end()
		}
	}
}

// yamlDocument is the state of the document being read.
type yamlDocument struct {
	d          *documents
	src        io.ReaderAt
	start, pos int64 // where the document began, where the last line ended
	begun      bool
	// whole: the document did not convert piece by piece; text is all of
	// it so far.
	whole bool
	text  bytes.Buffer
	rest  bytes.Buffer // the document but the items streamed
	// items: after a top-level `items:` line (kept in pending until it is
	// known to begin a block sequence), the sequence's indentation, or -1
	// outside one.
	seeking  bool
	pending  bytes.Buffer
	indent   int
	item     bytes.Buffer // the entry being read
	streamed []itemResult
}

// line takes the next line, which ends at offset next.
func (y *yamlDocument) line(l []byte, next int64) error {
	if bytes.HasPrefix(l, []byte("---")) {
		// A document separator, as utilyaml.YAMLReader reads them.
		if after := bytes.TrimSpace(l[3:]); len(after) > 0 && after[0] != '#' {
			return fmt.Errorf("document %d: invalid YAML document separator: %s", y.d.n+1, after)
		}
		err := y.end()
		y.start, y.pos = next, next
		return err
	}
	if !y.begun {
		y.begun, y.indent = true, -1
		y.d.n++
	}
	defer func() { y.pos = next }()
	if y.whole {
		y.text.Write(l)
		return nil
	}
	if err := y.piece(l); err != nil {
		return y.readWhole(next)
	}
	return nil
}

// piece files a line of a document read piece by piece.
func (y *yamlDocument) piece(l []byte) error {
	blank := isBlankYAML(l)
	ind := indentOf(l)
	switch {
	case y.seeking && blank:
		y.pending.Write(l)
		return nil
	case y.seeking && isEntry(l, ind):
		y.seeking, y.indent = false, ind
		y.pending.Reset()
		y.begin(l)
		return nil
	case y.seeking:
		// Not a block sequence: the key goes back into the document.
		y.seeking = false
		y.rest.Write(y.pending.Bytes())
		y.pending.Reset()
	case y.indent >= 0 && (blank || ind > y.indent):
		y.item.Write(l)
		return nil
	case y.indent >= 0 && ind == y.indent && isEntry(l, ind):
		if err := y.flush(); err != nil {
			return err
		}
		y.begin(l)
		return nil
	case y.indent >= 0:
		if err := y.flush(); err != nil {
			return err
		}
		y.indent = -1
	}
	if ind == 0 && isItemsKey(l) {
		y.seeking = true
		y.pending.Write(l)
		return nil
	}
	y.rest.Write(l)
	return nil
}

// readWhole gives up reading the document piece by piece: what was read
// of it, up to offset upto, is read again from the source, and the rest
// follows whole.
func (y *yamlDocument) readWhole(upto int64) error {
	y.whole = true
	y.rest, y.pending, y.item, y.streamed = bytes.Buffer{}, bytes.Buffer{}, bytes.Buffer{}, nil
	y.text.Reset()
	if _, err := io.Copy(&y.text, io.NewSectionReader(y.src, y.start, upto-y.start)); err != nil {
		return fmt.Errorf("document %d: %w", y.d.n, err)
	}
	if b := y.text.Bytes(); len(b) > 0 && b[len(b)-1] != '\n' {
		y.text.WriteByte('\n')
	}
	return nil
}

// begin starts an entry of the sequence: its dash becomes a space, so that
// the entry is a YAML document of its own at the same columns.
func (y *yamlDocument) begin(l []byte) {
	l[y.indent] = ' '
	y.item.Write(l)
}

// flush converts and decodes the entry read.
func (y *yamlDocument) flush() error {
	raw, err := yaml.YAMLToJSON(y.item.Bytes())
	if err != nil {
		return err
	}
	y.item.Reset()
	y.streamed = append(y.streamed, y.d.decode(raw))
	return nil
}

// end finishes the document, if one was begun.
func (y *yamlDocument) end() error {
	if !y.begun {
		return nil
	}
	fields, streamed, err := y.convert()
	if err != nil && !y.whole {
		if werr := y.readWhole(y.pos); werr != nil {
			return werr
		}
		fields, streamed, err = y.convert()
	}
	*y = yamlDocument{d: y.d, src: y.src}
	if err != nil {
		return fmt.Errorf("document %d: %w", y.d.n, err)
	}
	if fields == nil && streamed == nil {
		return nil // an empty document
	}
	return y.d.end(fields, streamed)
}

// convert converts what is left of the document: its fields but the items
// streamed, and those items. fields is nil for an empty document.
func (y *yamlDocument) convert() (map[string]json.RawMessage, []itemResult, error) {
	text := &y.text
	if !y.whole {
		if y.indent >= 0 {
			if err := y.flush(); err != nil {
				return nil, nil, err
			}
		}
		y.rest.Write(y.pending.Bytes())
		y.pending.Reset()
		text = &y.rest
	}
	raw, err := yaml.YAMLToJSON(text.Bytes())
	if err != nil {
		return nil, nil, err
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		if y.streamed == nil {
			return nil, nil, nil
		}
		return map[string]json.RawMessage{}, y.streamed, nil
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, nil, fmt.Errorf("not an object: %w", err)
	}
	return fields, y.streamed, nil
}

// isBlankYAML: a line with nothing but spaces or a comment.
func isBlankYAML(l []byte) bool {
	t := bytes.TrimSpace(l)
	return len(t) == 0 || t[0] == '#'
}

// indentOf counts the spaces a line begins with (YAML indents with spaces
// only).
func indentOf(l []byte) int {
	n := 0
	for n < len(l) && l[n] == ' ' {
		n++
	}
	return n
}

// isEntry: the line begins a block sequence entry at column ind.
func isEntry(l []byte, ind int) bool {
	if ind >= len(l) || l[ind] != '-' {
		return false
	}
	return ind+1 == len(l) || strings.IndexByte(" \t\r\n", l[ind+1]) >= 0
}

// isItemsKey: the line is `items:` with no value on it (a block
// collection follows).
func isItemsKey(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte("items:"))
	if !ok {
		return false
	}
	t := bytes.TrimSpace(rest)
	return len(t) == 0 || (t[0] == '#' && (rest[0] == ' ' || rest[0] == '\t'))
}
