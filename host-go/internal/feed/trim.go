package feed

import (
	"encoding/json"
	"fmt"
)

// metadataKept is every metadata field the core reads.
var metadataKept = []string{"name", "namespace", "labels", "resourceVersion", "deletionTimestamp"}

// Trim parses an object and drops what DNS never reads — managed fields,
// annotations, owner references, pod specs, most of any status — so that
// what is stored and handed to the core stays small. It returns the object
// with its identity.
func Trim(raw []byte) (Object, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Object{}, fmt.Errorf("not a JSON object: %w", err)
	}
	kind, _ := doc["kind"].(string)
	meta, _ := doc["metadata"].(map[string]any)
	if meta == nil {
		return Object{}, fmt.Errorf("%s without metadata", orUnknown(kind))
	}
	doc["metadata"] = keep(meta, metadataKept...)
	trimKind(kind, doc)
	o := Object{Kind: kind}
	o.Name, _ = meta["name"].(string)
	o.Namespace, _ = meta["namespace"].(string)
	if o.Name == "" {
		return Object{}, fmt.Errorf("%s without a name", orUnknown(kind))
	}
	if ls, ok := meta["labels"].(map[string]any); ok {
		o.Labels = make(map[string]string, len(ls))
		for k, v := range ls {
			s, ok := v.(string)
			if !ok {
				return Object{}, fmt.Errorf("%s %s: label %q is not a string", kind, o.Key(), k)
			}
			o.Labels[k] = s
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return Object{}, err
	}
	o.JSON = out
	return o, nil
}

// trimKind drops the parts of each kind DNS does not read.
func trimKind(kind string, doc map[string]any) {
	switch kind {
	case KindNamespace:
		delete(doc, "spec")
		delete(doc, "status")
	case KindPod:
		delete(doc, "spec")
		if status, ok := doc["status"].(map[string]any); ok {
			doc["status"] = keep(status, "phase", "podIP", "podIPs")
		}
	case KindService:
		if status, ok := doc["status"].(map[string]any); ok {
			doc["status"] = keep(status, "loadBalancer")
		}
	}
}

func keep(m map[string]any, fields ...string) map[string]any {
	kept := make(map[string]any, len(fields))
	for _, k := range fields {
		if v, ok := m[k]; ok {
			kept[k] = v
		}
	}
	return kept
}

func orUnknown(kind string) string {
	if kind == "" {
		return "object of unknown kind"
	}
	return kind
}

// phase reads status.phase of a pod.
func phase(raw []byte) string {
	var p struct {
		Status struct {
			Phase string `json:"phase"`
		} `json:"status"`
	}
	_ = json.Unmarshal(raw, &p)
	return p.Status.Phase
}
