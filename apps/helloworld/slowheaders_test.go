package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestSlowHeadersAreDropped is a slowloris client: it sends part of a
// request line and then nothing. The server must hang up within a few
// seconds (its ReadHeaderTimeout, 5s), not hold the connection for the 10s
// ReadTimeout or for ever. It waits out the real timeout, so it runs in
// parallel with the other tests.
func TestSlowHeadersAreDropped(t *testing.T) {
	t.Parallel()
	const fewSeconds = 7 * time.Second // 5s header timeout plus room for -race on a loaded machine

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- run(ctx, ln, newHandler(cfg), cfg.draining, time.Second) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: helloworld\r\n"); err != nil {
		t.Fatal(err)
	}
	// Past the 10s ReadTimeout, so a server without a header timeout is caught
	// by the elapsed time below rather than by this deadline alone.
	if err := conn.SetReadDeadline(start.Add(12 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, conn) // returns when the server closes (nil on EOF)
	elapsed := time.Since(start)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server still held the connection after %s", elapsed.Round(time.Millisecond))
	}
	if elapsed > fewSeconds {
		t.Fatalf("the server hung up after %s, want within %s", elapsed.Round(time.Millisecond), fewSeconds)
	}
}
