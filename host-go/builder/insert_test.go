package builder

import (
	"reflect"
	"strings"
	"testing"
)

func TestInsertDirective(t *testing.T) {
	chain := []string{"log", "cache", "kubernetes", "file", "forward"}
	tests := []struct {
		name   string
		anchor string
		after  bool
		want   []string
		err    string
	}{
		{name: "after kubernetes", anchor: "kubernetes", after: true,
			want: []string{"log", "cache", "kubernetes", "kubernetai", "file", "forward"}},
		{name: "before kubernetes", anchor: "kubernetes",
			want: []string{"log", "cache", "kubernetai", "kubernetes", "file", "forward"}},
		{name: "before first", anchor: "log",
			want: []string{"kubernetai", "log", "cache", "kubernetes", "file", "forward"}},
		{name: "after last", anchor: "forward", after: true,
			want: []string{"log", "cache", "kubernetes", "file", "forward", "kubernetai"}},
		{name: "missing anchor", anchor: "etcd", after: true,
			err: `anchor directive "etcd" is not in the plugin chain: log cache kubernetes file forward`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]string(nil), chain...)
			got, err := insertDirective(in, "kubernetai", tt.anchor, tt.after)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			// CoreDNS's own slice must be left alone: the result is
			// assigned back, never shared.
			if !reflect.DeepEqual(in, chain) {
				t.Errorf("input changed to %v", in)
			}
		})
	}
}

func TestInsertDirectiveTwice(t *testing.T) {
	_, err := insertDirective([]string{"kubernetes", "kubernetai"}, "kubernetai", "kubernetes", true)
	if err == nil || !strings.Contains(err.Error(), `directive "kubernetai" is already in the plugin chain`) {
		t.Fatalf("error = %v", err)
	}
}
