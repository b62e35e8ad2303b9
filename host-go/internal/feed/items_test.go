package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// wholeItems is the reference readItems must agree with: every document
// decoded whole, Lists unpacked (how snapshots were read before).
func wholeItems(data []byte) ([]string, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 64*1024)
	var items []string
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		var head struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, err
		}
		if !strings.HasSuffix(head.Kind, "List") {
			head.Items = []json.RawMessage{raw}
		}
		for _, it := range head.Items {
			items = append(items, compact(it))
		}
	}
}

func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "invalid: " + string(raw)
	}
	return b.String()
}

// streamedItems is readItems with each item's JSON as it is given.
func streamedItems(data []byte) ([]string, error) {
	got, err := readItems(bytes.NewReader(data), func(raw []byte) itemResult {
		return itemResult{obj: Object{JSON: []byte(compact(raw))}}
	})
	out := make([]string, len(got))
	for i, r := range got {
		out[i] = string(r.obj.JSON)
	}
	return out, err
}

// Read item by item, a snapshot gives the items reading each document
// whole gives, in the shapes kubectl and people write.
func TestReadItemsAsWholeDocuments(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"kubectl list", "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: a\n" +
			"- apiVersion: v1\n  kind: Service\n  metadata: {name: b}\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"},
		{"the examples", listYAML},
		{"flow entries", services(5, 0)},
		{"indented sequence", "kind: List\nitems:\n  - kind: Service\n    metadata: {name: a}\n  -   kind: Service\n      metadata: {name: b}\n"},
		{"entry on the next line", "kind: List\nitems:\n-\n  kind: Service\n  metadata: {name: a}\n- kind: Pod\n"},
		{"comments and blank lines", "# a dump\nkind: List # the list\nitems: # its items\n\n# first\n- kind: Service # x\n\n  metadata: {name: a}\n# between\n- kind: Pod\n  metadata:\n    name: p\n    # inside\n\nmetadata: {}\n"},
		{"block scalars", "kind: List\nitems:\n- kind: ConfigMap\n  data:\n    f: |\n      - not an entry\n      items:\n    g: >-\n      folded\n- kind: Service\n"},
		{"crlf", "kind: List\r\nitems:\r\n- kind: Service\r\n  metadata: {name: a}\r\n- kind: Pod\r\n"},
		{"empty list", "kind: List\nitems: []\n"},
		{"null items", "kind: List\nitems:\nmetadata: {}\n"},
		{"items as a flow list", "kind: List\nitems: [{kind: Service}, {kind: Pod}]\n"},
		{"several documents", "kind: Service\nmetadata: {name: a}\n---\n# nothing\n---\nkind: List\nitems:\n- kind: Pod\n---\n\n---\nkind: Namespace\n"},
		{"an empty entry", "kind: List\nitems:\n-\n- kind: Pod\n"},
		{"scalar entries", "kind: List\nitems:\n- 3\n- - nested\n- x: 1\n"},
		{"a list of another kind", "kind: ServiceList\nitems:\n- kind: Service\n  metadata: {name: a}\n"},
		{"no final newline", "kind: List\nitems:\n- kind: Service"},
		{"json list", `{"apiVersion": "v1", "items": [{"kind": "Service", "metadata": {"name": "a"}}, {"kind": "Pod"}], "kind": "List"}`},
		{"json documents", "{\"kind\": \"Service\"}\n{\"kind\": \"List\", \"items\": [{\"kind\": \"Pod\"}]}\nnull\n{\"kind\": \"List\", \"items\": null}"},
		{"a flow mapping continued at column 0", "kind: List\nitems:\n- kind: Service\n  metadata: {name: a, namespace: kube\nsystem}\n- kind: Pod\n---\nkind: List\nitems:\n- kind: Namespace\n"},
		{"yaml flow style", "{kind: List, items: [{kind: Service, metadata: {name: a}}]}\n"},
		{"yaml after one json document", "{\"kind\": \"Service\"}\nkind: Pod\n"},
		{"json but for one value", `{"kind": "List", "items": [{"kind": }]}`},
		{"json in yaml", "kind: Service\n---\n{\"kind\": \"List\",\n\"items\": [{\"kind\": \"Pod\"}]}\n"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, werr := wholeItems([]byte(tc.body))
			if werr != nil {
				t.Fatalf("the reference fails: %v", werr)
			}
			got, err := streamedItems([]byte(tc.body))
			if err != nil {
				t.Fatalf("error %v; want %q", err, want)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("items\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// What cannot be parsed whole cannot be parsed item by item either.
func TestReadItemsRefusesWhatWholeDocumentsRefuse(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"bad yaml in an entry", "kind: List\nitems:\n- kind: Service\n  metadata: {name: [}\n"},
		{"bad yaml outside", "kind: List\nmetadata: {a: [}\nitems:\n- kind: Pod\n"},
		{"not an object", "- a\n- b\n"},
		{"a scalar", "just words\n"},
		{"items of the wrong type", "kind: List\nitems: 3\n"},
		{"kind of the wrong type", "kind: [List]\nitems:\n- kind: Pod\n"},
		{"bad separator", "kind: Service\n--- x\nkind: Pod\n"},
		{"cut json", `{"kind": "List", "items": [{"kind": "Pod"}, {"kind":`},
		{"json items of the wrong type", `{"kind": "List", "items": {"kind": "Pod"}}`},
		{"json not an object", `{"kind": "Service"} [1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, werr := wholeItems([]byte(tc.body)); werr == nil {
				t.Fatalf("the reference reads it")
			}
			if got, err := streamedItems([]byte(tc.body)); err == nil {
				t.Errorf("items %q, want an error", got)
			}
		})
	}
}

// A document that is not a List is one item, without the items it
// lists (no kind the core reads has items): read item by item, they
// are gone before the document's kind is known.
func TestReadItemsOfDocumentsNotLists(t *testing.T) {
	for _, body := range []string{"items:\n- kind: Service\nkind: Pod\n", `{"items": [{"kind": "Service"}], "kind": "Pod"}`} {
		got, err := streamedItems([]byte(body))
		if err != nil || fmt.Sprint(got) != `[{"kind":"Pod"}]` {
			t.Errorf("%q: items %q, error %v; want the Pod alone", body, got, err)
		}
	}
}
