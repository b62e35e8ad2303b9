package kubernetai

import (
	"net"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"
)

// What the host tells the core of the machine it runs on (set-host).

// listenIPs returns the addresses CoreDNS serves this block on, without
// loopback ones: the addresses of ns.dns.<zone>.
func listenIPs(c *caddy.Controller) []string {
	hosts := dnsserver.GetConfig(c).ListenHosts
	if len(hosts) == 0 || hosts[0] == "" {
		hosts = nil
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return nil
		}
		for _, a := range addrs {
			hosts = append(hosts, a.String())
		}
	}
	var ips []string
	for _, h := range hosts {
		ip := net.ParseIP(h)
		if ip == nil {
			ip, _, _ = net.ParseCIDR(h)
		}
		if ip != nil && !ip.IsLoopback() {
			ips = append(ips, ip.String())
		}
	}
	return ips
}

// searchList is the host's resolv.conf search list, which ends autopath
// search paths, as the kubernetes plugin reads it.
func searchList() []string {
	rc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	plugin.Zones(rc.Search).Normalize()
	return rc.Search
}
