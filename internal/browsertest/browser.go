package browsertest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A small client of the Chrome DevTools Protocol, enough for the
// console's browser tests: Chromium runs headless with
// --remote-debugging-pipe (commands on its fd 3, answers and events on
// its fd 4, each message JSON ended by a NUL byte), so no WebSocket and
// no dependency are needed.

// Lookup finds the Chromium binary on the PATH.
func Lookup() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium is not installed (apt-get install -y chromium)")
}

// Chromium returns the Chromium binary, skipping the test when it is
// missing outside CI (in CI, CI=true, a missing Chromium fails).
func Chromium(t *testing.T) string {
	t.Helper()
	bin, err := Lookup()
	if err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip(err)
	return ""
}

// cdpMessage is a command, an answer or an event.
type cdpMessage struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// Browser is one headless Chromium.
type Browser struct {
	t   *testing.T
	cmd *exec.Cmd
	out *os.File // its fd 3

	mu      sync.Mutex
	writeMu sync.Mutex
	nextID  int64
	waiting map[int64]chan cdpMessage
	tabs    map[string]*Tab // by session
	done    chan struct{}
}

// Start starts Chromium; it is closed when the test ends.
func Start(t *testing.T, bin string) *Browser {
	t.Helper()
	toR, toW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromR, fromW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--force-color-profile=srgb",
		"--hide-scrollbars", "--disable-extensions", "--mute-audio", "--remote-debugging-pipe",
		"--user-data-dir="+t.TempDir(), "about:blank")
	cmd.ExtraFiles = []*os.File{toR, fromW} // its fd 3 and 4
	cmd.Dir = t.TempDir()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	_ = toR.Close()
	_ = fromW.Close()
	b := &Browser{t: t, cmd: cmd, out: toW, waiting: map[int64]chan cdpMessage{}, tabs: map[string]*Tab{}, done: make(chan struct{})}
	go b.read(fromR)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.call(ctx, "", "Browser.close", nil, nil)
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = toW.Close()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("chromium's stderr:\n%s", stderr.String())
		}
	})
	return b
}

// read dispatches Chromium's messages: answers to their callers, events
// to their tabs.
func (b *Browser) read(f *os.File) {
	defer close(b.done)
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		raw, err := r.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(raw[:len(raw)-1], &m); err != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch, ok := b.waiting[m.ID]; ok {
				delete(b.waiting, m.ID)
				ch <- m
			}
			b.mu.Unlock()
			continue
		}
		tb := b.tabs[m.SessionID]
		b.mu.Unlock()
		if tb != nil {
			tb.event(m)
		}
	}
}

// call sends a command (to a tab's session, or to the browser when
// session is empty) and decodes its result into result.
func (b *Browser) call(ctx context.Context, session, method string, params, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := cdpMessage{ID: id, Method: method, SessionID: session}
	if params != nil {
		p, err := json.Marshal(params)
		if err != nil {
			return err
		}
		msg.Params = p
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	b.writeMu.Lock()
	_, err = b.out.Write(append(raw, 0))
	b.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if result != nil && len(m.Result) > 0 {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-b.done:
		return fmt.Errorf("%s: chromium exited", method)
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.waiting, id)
		b.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Tab is one page of the browser.
type Tab struct {
	b       *Browser
	t       *testing.T
	session string

	mu         sync.Mutex
	loaded     chan struct{}
	dialogs    []string
	exceptions []string
}

// NewTab opens a page of width×height CSS pixels (a phone's when mobile),
// with its scripts disabled when noScript.
func (b *Browser) NewTab(width, height int, mobile, noScript bool) *Tab {
	t := b.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatal(err)
	}
	tb := &Tab{b: b, t: t, session: attached.SessionID}
	b.mu.Lock()
	b.tabs[tb.session] = tb
	b.mu.Unlock()
	for _, c := range []struct {
		method string
		params any
	}{
		{"Page.enable", nil},
		{"Runtime.enable", nil},
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}},
		{"Emulation.setScriptExecutionDisabled", map[string]any{"value": noScript}},
	} {
		if err := b.call(ctx, tb.session, c.method, c.params, nil); err != nil {
			t.Fatal(err)
		}
	}
	return tb
}

// event records what the tests look at: loads, dialogs (dismissed at
// once) and uncaught exceptions.
func (tb *Tab) event(m cdpMessage) {
	switch m.Method {
	case "Page.loadEventFired":
		tb.mu.Lock()
		if tb.loaded != nil {
			close(tb.loaded)
			tb.loaded = nil
		}
		tb.mu.Unlock()
	case "Page.javascriptDialogOpening":
		var p struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(m.Params, &p)
		tb.mu.Lock()
		tb.dialogs = append(tb.dialogs, p.Type+": "+p.Message)
		tb.mu.Unlock()
		go func() { // not on the reading goroutine: the answer comes through it
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = tb.b.call(ctx, tb.session, "Page.handleJavaScriptDialog", map[string]any{"accept": false}, nil)
		}()
	case "Runtime.exceptionThrown":
		var p struct {
			Details struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(m.Params, &p)
		tb.mu.Lock()
		tb.exceptions = append(tb.exceptions, p.Details.Text+" "+p.Details.Exception.Description)
		tb.mu.Unlock()
	}
}

// Problems returns the dialogs opened and the exceptions thrown so far.
func (tb *Tab) Problems() (dialogs, exceptions []string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.dialogs...), append([]string(nil), tb.exceptions...)
}

// Navigate loads url and waits for its load event.
func (tb *Tab) Navigate(url string) {
	tb.t.Helper()
	loaded := make(chan struct{})
	tb.mu.Lock()
	tb.loaded = loaded
	tb.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	if err := tb.b.call(ctx, tb.session, "Page.navigate", map[string]any{"url": url}, &res); err != nil {
		tb.t.Fatal(err)
	}
	if res.ErrorText != "" {
		tb.t.Fatalf("navigate %s: %s", url, res.ErrorText)
	}
	select {
	case <-loaded:
	case <-ctx.Done():
		tb.t.Fatalf("navigate %s: no load event", url)
	}
}

// Eval evaluates expr in the page (awaiting a promise) and decodes its
// value into out (nil: ignored).
func (tb *Tab) Eval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := tb.b.call(ctx, tb.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return err
	}
	if e := res.Exception; e != nil {
		return fmt.Errorf("%s: %s %s", expr, e.Text, e.Exception.Description)
	}
	if out == nil || len(res.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(res.Result.Value, out)
}

// Must is Eval failing the test on an error.
func (tb *Tab) Must(expr string, out any) {
	tb.t.Helper()
	if err := tb.Eval(expr, out); err != nil {
		tb.t.Fatal(err)
	}
}

// Str and Bool evaluate an expression of that type.
func (tb *Tab) Str(expr string) string {
	tb.t.Helper()
	var s string
	tb.Must(expr, &s)
	return s
}

func (tb *Tab) Bool(expr string) bool {
	tb.t.Helper()
	var v bool
	tb.Must(expr, &v)
	return v
}

// WaitFor waits until expr is true, failing the test after timeout with
// what says describes.
func (tb *Tab) WaitFor(expr string, timeout time.Duration, says string) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := tb.Eval(expr, &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("waited %v for %s (%s): %v", timeout, says, expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Screenshot writes a PNG of the whole page to path.
func (tb *Tab) Screenshot(path string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var metrics struct {
		Content struct {
			Width  float64 `json:"width"`
			Height float64 `json:"height"`
		} `json:"cssContentSize"`
	}
	if err := tb.b.call(ctx, tb.session, "Page.getLayoutMetrics", nil, &metrics); err != nil {
		tb.t.Fatal(err)
	}
	var shot struct {
		Data string `json:"data"`
	}
	if err := tb.b.call(ctx, tb.session, "Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": metrics.Content.Width, "height": metrics.Content.Height, "scale": 1},
	}, &shot); err != nil {
		tb.t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
}

// ArtifactDir is where a test's screenshots go: $DIGITOPS_ARTIFACTS/sub
// (kept, e.g. as CI artifacts), else a temporary directory.
func ArtifactDir(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("DIGITOPS_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
