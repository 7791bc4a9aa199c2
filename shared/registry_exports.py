"""The `registry-exports` container: where IoT Hub writes the registry exports planning asks for.

Planning a large group by twin queries is bound by IoT Hub's query quota (20 a minute on S1,
100 twins each: about 33 devices a second, below the hub's 50 twin updates a second). One
export job (one jobs operation) writes every device with its twin to a blob instead, which the
planner reads and filters itself (dispatcher/export_planning.py).

The hub writes with a SAS this app makes for the container, valid for SAS_LIFETIME: signed with
the account key when storage is reached by connection string, else a user delegation SAS signed
by the app's identity (Storage Blob Data Contributor allows it). Blobs are deleted once their
planning is done; the deployment's lifecycle rule removes any left behind after a day.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from shared.storage_names import REGISTRY_EXPORTS_CONTAINER

SAS_LIFETIME = timedelta(hours=2)  # an export of a million devices takes well under an hour
_CLOCK_SKEW = timedelta(minutes=5)
# An export of 200,000 devices is 80-150 MB. A range costs about three times its size while it is
# split into lines (download, join with the previous range's tail, lines): 1 MiB keeps that below
# the ids planning keeps (about 17 MiB for 200,000), at one ranged GET per MiB.
READ_RANGE = 1024 * 1024
_PERMISSIONS = ContainerSasPermissions(read=True, add=True, create=True, write=True, delete=True)


class RegistryExports:
    def __init__(self, service: BlobServiceClient, container: str = REGISTRY_EXPORTS_CONTAINER):
        self._service = service
        self._container = service.get_container_client(container)

    def ensure_container(self) -> None:
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass

    def writable_url(self, now: datetime | None = None) -> str:
        """The container's URL with a SAS IoT Hub may write an export with."""
        now = now or datetime.now(timezone.utc)
        start, expiry = now - _CLOCK_SKEW, now + SAS_LIFETIME
        account_key = getattr(self._service.credential, "account_key", None)
        if account_key:
            signing = {"account_key": account_key}
        else:
            signing = {"user_delegation_key": self._service.get_user_delegation_key(start, expiry)}
        sas = generate_container_sas(self._service.account_name, self._container.container_name,
                                     permission=_PERMISSIONS, start=start, expiry=expiry, **signing)
        return f"{self._container.url}?{sas}"

    def lines(self, blob_name: str) -> Iterator[bytes]:
        """The blob's lines (one device each), read READ_RANGE bytes at a time: memory holds one
        range, not the export. (A plain download's first read is 32 MB; split into lines it
        doubles, and each planning invocation's thread kept that much of the heap.)"""
        blob = self._container.get_blob_client(blob_name)
        size, rest = blob.get_blob_properties().size, b""
        for offset in range(0, size, READ_RANGE):
            chunk = blob.download_blob(offset=offset, length=min(READ_RANGE, size - offset)).readall()
            *complete, rest = (rest + chunk).split(b"\n")
            yield from (line for line in complete if line.strip())
        if rest.strip():
            yield rest

    def delete(self, blob_name: str) -> None:
        try:
            self._container.delete_blob(blob_name)
        except ResourceNotFoundError:
            pass
