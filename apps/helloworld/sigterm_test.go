package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runMainEnv makes this test binary the server: TestSIGTERMLetsInFlightRequestFinish
// starts it as a child process with the variable set.
const runMainEnv = "HELLOWORLD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// TestSIGTERMLetsInFlightRequestFinish is what a rolling update does to a pod:
// the kubelet sends SIGTERM to the real binary while a request is in flight.
// The request must get its whole response and the process must exit 0.
func TestSIGTERMLetsInFlightRequestFinish(t *testing.T) {
	t.Parallel() // it waits on a child process, as TestSlowHeadersAreDropped waits on a timeout
	// The real server in a process of its own: this test binary, which runs main()
	// when runMainEnv is set (see TestMain). No second build of the app and the
	// standard library, and the server runs with the race detector too.
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	// A slow request through the app's real code: /dbz dials a database that
	// never answers, so the handler waits out its 1s dial timeout.
	db := unansweringDB(t)
	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", port)
	// A file, not a buffer: the child writes it directly, so reading it while
	// the child runs races with nothing.
	logFile, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	logs := func() string {
		b, _ := os.ReadFile(logFile.Name())
		return string(b)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "PORT="+port, "SHUTDOWN_TIMEOUT=5", "DB_HOST=127.0.0.1", "DB_PORT="+db)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited, reaped := make(chan error, 1), false
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if !reaped {
			cmd.Process.Kill()
			<-exited
		}
	})
	waitHealthy(t, addr)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /dbz HTTP/1.1\r\nHost: helloworld\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Signal only once the handler is dialing, so the request is surely in
	// flight (a connection still in the accept queue is reset on shutdown,
	// which is what the pod's preStop pause is for).
	waitDialing(t, db)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	conn.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request cut off by SIGTERM: %v\nlogs:\n%s", err, logs())
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	// Proof that the request took the slow path (and so was in flight).
	if resp.StatusCode != 503 || !strings.HasPrefix(string(body), "database unreachable: ") ||
		!strings.Contains(string(body), "i/o timeout") {
		t.Fatalf("got %d %q, want 503 database unreachable (i/o timeout)", resp.StatusCode, body)
	}

	select {
	case err := <-exited:
		reaped = true
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0\nlogs:\n%s", err, logs())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after SIGTERM\nlogs:\n%s", logs())
	}
	if !strings.Contains(logs(), "shutting down") {
		t.Errorf("no shutdown log line:\n%s", logs())
	}
}

// unansweringDB returns the port of a loopback listener whose accept queue
// is full: the kernel drops further SYNs, so a dial to it hangs until its
// timeout, as with a database behind a security group that drops packets.
func unansweringDB(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // never accepted: the queue holds one connection
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the queue until a dial times out (bounded: the queue is tiny).
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("the full listener still completes handshakes: cannot make a database that never answers")
	return ""
}

// waitDialing waits (bounded) until some socket is trying to connect to the
// port: the kernel lists it in /proc/net/tcp as SYN_SENT (state 02).
func waitDialing(t *testing.T, port string) {
	t.Helper()
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	remote := fmt.Sprintf("0100007F:%04X", p) // 127.0.0.1, as /proc/net/tcp writes it
	deadline := time.Now().Add(5 * time.Second)
	for {
		table, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			t.Fatalf("cannot see the app's dial: %v", err)
		}
		for _, line := range strings.Split(string(table), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 3 && f[2] == remote && f[3] == "02" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the app never dialed the database")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freePort returns a loopback port nothing listens on (the app binds it next).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// waitHealthy polls /healthz until the app answers (bounded).
func waitHealthy(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := healthcheck(addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("app not healthy on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
