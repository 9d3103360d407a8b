package web

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound what one HTTP client can hold of the server: a connection
// that sends its headers or its body slowly, or stays idle, is closed, and
// at most MaxConns connections are open at once (the others wait in the
// kernel's backlog, holding no file descriptor of the daemon, which keeps
// some for its Git fetches and clusters).
type Limits struct {
	// ReadHeader bounds reading a request's headers; Read its headers and
	// body; Write from the end of the headers to the end of the response;
	// Idle a kept-alive connection between requests.
	ReadHeader, Read, Write, Idle time.Duration
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
	// MaxConns bounds the connections open at once.
	MaxConns int
}

// DefaultLimits are the daemon's limits: a webhook body (MaxWebhookBody at
// most) has 30 s to arrive.
func DefaultLimits(maxConns int) Limits {
	return Limits{
		ReadHeader:     10 * time.Second,
		Read:           30 * time.Second,
		Write:          60 * time.Second,
		Idle:           60 * time.Second,
		MaxHeaderBytes: 64 << 10,
		MaxConns:       maxConns,
	}
}

// NewServer serves h within l. When h is [NewHandler]'s, its event
// streams, which outlive l's timeouts, end when the server shuts down.
func NewServer(h http.Handler, l Limits) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
	if s, ok := h.(interface{ closeStreams() }); ok {
		srv.RegisterOnShutdown(s.closeStreams)
	}
	return srv
}

// LimitListener accepts at most l.MaxConns connections open at once.
func LimitListener(ln net.Listener, l Limits) net.Listener {
	return netutil.LimitListener(ln, l.MaxConns)
}
