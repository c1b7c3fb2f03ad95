// Command helloworld is a tiny HTTP service used to exercise the EKS
// deployment: a greeting, a health endpoint for the probes and a database
// reachability check.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Set at build time with -ldflags "-X 'main.greeting=...' -X main.version=...".
var (
	greeting = "Hello world"
	version  = "dev"
)

type config struct {
	greeting string
	version  string
	dbHost   string // empty: no database configured
	dbPort   string
	// httpsRedirect: the ELB terminates TLS for a public name. Requests that
	// reached it over plain HTTP (X-Forwarded-Proto: http) are redirected to
	// https, and HTTPS answers carry HSTS. Off without a certificate (the ELB
	// hostname fallback), where https would not work.
	httpsRedirect bool
	// draining is set by run once shutdown begins, so /healthz fails and
	// the readiness probe takes the pod out of the Service.
	draining *atomic.Bool
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func configFromEnv(draining *atomic.Bool) config {
	return config{
		greeting: greeting,
		version:  version,
		dbHost:   os.Getenv("DB_HOST"),
		dbPort:   getenv("DB_PORT", "5432"),
		draining: draining,

		httpsRedirect: os.Getenv("HTTPS_REDIRECT") == "true",
	}
}

// hstsValue: one year, the minimum browsers' preload lists ask for; no
// includeSubDomains, since the stack owns only its own name.
const hstsValue = "max-age=31536000"

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprint(w, body)
}

// newHandler returns the app's routes. Method-qualified patterns (Go 1.22)
// make the mux answer 405 for anything but GET/HEAD and 404 for unknown paths.
func newHandler(cfg config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		text(w, http.StatusOK, cfg.greeting+"\n")
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.draining != nil && cfg.draining.Load() {
			text(w, http.StatusServiceUnavailable, "shutting down\n")
			return
		}
		text(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /dbz", func(w http.ResponseWriter, r *http.Request) {
		if cfg.dbHost == "" {
			text(w, http.StatusNotFound, "database not configured\n")
			return
		}
		addr := net.JoinHostPort(cfg.dbHost, cfg.dbPort)
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(r.Context(), "tcp", addr)
		if err != nil {
			text(w, http.StatusServiceUnavailable, "database unreachable: "+err.Error()+"\n")
			return
		}
		conn.Close()
		text(w, http.StatusOK, "database reachable: "+addr+"\n")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", cfg.version)
		if cfg.httpsRedirect {
			// Only the ELB sets X-Forwarded-Proto: probes from the kubelet have
			// none and are served as they are.
			switch r.Header.Get("X-Forwarded-Proto") {
			case "http":
				// 308 keeps the method; the Host is the public name the client used.
				http.Redirect(w, r, "https://"+r.Host+r.URL.RequestURI(), http.StatusPermanentRedirect)
				return
			case "https":
				w.Header().Set("Strict-Transport-Security", hstsValue)
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// run serves h on ln until ctx is cancelled, then stops accepting, lets
// in-flight requests finish (up to grace) and returns nil.
func run(ctx context.Context, ln net.Listener, h http.Handler, draining *atomic.Bool, grace time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second, // guards against slowloris
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("helloworld %s listening on %s", version, ln.Addr())

	select {
	case err := <-errc: // Serve failed before any shutdown was asked for
		return err
	case <-ctx.Done():
	}
	draining.Store(true)
	log.Printf("shutting down, waiting up to %s for in-flight requests", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// healthcheck backs `helloworld -healthcheck`, the Docker HEALTHCHECK: the
// distroless image has no shell or curl to probe with.
func healthcheck(addr string) error {
	// One-shot probe: no keep-alive, so no idle connection is left behind.
	c := http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz: %s", resp.Status)
	}
	return nil
}

func main() {
	os.Exit(realMain())
}

// realMain returns the exit code, so deferred cleanups run before os.Exit.
func realMain() int {
	hc := flag.Bool("healthcheck", false, "GET http://127.0.0.1:$PORT/healthz and exit 0 if healthy, 1 otherwise")
	flag.Parse()
	port := getenv("PORT", "8080")

	if *hc {
		if err := healthcheck(net.JoinHostPort("127.0.0.1", port)); err != nil {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			return 1
		}
		return 0
	}

	secs, err := strconv.Atoi(getenv("SHUTDOWN_TIMEOUT", "20"))
	if err != nil || secs < 0 {
		log.Printf("invalid SHUTDOWN_TIMEOUT %q", os.Getenv("SHUTDOWN_TIMEOUT"))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		log.Print(err)
		return 1
	}
	var draining atomic.Bool
	if err := run(ctx, ln, newHandler(configFromEnv(&draining)), &draining, time.Duration(secs)*time.Second); err != nil {
		log.Print(err)
		return 1
	}
	return 0
}
