package tapconfig

import (
	"net"
	"strconv"
	"strings"

	"github.com/quickfixgo/quickfix/config"
)

// Port clashes.
//
// What is NOT a clash: several acceptor sessions on one SocketAcceptPort
// (one quickfixgo listener serves them all, telling sessions apart by
// CompIDs), and several initiator sessions connecting to one host:port (a
// venue gateway serves many sessions).
//
// What IS a clash, refused by Parse:
//   - a port outside 1-65535 (checked per value);
//   - MetricsAddress on a port an acceptor listens on, when the two hosts
//     can overlap (either is empty/0.0.0.0/::, or they are equal, or both
//     are loopback): the second listen would fail at start;
//   - an initiator whose SocketConnectHost[N]:SocketConnectPort[N] is the
//     tap's own acceptor or metrics listener (a loopback host, or the
//     acceptor's own SocketAcceptHost, on that port): the tap would log on
//     to itself;
//   - acceptor sessions disagreeing on SocketAcceptHost or TLS keys, which
//     quickfixgo v0.9.11 reads once for all acceptors (checkAcceptorGlobals).
//
// Ports in use by other programs are not checked: that is a run-time fact,
// reported when the listener starts.

type listenAddr struct {
	host string
	port int
	line int
}

func checkPorts(el *errList, f *File, def *section) {
	var accepts []listenAddr
	seenPort := map[int]bool{}
	for _, s := range f.Sessions {
		if s.ConnectionType != Acceptor {
			continue
		}
		acceptHost := s.Settings[config.SocketAcceptHost]
		p, ok := parsePort(s.Settings[config.SocketAcceptPort])
		if !ok || seenPort[p] {
			continue
		}
		seenPort[p] = true
		accepts = append(accepts, listenAddr{host: acceptHost, port: p, line: s.Line})
	}
	var metrics *listenAddr
	if e, ok := def.vals[KeyMetricsAddress]; ok && valid(el, KeyMetricsAddress, e.line) {
		h, p, _ := splitHostPort(e.val)
		metrics = &listenAddr{host: h, port: p, line: e.line}
		for _, a := range accepts {
			if a.port == p && hostsOverlap(h, a.host) {
				el.add(e.line, KeyMetricsAddress, "port %d clashes with SocketAcceptPort of the acceptor [SESSION] at line %d: both would listen on it", p, a.line)
			}
		}
	}
	for _, s := range f.Sessions {
		if s.ConnectionType != Initiator {
			continue
		}
		for i := 0; ; i++ {
			hk, pk := config.SocketConnectHost, config.SocketConnectPort
			if i > 0 {
				hk += strconv.Itoa(i)
				pk += strconv.Itoa(i)
			}
			h, hok := s.Settings[hk]
			ps, pok := s.Settings[pk]
			if !hok || !pok {
				if i > 0 {
					break
				}
				continue
			}
			p, ok := parsePort(ps)
			if !ok {
				continue
			}
			for _, a := range accepts {
				if a.port == p && isSelf(h, a.host) {
					el.add(s.lines[pk], pk, "%s:%d is the tap's own acceptor (the [SESSION] at line %d listens on port %d): the tap would connect to itself", h, p, a.line, p)
				}
			}
			if metrics != nil && metrics.port == p && isSelf(h, metrics.host) {
				el.add(s.lines[pk], pk, "%s:%d is the tap's own MetricsAddress (line %d)", h, p, metrics.line)
			}
		}
	}
}

func isWildcard(h string) bool {
	return h == "" || h == "0.0.0.0" || h == "::" || h == "[::]"
}

func isLoopback(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// hostsOverlap reports whether listeners on hosts a and b (same port)
// would conflict.
func hostsOverlap(a, b string) bool {
	return isWildcard(a) || isWildcard(b) || strings.EqualFold(a, b) || (isLoopback(a) && isLoopback(b))
}

// isSelf reports whether connecting to host reaches a listener bound to
// listenHost on this machine.
func isSelf(host, listenHost string) bool {
	if isLoopback(host) {
		return isWildcard(listenHost) || isLoopback(listenHost)
	}
	return !isWildcard(listenHost) && strings.EqualFold(host, listenHost)
}
