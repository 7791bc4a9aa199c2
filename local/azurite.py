"""Start Azurite (the Azure Storage emulator) from the project's node_modules.

Used by the local stack and by the test suite. Ports may be 0: Azurite then picks free
ones and reports them, which is how tests avoid colliding with a running `make run`.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"

ACCOUNT_NAME = "devstoreaccount1"
# Azurite's well-known development key (public, documented by Microsoft).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at http://[^:]+:(\d+)")


class AzuriteError(RuntimeError):
    """Azurite could not be started; the message says why and what to do."""


@dataclass
class Azurite:
    process: subprocess.Popen
    ports: dict[str, int] = field(default_factory=dict)
    host: str = "127.0.0.1"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://{self.host}:{self.ports['blob']}/{ACCOUNT_NAME};"
            f"QueueEndpoint=http://{self.host}:{self.ports['queue']}/{ACCOUNT_NAME};"
            f"TableEndpoint=http://{self.host}:{self.ports['table']}/{ACCOUNT_NAME};"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_azurite(blob_port: int = 0, queue_port: int = 0, table_port: int = 0,
                  host: str = "127.0.0.1", timeout: float = 30.0) -> Azurite:
    """Start an in-memory Azurite and wait until all three services listen."""
    if shutil.which("node") is None:
        raise AzuriteError("`node` was not found on PATH; Azurite needs Node.js (install node and npm).")
    if not AZURITE_BIN.exists():
        raise AzuriteError(f"Azurite is not installed at {AZURITE_BIN}; run `npm ci` in {PROJECT_ROOT}.")
    command = [
        str(AZURITE_BIN), "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose",
        "--blobHost", host, "--queueHost", host, "--tableHost", host,
        "--blobPort", str(blob_port), "--queuePort", str(queue_port), "--tablePort", str(table_port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    azurite = Azurite(process=process, host=host)
    output: list[str] = []
    ready = threading.Event()

    def read_output() -> None:
        for line in process.stdout:  # keep draining so Azurite never blocks on a full pipe
            output.append(line.rstrip())
            match = _LISTENING.search(line)
            if match:
                azurite.ports[match.group(1).lower()] = int(match.group(2))
                if len(azurite.ports) == 3:
                    ready.set()

    threading.Thread(target=read_output, name="azurite-output", daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            azurite.stop()
            tail = "\n".join(output[-10:]) or "(no output)"
            hint = " A port may be taken." if "EADDRINUSE" in tail else ""
            raise AzuriteError(f"Azurite did not come up.{hint} Its last output:\n{tail}")
    return azurite
