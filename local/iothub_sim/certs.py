"""The simulator's self-signed TLS certificate and a CA bundle that trusts it plus the system CAs.

Made once per state folder (under a file lock, so parallel starts agree) and reused until it
nears expiry. The bundle is what `REQUESTS_CA_BUNDLE` should point at: it replaces requests'
whole trust store, so it must keep the public CAs too.
"""
from __future__ import annotations

import base64
import datetime
import fcntl
import ipaddress
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=7)
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca_bundle: Path


def ensure_tls_files(state_dir: Path) -> TlsFiles:
    state_dir.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(state_dir / "cert.pem", state_dir / "key.pem", state_dir / "ca-bundle.pem")
    with _locked(state_dir / ".lock"):
        if not _still_valid(files.cert) or not files.key.exists():
            _write_self_signed(files)
        if not files.ca_bundle.exists() or files.ca_bundle.stat().st_mtime < files.cert.stat().st_mtime:
            _atomic_write(files.ca_bundle, files.cert.read_bytes() + b"\n" + _system_cas())
    return files


@contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_policy_key(state_dir: Path) -> str:
    """The `iothubowner` key, kept in the state folder so the connection string survives restarts."""
    path = state_dir / "iothubowner.key"
    with _locked(state_dir / ".lock"):
        if not path.exists():
            _atomic_write(path, base64.b64encode(secrets.token_bytes(32)), mode=0o600)
        return path.read_text().strip()


def _still_valid(cert_path: Path) -> bool:
    if not cert_path.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.not_valid_after_utc - RENEW_BEFORE > datetime.datetime.now(datetime.timezone.utc)


def _write_self_signed(files: TlsFiles) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _atomic_write(files.key, key_pem, mode=0o600)
    _atomic_write(files.cert, cert.public_bytes(serialization.Encoding.PEM))


def _system_cas() -> bytes:
    try:
        import certifi
        return Path(certifi.where()).read_bytes()
    except ImportError:
        for candidate in SYSTEM_BUNDLES:
            if os.path.exists(candidate):
                return Path(candidate).read_bytes()
    return b""


def _atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    temporary = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
