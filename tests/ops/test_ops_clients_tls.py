"""watch and verify over HTTPS: a test CA made here, the app on 127.0.0.1 serving each kind of certificate."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import NOW, FakeClock, Pki, by_name, pki, watch_verb_on
from test_ops_verify import app, run_verify_verb
from test_ops_watch import serve_raw

from infra.ops import cli
from infra.ops.clients import http_probe, tls
from infra.ops.clients.http_probe import Answer
from infra.ops.report import CheckResult
from infra.ops.verify import checks
from infra.ops.watch import watch

__all__ = ["pki"]  # a fixture: pytest finds it here by name


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def trusting(pki: Pki) -> http_probe.Fetch:
    return http_probe.fetcher(tls.client_context(str(pki.ca)))


# ---- watch: what one request over HTTPS answers, and the counting ----


def test_a_trusted_certificate_naming_the_host_answers(pki: Pki) -> None:
    with app(tls=pki.good) as url:
        assert trusting(pki)(url + "/", 2.0) == Answer(200, "Hello world\n")


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        ("wrong_name", "hostname mismatch"),
        ("expired", "certificate has expired"),
    ],
)
def test_tls_failures_have_a_short_reason(pki: Pki, server: str, reason: str) -> None:
    with app(tls=getattr(pki, server)) as url:
        answer = trusting(pki)(by_name(url) + "/", 2.0)
    assert answer == Answer(None, error=f"TLS: certificate verify failed ({reason})")
    assert answer.label() == f"error: TLS: certificate verify failed ({reason})" and not answer.ok


def test_the_system_trust_store_does_not_trust_the_test_ca(pki: Pki) -> None:
    with app(tls=pki.good) as url:
        answer = http_probe.get(url + "/", 2.0)  # no context: the system trust store
    assert answer.label() == "error: TLS: certificate verify failed (unable to get local issuer certificate)"


def test_https_to_a_plain_http_server_is_a_handshake_error(pki: Pki) -> None:
    with app() as url:
        answer = trusting(pki)(url.replace("http://", "https://") + "/", 2.0)
    assert answer.label() == "error: TLS: wrong version number"


def test_watch_counts_tls_failures(pki: Pki) -> None:
    clock = FakeClock(start=100.0)  # real requests; the schedule takes no wall time
    with app(tls=pki.wrong_name) as url:
        stats = watch(
            by_name(url) + "/",
            interval=0.05,
            duration=0.15,
            timeout=1.0,
            fetch=trusting(pki),
            clock=clock.now,
            sleep=clock.sleep,
            out=lambda _: None,
        )
    assert stats.requests == 3 and (stats.successes, stats.failures) == (0, stats.requests)
    assert stats.answers == {"error: TLS: certificate verify failed (hostname mismatch)": stats.requests}


def test_an_http_url_of_a_tls_stack_is_a_redirect_not_ok() -> None:
    # What the app answers on port 80 when the ELB terminates TLS: 308 to https, which watch does not follow.
    redirect = b"HTTP/1.1 308 Permanent Redirect\r\nLocation: https://foo.example.com/\r\nContent-Length: 0\r\n\r\n"
    clock = FakeClock(start=100.0)  # real requests; the schedule takes no wall time
    with serve_raw(lambda conn: conn.sendall(redirect)) as url:
        stats = watch(
            url, interval=0.05, duration=0.1, timeout=1.0, clock=clock.now, sleep=clock.sleep, out=lambda _: None
        )
    assert stats.successes == 0 and stats.failures == stats.requests == 2
    assert stats.answers == {"HTTP 308 -> https://foo.example.com/": stats.requests}


def test_watch_verb_trusts_the_ca_file_and_fails_without_it(
    pki: Pki, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    watch_verb_on(FakeClock(start=100.0), monkeypatch)  # real requests; --duration takes no wall time
    with app(tls=pki.good) as url:
        trusted = cli.main(["watch", url + "/", "--ca-file", str(pki.ca), "--interval", "0.05", "--duration", "0.1"])
        trusted_out = capsys.readouterr().out
        untrusted = cli.main(["watch", url + "/", "--interval", "0.05", "--duration", "0.1"])
        untrusted_out = capsys.readouterr().out
    assert trusted == 0 and "  Hello world" in trusted_out and " 0 failed" in trusted_out
    assert untrusted == 1 and "error: TLS: certificate verify failed (unable to get local issuer" in untrusted_out


def test_a_ca_file_that_does_not_exist_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.pem"
    assert cli.main(["watch", "https://127.0.0.1:9/", "--ca-file", str(missing), "--duration", "0.1"]) == 1
    assert capsys.readouterr().err == f"error: cannot load CA file {missing}: No such file or directory\n"


# ---- verify: the certificate row, and GET / and /dbz over HTTPS ----


def test_certificate_check_thresholds() -> None:
    cert = tls.Certificate(
        "Amazon RSA 2048 M02 (Amazon)", datetime(2030, 6, 1, 12, 0, tzinfo=UTC), ("foo.example.com",)
    )
    detail = "issuer Amazon RSA 2048 M02 (Amazon), valid until 2030-06-01 12:00 UTC, names foo.example.com"
    assert checks.certificate(cert, datetime(2030, 1, 1, tzinfo=UTC)) == CheckResult("certificate", "PASS", detail)
    assert checks.certificate(cert, cert.not_after - timedelta(days=30)).status == "PASS"
    warned = checks.certificate(cert, cert.not_after - timedelta(days=29, hours=23))
    assert warned.status == "WARN" and warned.detail.startswith(f"expires in 29 days: {detail}; ")
    assert "`aws acm describe-certificate`" in warned.detail
    assert checks.certificate(cert, cert.not_after) == CheckResult("certificate", "FAIL", f"expired: {detail}")


def test_plain_http_says_why_there_is_no_certificate() -> None:
    elb = "a1b2-123.us-west-2.elb.amazonaws.com"
    assert checks.plain_http(elb, elb) == CheckResult("certificate", "INFO", "plain HTTP: no certificate (no DNS name)")
    assert checks.plain_http("foo.example.com", elb) == CheckResult(
        "certificate", "INFO", "plain HTTP: no certificate for foo.example.com (infra:dns.tls is false)"
    )


def test_verify_passes_a_trusted_certificate_and_gets_over_https(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with app(tls=pki.good) as url:
        code, rows, err = run_verify_verb(monkeypatch, capsys, url, "--ca-file", str(pki.ca))
    until = (NOW + timedelta(days=90)).strftime("%Y-%m-%d %H:%M")
    assert (code, err) == (0, "")
    assert rows["certificate"] == (
        "PASS",
        f"issuer Infra Test CA (Infra Tests), valid until {until} UTC, names localhost, 127.0.0.1",
    )
    assert rows["GET /"] == ("PASS", f"{url}: 'Hello world'")
    assert rows["GET /dbz"] == ("PASS", f"{url}/dbz: database reachable")


def test_verify_warns_30_days_before_expiry(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with app(tls=pki.expiring) as url:
        code, rows, _ = run_verify_verb(monkeypatch, capsys, url, "--ca-file", str(pki.ca))
    status, detail = rows["certificate"]
    assert code == 0  # a warning, not a failure: the site still works
    assert status == "WARN" and detail.startswith("expires in 10 days: issuer Infra Test CA (Infra Tests)")


@pytest.mark.parametrize(
    ("server", "trust", "reason"),
    [
        ("wrong_name", True, "hostname mismatch"),
        ("expired", True, "certificate has expired"),
        ("good", False, "unable to get local issuer certificate"),
    ],
)
def test_verify_fails_a_certificate_that_does_not_verify(
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    server: str,
    trust: bool,
    reason: str,
) -> None:
    args = ["--ca-file", str(pki.ca)] if trust else []
    with app(tls=getattr(pki, server)) as url:
        url = by_name(url)
        code, rows, err = run_verify_verb(monkeypatch, capsys, url, *args)
    failure = f"TLS: certificate verify failed ({reason})"
    assert code == 1 and err == "error: 3 check(s) failed: certificate, GET /, GET /dbz\n"
    assert rows["certificate"] == ("FAIL", failure)
    assert rows["GET /"] == ("FAIL", f"{url}: error: {failure}")
