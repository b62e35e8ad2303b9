package main

import (
	gotoken "go/token"
	"strings"
)

// initialisms are the WIT name parts Go spells in capitals.
var initialisms = map[string]string{
	"api": "API", "dns": "DNS", "id": "ID", "ip": "IP", "ips": "IPs", "json": "JSON",
	"qps": "QPS", "tls": "TLS", "ttl": "TTL", "uri": "URI", "url": "URL",
}

// goName turns a kebab-case WIT name into an exported Go name:
// local-ips is LocalIPs, api-server APIServer.
func goName(wit string) string {
	var b strings.Builder
	for _, part := range strings.Split(wit, "-") {
		if v, ok := initialisms[strings.ToLower(part)]; ok {
			b.WriteString(v)
		} else if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// goParam turns a WIT parameter name into a Go one: its first part as
// written (WIT names are lower case), the others as goName spells them:
// hash-seed is hashSeed.
func goParam(wit string) string {
	first, rest, _ := strings.Cut(wit, "-")
	name := strings.ToLower(first) + goName(rest)
	if gotoken.IsKeyword(name) || name == "ctx" || name == "err" || name == "in" || name == "l" {
		name += "Arg"
	}
	return name
}

// typeKey names a type in the names of the helpers that lower and lift
// it: list<string> is ListString, option<list<u8>> OptionListU8.
func typeKey(t Type) string {
	switch t := t.(type) {
	case *Prim:
		return strings.ToUpper(t.Name[:1]) + t.Name[1:]
	case *List:
		return "List" + typeKey(t.Elem)
	case *Option:
		return "Option" + typeKey(t.Elem)
	case *Result:
		return "Result"
	case *Named:
		return goName(t.Name)
	}
	return ""
}

// comment renders WIT doc text as Go comment lines.
func comment(docs string) string {
	if docs == "" {
		return ""
	}
	var b strings.Builder
	for _, line := range strings.Split(docs, "\n") {
		b.WriteString(strings.TrimRight("// "+line, " ") + "\n")
	}
	return b.String()
}
