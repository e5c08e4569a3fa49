package modtest

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// DualServer serves h over TLS and in clear on one port of 127.0.0.1, telling the two apart by
// the first byte a client sends (a TLS handshake starts with 0x16), and returns the https:// and
// http:// URLs of that one host and port. It stands in for a server that answers both ways on
// the same host, to test that credentials never follow an https URL that redirects to http.
// h sees r.TLS == nil for requests that came in clear. Clients must skip certificate
// verification. Both are stopped when t ends.
func DualServer(t testing.TB, h http.Handler) (httpsURL, httpURL string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secure, plain := newChanListener(ln.Addr()), newChanListener(ln.Addr())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				secure.Close()
				plain.Close()
				return
			}
			go func() {
				br := bufio.NewReader(c)
				first, err := br.Peek(1)
				if err != nil {
					c.Close()
					return
				}
				pc := &peekedConn{Conn: c, r: br}
				if first[0] == 0x16 {
					secure.put(pc)
				} else {
					plain.put(pc)
				}
			}()
		}
	}()
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.Listener = secure
	tlsSrv.StartTLS()
	plainSrv := httptest.NewUnstartedServer(h)
	plainSrv.Listener = plain
	plainSrv.Start()
	t.Cleanup(func() {
		ln.Close()
		tlsSrv.Close()
		plainSrv.Close()
	})
	return tlsSrv.URL, plainSrv.URL
}

// chanListener hands out the connections put into it.
type chanListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closer sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) put(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closer.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// peekedConn reads first what was peeked.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
