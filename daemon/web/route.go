package web

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// ForwardedHeader marks a request one replica forwarded to another (serve
// --shard); its value is the forwarding replica's URL. A forwarded request
// is never forwarded again: ownership that moved meanwhile answers 409.
const ForwardedHeader = "X-Digitops-Forwarded"

// routed carries out an action here when this replica owns what it acts on
// (the request's environment, or the rollouts), and otherwise forwards the
// request as it came (its Authorization header included) to the replica
// that does, whose answer is relayed.
func (h *handler) routed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var target string
		var local bool
		if env := r.PathValue("env"); env != "" {
			target, local = h.backend.Route(env)
		} else {
			target, local = h.backend.RouteRollouts()
		}
		switch {
		case local:
			next(w, r)
		case r.Header.Get(ForwardedHeader) != "":
			http.Error(w, "conflict: ownership moved while the request was forwarded; try again", http.StatusConflict)
		case target == "":
			w.Header().Set("Retry-After", "5")
			http.Error(w, "no replica owns this right now (a hand-over is under way); try again in a few seconds", http.StatusServiceUnavailable)
		default:
			h.forward(w, r, target)
		}
	}
}

// forward sends r to the replica at target.
func (h *handler) forward(w http.ResponseWriter, r *http.Request, target string) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		http.Error(w, "the owning replica's address is not a URL", http.StatusBadGateway)
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.URL.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
			pr.Out.URL.RawPath = ""
			pr.Out.Header.Set(ForwardedHeader, "1")
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			h.opts.Log.Warn("unable to forward a request to the owning replica", "target", target, "error", err)
			http.Error(w, "the owning replica did not answer; try again", http.StatusBadGateway)
		},
	}
	proxy.ServeHTTP(w, r)
}

// relayTimeout bounds the relay of a webhook push to one replica.
const relayTimeout = 10 * time.Second

// relay sends a verified webhook push, as it came (body, signature and
// event headers), to every other replica, in the background: each checks
// the signature and its own replay window, fetches, and wakes the
// environments it owns. The relayed copy is marked so that it is not
// relayed again.
func (h *handler) relay(r *http.Request, receiver string, body []byte) {
	peers := h.backend.Peers()
	if len(peers) == 0 {
		return
	}
	header := r.Header.Clone()
	header.Del("Authorization")
	header.Del("Cookie")
	header.Set(ForwardedHeader, "1")
	for _, peer := range peers {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), relayTimeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(peer, "/")+"/hooks/"+receiver, bytes.NewReader(body))
			if err != nil {
				return
			}
			req.Header = header.Clone()
			resp, err := h.relayClient.Do(req)
			if err != nil {
				h.opts.Log.Warn("unable to relay a webhook push to a replica", "replica", peer, "error", err)
				return
			}
			_ = resp.Body.Close()
		}()
	}
}
