package webhook

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterSet keeps one token-bucket limiter per key, forgetting idle ones
// (full buckets) when it holds more than max.
type limiterSet[K comparable] struct {
	mu    sync.Mutex
	r     rate.Limit
	burst int
	max   int
	m     map[K]*rate.Limiter
}

func newLimiterSet[K comparable](r rate.Limit, burst, maxKeys int) *limiterSet[K] {
	return &limiterSet[K]{r: r, burst: burst, max: maxKeys, m: map[K]*rate.Limiter{}}
}

// allow takes one event for key at now. When there is none left it
// returns false and how long until there is one.
func (s *limiterSet[K]) allow(key K, now time.Time) (bool, time.Duration) {
	if s.r == rate.Inf {
		return true, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.m[key]
	if !ok {
		if len(s.m) >= s.max {
			s.prune(now)
		}
		l = rate.NewLimiter(s.r, s.burst)
		s.m[key] = l
	}
	if l.AllowN(now, 1) {
		return true, 0
	}
	return false, retryAfter(l, now)
}

// prune forgets every key whose bucket is full again (it would behave as a
// new one), and, if that frees nothing, the whole set: a flood of distinct
// addresses must not grow memory without bound.
func (s *limiterSet[K]) prune(now time.Time) {
	for k, l := range s.m {
		if l.TokensAt(now) >= float64(s.burst) {
			delete(s.m, k)
		}
	}
	if len(s.m) >= s.max {
		clear(s.m)
	}
}

// addrKey is the failure limiter's key of a client address: the address
// itself for IPv4, its /64 for IPv6, where one client commonly holds a
// whole /64.
func addrKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// retryAfter returns how long until l has one event again.
func retryAfter(l *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - l.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	if l.Limit() <= 0 {
		return time.Hour
	}
	return time.Duration(math.Ceil(missing / float64(l.Limit()) * float64(time.Second)))
}

// retryAfterSeconds renders d for a Retry-After header: whole seconds,
// at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// clientAddr returns the address a request comes from: the connection's
// peer, or, when the peer is a trusted proxy, the right-most address of
// X-Forwarded-For that is not a trusted proxy.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if len(trusted) == 0 || !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	addr := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a := parseAddr(strings.TrimSpace(parts[j]))
			if !a.IsValid() {
				return addr // unreadable hop: stop at the last one believed
			}
			addr = a
			if !inPrefixes(a, trusted) {
				return a
			}
		}
	}
	return addr
}

func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
