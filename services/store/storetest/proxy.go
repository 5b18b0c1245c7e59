package storetest

import (
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Mode is what a Proxy does with the connections it carries.
type Mode int

// The faults a Proxy can put between a service and its database.
const (
	// Forward relays bytes both ways: the database works.
	Forward Mode = iota
	// Refuse closes the listening socket, so that new connections are
	// refused (ECONNREFUSED, as from a stopped server), and resets every open
	// one.
	Refuse
	// Reset resets every open connection and every new one as soon as it is
	// accepted (ECONNRESET, as from a crashed server or a firewall).
	Reset
	// Blackhole keeps every connection open and accepts new ones, but
	// relays nothing: whatever is sent is read and dropped, and no answer
	// ever comes (a network partition, a hung server).
	Blackhole
)

// Proxy is a TCP proxy for fault tests: it sits between a service and its
// database (point the database URL at Addr) and can, on command, refuse,
// reset or blackhole the connections, and forward again.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	mode  Mode
	ln    net.Listener
	conns map[*link]struct{}
	done  bool
	wg    sync.WaitGroup
}

// link is one client connection and, while forwarding, its server side.
type link struct {
	client, server net.Conn
}

// NewProxy listens on a free loopback port and forwards to target
// ("host:port"). It is closed when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), ln: ln, conns: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept(ln)
	tb.Cleanup(p.Close)
	return p
}

// Addr is the proxy's "host:port".
func (p *Proxy) Addr() string { return p.addr }

// URL returns databaseURL with its host and port replaced by the proxy's.
func (p *Proxy) URL(tb testing.TB, databaseURL string) string {
	tb.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = p.addr
	return u.String()
}

// Set switches the proxy to m. Connections that were not forwarding (reset,
// blackholed) are never revived: they lost bytes, so they are reset, and the
// client opens new ones.
func (p *Proxy) Set(tb testing.TB, m Mode) {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	prev := p.mode
	p.mode = m
	switch m {
	case Refuse:
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		p.resetAll()
	case Reset:
		p.resetAll()
	case Blackhole:
		// The relays check the mode before writing; nothing to do here.
	case Forward:
		if prev != Forward {
			p.resetAll()
		}
		if p.ln == nil {
			ln, err := listenAgain(p.addr)
			if err != nil {
				tb.Fatalf("proxy: listen on %s again: %v", p.addr, err)
			}
			p.ln = ln
			p.wg.Add(1)
			go p.accept(ln)
		}
	}
}

// listenAgain binds addr again after Refuse. The port was ours a moment ago;
// another process may only take it in between by chance, so a few tries
// within a second are enough.
func listenAgain(addr string) (net.Listener, error) {
	var err error
	for range 20 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(50 * time.Millisecond) // retrying a bind, not synchronising with anything
	}
	return nil, err
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.done = true
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.resetAll()
	p.mu.Unlock()
	p.wg.Wait()
}

// resetAll resets every connection; p.mu is held.
func (p *Proxy) resetAll() {
	for l := range p.conns {
		abort(l.client)
		if l.server != nil {
			l.server.Close()
		}
		delete(p.conns, l)
	}
}

// abort closes c with an RST instead of a FIN.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode, done := p.mode, p.done
		p.mu.Unlock()
		switch {
		case done || mode == Reset || mode == Refuse:
			abort(c)
		case mode == Blackhole:
			p.track(&link{client: c})
		default:
			s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				abort(c)
				continue
			}
			p.track(&link{client: c, server: s})
		}
	}
}

// track registers l and starts relaying (or, without a server side,
// swallowing) its bytes.
func (p *Proxy) track(l *link) {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		abort(l.client)
		if l.server != nil {
			l.server.Close()
		}
		return
	}
	p.conns[l] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	if l.server == nil {
		go p.swallow(l.client)
		p.wg.Done()
		return
	}
	go p.relay(l.client, l.server)
	go p.relay(l.server, l.client)
}

// relay copies from src to dst while the proxy forwards; in Blackhole mode
// it reads and drops.
func (p *Proxy) relay(src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			forward := p.mode == Forward
			p.mu.Unlock()
			if forward {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				abort(dst)
			} else {
				dst.Close()
			}
			return
		}
	}
}

// swallow reads and drops everything a blackholed client sends.
func (p *Proxy) swallow(c net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(io.Discard, c)
}
