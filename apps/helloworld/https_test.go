package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func httpsConfig(t *testing.T) config {
	t.Helper()
	t.Setenv("HTTPS_REDIRECT", "true")
	return configFromEnv(new(atomic.Bool))
}

func get(t *testing.T, h http.Handler, target, proto string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if proto != "" {
		req.Header.Set("X-Forwarded-Proto", proto)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPlainHTTPThroughTheELBRedirectsToHTTPS(t *testing.T) {
	h := newHandler(httpsConfig(t))
	rec := get(t, h, "http://foo.cloud.weave.works/dbz?x=1", "http")
	if rec.Code != http.StatusPermanentRedirect {
		t.Fatalf("code = %d, want 308", rec.Code)
	}
	if loc := rec.Header().Get("Location"); loc != "https://foo.cloud.weave.works/dbz?x=1" {
		t.Fatalf("Location = %q", loc)
	}
	if rec.Header().Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS must not be sent over plain HTTP (browsers ignore it there)")
	}
}

func TestHTTPSAnswersCarryHSTS(t *testing.T) {
	h := newHandler(httpsConfig(t))
	rec := get(t, h, "http://foo.cloud.weave.works/", "https")
	if rec.Code != http.StatusOK || rec.Body.String() != greeting+"\n" {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Fatalf("Strict-Transport-Security = %q", got)
	}
}

func TestProbesWithoutForwardedProtoAreServed(t *testing.T) {
	h := newHandler(httpsConfig(t))
	if rec := get(t, h, "http://10.0.1.2:8080/healthz", ""); rec.Code != http.StatusOK {
		t.Fatalf("kubelet probe got %d, want 200", rec.Code)
	}
}

func TestWithoutACertificateNothingRedirects(t *testing.T) {
	t.Setenv("HTTPS_REDIRECT", "")
	h := newHandler(configFromEnv(new(atomic.Bool)))
	rec := get(t, h, "http://abc.us-west-2.elb.amazonaws.com/", "http")
	if rec.Code != http.StatusOK || rec.Header().Get("Strict-Transport-Security") != "" {
		t.Fatalf("ELB-hostname fallback must answer plainly, got %d", rec.Code)
	}
}
