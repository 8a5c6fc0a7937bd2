"""``trephine serve``: loopback by default; another address only with TLS or behind a proxy;
uvicorn's TLS for real (a self-signed certificate made here), and forwarded headers believed only
with ``--behind-proxy`` from the configured proxy address."""

from __future__ import annotations

import datetime as dt
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trephine.cli.main import app

TREPHINE = [sys.executable, "-m", "trephine"]


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.org"])
def test_a_non_loopback_host_needs_tls_or_a_proxy(host: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--host", host])
    assert result.exit_code == 2
    assert "--tls-cert/--tls-key or --behind-proxy" in result.stderr


def test_tls_needs_both_files_that_exist(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    result = CliRunner().invoke(app, ["serve", "--tls-cert", str(cert)])
    assert result.exit_code == 2 and "both files" in result.stderr
    result = CliRunner().invoke(
        app, ["serve", "--tls-cert", str(cert), "--tls-key", str(tmp_path / "missing.pem")]
    )
    assert result.exit_code == 2 and "--tls-key" in result.stderr


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``trephine init`` database for every server of the module (they only answer
    /healthz and /sign-in): four servers used to run init four times, a Python start-up and the
    migrations each."""
    db = tmp_path_factory.mktemp("serve-safely") / "serve.db"
    env = {**os.environ, "TREPHINE_DATABASE_URL": f"sqlite:///{db}"}
    subprocess.run([*TREPHINE, "init"], env=env, check=True, capture_output=True, timeout=120)
    return db


@contextmanager
def _serving(work: Path, site: Path, *args: str, scheme: str = "http") -> Iterator[str]:
    db = f"sqlite:///{site}"
    env = {**os.environ, "TREPHINE_DATABASE_URL": db, "TREPHINE_ALLOWED_HOSTS": '["127.0.0.1"]'}
    port = _free_port()
    log = (work / f"serve-{port}.log").open("w")
    proc = subprocess.Popen(
        [*TREPHINE, "serve", "--port", str(port), *args], env=env, stdout=log, stderr=log
    )
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/healthz")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"serve did not start: {(work / log.name).read_text()}")
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=_INSECURE) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}


@pytest.mark.slow
def test_tls_is_served_by_uvicorn_with_hsts_and_a_secure_cookie(tmp_path: Path, site: Path) -> None:
    cert, key = _self_signed(tmp_path)
    # Two worker processes: each must load the certificate (uvicorn passes the files on).
    with _serving(
        tmp_path,
        site,
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--workers",
        "2",
        scheme="https",
    ) as base:
        status, headers = _get(f"{base}/healthz")
        assert status == 200 and headers["strict-transport-security"].startswith("max-age=")
        status, headers = _get(f"{base}/sign-in")
        assert status == 200 and "Secure" in headers["set-cookie"]
        with pytest.raises(OSError):  # no plain HTTP on the TLS port (reset or refused)
            urllib.request.urlopen(base.replace("https", "http") + "/healthz", timeout=5)


@pytest.mark.slow
def test_forwarded_headers_are_believed_only_behind_a_proxy(tmp_path: Path, site: Path) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.9.8.7"}
    with _serving(tmp_path, site, "--workers", "1") as base:
        _, headers = _get(f"{base}/healthz", forwarded)
        assert "strict-transport-security" not in headers  # a client cannot claim TLS
    os.environ["TREPHINE_PROXY_ADDRESS"] = "127.0.0.1"
    try:
        with _serving(tmp_path, site, "--behind-proxy", "--workers", "2") as base:
            _, headers = _get(f"{base}/healthz", forwarded)
            assert "strict-transport-security" in headers  # the proxy said TLS
    finally:
        del os.environ["TREPHINE_PROXY_ADDRESS"]
    os.environ["TREPHINE_PROXY_ADDRESS"] = "10.0.0.1"
    try:
        # In every worker: uvicorn's own default would believe 127.0.0.1.
        with _serving(tmp_path, site, "--behind-proxy", "--workers", "2") as base:
            _, headers = _get(f"{base}/healthz", forwarded)
            assert "strict-transport-security" not in headers  # not from the proxy's address
    finally:
        del os.environ["TREPHINE_PROXY_ADDRESS"]
