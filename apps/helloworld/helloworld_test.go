package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func testConfig() config {
	return config{greeting: "Hello world", version: "1.2.3", dbPort: "5432", draining: new(atomic.Bool)}
}

// do sends one request straight to the handler, without a network.
func do(t *testing.T, h http.Handler, method, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func TestRoutes(t *testing.T) {
	h := newHandler(testConfig())
	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, "Hello world\n"},
		{"HEAD", "/", 200, ""},
		{"GET", "/healthz", 200, "ok\n"},
		{"HEAD", "/healthz", 200, ""},
		{"POST", "/", 405, ""},
		{"PUT", "/healthz", 405, ""},
		{"DELETE", "/dbz", 405, ""},
		{"GET", "/nope", 404, ""},
		{"GET", "/healthz/x", 404, ""},
	}
	for _, tc := range tests {
		code, body, hdr := do(t, h, tc.method, tc.path)
		if code != tc.code {
			t.Errorf("%s %s: code %d, want %d", tc.method, tc.path, code, tc.code)
		}
		if tc.body != "" && body != tc.body {
			t.Errorf("%s %s: body %q, want %q", tc.method, tc.path, body, tc.body)
		}
		if v := hdr.Get("X-App-Version"); v != "1.2.3" {
			t.Errorf("%s %s: X-App-Version %q", tc.method, tc.path, v)
		}
		if code == 200 && !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, hdr.Get("Content-Type"))
		}
	}
}

func TestGreetingDefaultAndOverride(t *testing.T) {
	if greeting != "Hello world" || version != "dev" {
		t.Fatalf("defaults: greeting %q version %q", greeting, version)
	}
	_, body, _ := do(t, newHandler(configFromEnv(new(atomic.Bool))), "GET", "/")
	if body != "Hello world\n" {
		t.Fatalf("default body %q", body)
	}

	// What -ldflags "-X 'main.greeting=Foo bar' -X main.version=2.0.0" does.
	oldG, oldV := greeting, version
	t.Cleanup(func() { greeting, version = oldG, oldV })
	greeting, version = "Foo bar", "2.0.0"
	_, body, hdr := do(t, newHandler(configFromEnv(new(atomic.Bool))), "GET", "/")
	if body != "Foo bar\n" || hdr.Get("X-App-Version") != "2.0.0" {
		t.Fatalf("overridden: body %q version %q", body, hdr.Get("X-App-Version"))
	}
}

func TestHealthzDraining(t *testing.T) {
	cfg := testConfig()
	h := newHandler(cfg)
	cfg.draining.Store(true)
	if code, _, _ := do(t, h, "GET", "/healthz"); code != 503 {
		t.Fatalf("draining healthz: %d, want 503", code)
	}
	if code, _, _ := do(t, h, "GET", "/"); code != 200 {
		t.Fatalf("draining /: %d, want 200 (only the probe should fail)", code)
	}
}

func TestDBZNotConfigured(t *testing.T) {
	t.Setenv("DB_HOST", "")
	code, body, _ := do(t, newHandler(configFromEnv(new(atomic.Bool))), "GET", "/dbz")
	if code != 404 || body != "database not configured\n" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestDBZReachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	t.Setenv("DB_HOST", host)
	t.Setenv("DB_PORT", port)

	code, body, _ := do(t, newHandler(configFromEnv(new(atomic.Bool))), "GET", "/dbz")
	if want := "database reachable: " + ln.Addr().String() + "\n"; code != 200 || body != want {
		t.Fatalf("got %d %q, want 200 %q", code, body, want)
	}
}

func TestDBZUnreachable(t *testing.T) {
	addr := closedPort(t)
	host, port, _ := net.SplitHostPort(addr)
	t.Setenv("DB_HOST", host)
	t.Setenv("DB_PORT", port)

	start := time.Now()
	code, body, _ := do(t, newHandler(configFromEnv(new(atomic.Bool))), "GET", "/dbz")
	if code != 503 || !strings.HasPrefix(body, "database unreachable: ") || !strings.Contains(body, "refused") {
		t.Fatalf("got %d %q", code, body)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("took %s; the dial timeout is 1s", d)
	}
}

// closedPort returns a loopback address that refuses connections. The port
// stays bound (without listen) until the test ends, so no other listener can
// take it over meanwhile.
func closedPort(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

func TestHealthcheck(t *testing.T) {
	cfg := testConfig()
	srv := httptest.NewServer(newHandler(cfg)) // listens on 127.0.0.1
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	if err := healthcheck(addr); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	cfg.draining.Store(true)
	if err := healthcheck(addr); err == nil {
		t.Fatal("draining server: want error")
	}
	if err := healthcheck(closedPort(t)); err == nil {
		t.Fatal("no server: want error")
	}
}

func TestGracefulShutdown(t *testing.T) {
	cfg := testConfig()
	started, release := make(chan struct{}), make(chan struct{})
	// A slow test-only route in front of the real handler stands for an
	// in-flight request that must survive the shutdown.
	mux := http.NewServeMux()
	mux.Handle("/", newHandler(cfg))
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done\n")
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- run(ctx, ln, mux, cfg.draining, 5*time.Second) }()

	if err := healthcheck(addr); err != nil {
		t.Fatalf("before shutdown: %v", err)
	}

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		// Own transport: a shared one may dial spare connections that would
		// sit in StateNew, which Shutdown waits 5s for before closing.
		c := http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(b), err}
	}()
	<-started
	cancel() // what SIGTERM does via signal.NotifyContext

	// The listener closes and /healthz fails while the slow request runs.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if c != nil {
			c.Close()
		}
		// A dial racing the close can still connect or be reset; retry.
		if time.Now().After(deadline) {
			t.Fatalf("connections not refused after shutdown began (last dial: %v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !cfg.draining.Load() {
		t.Fatal("draining not set once shutdown began")
	}
	if code, _, _ := do(t, mux, "GET", "/healthz"); code != 503 {
		t.Fatalf("healthz during shutdown: %d, want 503", code)
	}
	select {
	case err := <-runErr:
		t.Fatalf("run returned %v before the in-flight request finished", err)
	default:
	}

	close(release)
	r := <-slow
	if r.err != nil || r.code != 200 || r.body != "done\n" {
		t.Fatalf("in-flight request: %d %q %v", r.code, r.body, r.err)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
}
