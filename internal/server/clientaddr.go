package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries are walked.
const maxForwardedHops = 32

// clientAddr is the address that per-address limits are keyed on: the host
// of r.RemoteAddr. When that host is a trusted proxy (RateLimits.
// TrustedProxies), X-Forwarded-For is walked from the right, past trusted
// proxies, to the first untrusted address; an entry that is not an address
// stops the walk at the proxy before it. With no trusted proxies the header
// is ignored, because any client can send it. IPv6 addresses are keyed by
// their /64, the smallest network a host is usually given.
func (s *Server) clientAddr(r *http.Request) string {
	ip, ok := parseHost(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if len(s.rl.TrustedProxies) > 0 && s.trustedProxy(ip) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			ip = hop.Unmap()
			if !s.trustedProxy(ip) {
				break
			}
		}
	}
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}

func (s *Server) trustedProxy(ip netip.Addr) bool {
	for _, p := range s.rl.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseHost returns the IP of a "host:port" or bare host.
func parseHost(addr string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap(), true
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		return ip.Unmap(), true
	}
	return netip.Addr{}, false
}
