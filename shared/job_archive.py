"""The `job-history` container: archived job reports and the small index blobs that find them.

Layout, all in the one container:
- `YYYY/MM/<job id>.csv`: the job's report, byte for byte the API's report.csv when it was
  archived. YYYY/MM is the UTC month of the job's retention anchor (its end; a draft's or a
  stopped job's last change), the time retention counts from, which never changes once the job
  is old. Staged in blocks (flat memory) with Content-MD5 set on commit; metadata: the job's
  name, status and device counts.
- `by-id/<job id>`: an empty marker with the same metadata plus the CSV's path, size and MD5,
  the job's ETag when archived and the purge state. It is written only after the CSV was read
  back and matched, so it is the commit point of archiving: the lookup by id is one HEAD (blob
  index tags would do it too, but Azurite has none), and a marker is never replaced by a newer
  CSV once its state is `purging` (rows may be partly deleted by then).
- `by-time/<inverted anchor>-<job id>`: an empty index blob with the same metadata. Listings
  come in name order, so this prefix lists newest first, paged by the service.

Metadata values must be ASCII (they travel as HTTP headers): free text is stored as
percent-encoded UTF-8 (RFC 3986), printable ASCII other than `%` staying readable.
"""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from urllib.parse import quote, unquote

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobServiceClient, ContainerClient, ContentSettings

from shared.domain.errors import DomainError, InvalidField
from shared.domain.jobs import Job
from shared.domain.progress import Progress
from shared.storage_names import JOB_HISTORY_CONTAINER

ARCHIVED = "archived"  # verified; no row deleted yet
PURGING = "purging"  # rows are being deleted: the archive is final
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
DEFAULT_BLOCK_SIZE = 256 * 1024
_BY_ID = "by-id/"
_BY_TIME = "by-time/"
_TIME_KEY_SPAN = 10 ** 13  # milliseconds; inverted keys stay 13 digits until the year 2286
_READABLE = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) not in "%")


class ArchiveMismatch(DomainError):
    """What was stored is not what was written; nothing may be deleted on its strength."""


@dataclass(frozen=True)
class ArchiveEntry:
    job_id: str
    display_name: str
    status: str
    progress: Progress
    anchor: datetime  # the retention anchor: end, or a draft's / stopped job's last change
    created_at: datetime
    archived_at: datetime
    path: str
    size: int = 0
    md5: bytes = b""
    job_etag: str | None = None
    state: str = ARCHIVED

    @property
    def md5_base64(self) -> str:
        return base64.b64encode(self.md5).decode("ascii")


@dataclass(frozen=True)
class ArchivePage:
    entries: list[ArchiveEntry]
    continuation_token: str | None


@dataclass(frozen=True)
class StoredBlob:
    size: int
    content_md5: bytes | None
    metadata: dict[str, str]


def archive_path(job_id: str, anchor: datetime) -> str:
    month = as_utc(anchor)
    return f"{month:%Y}/{month:%m}/{job_id}.csv"


def as_utc(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


class JobArchive:
    """The one repository over `job-history`; `store` is Blob Storage or the in-memory fake."""

    def __init__(self, store: "BlobArchiveStore | InMemoryArchiveStore"):
        self._store = store

    @classmethod
    def in_blob_storage(cls, service: BlobServiceClient, container: str = JOB_HISTORY_CONTAINER,
                        block_size: int = DEFAULT_BLOCK_SIZE) -> "JobArchive":
        return cls(BlobArchiveStore(service.get_container_client(container), block_size))

    def ensure_container(self) -> None:
        self._store.ensure()

    def write(self, job: Job, progress: Progress, csv_chunks: Iterable[bytes], now: datetime) -> ArchiveEntry:
        """Upload the CSV (streamed); the entry is not findable until `record`."""
        entry = ArchiveEntry(job.id, job.display_name, job.status.value, progress, as_utc(job.retention_anchor),
                             as_utc(job.created_at), as_utc(now), archive_path(job.id, job.retention_anchor),
                             job_etag=job.etag)
        digest = _Digest(csv_chunks)
        self._store.upload(entry.path, digest, _metadata(entry, with_location=False), CSV_CONTENT_TYPE)
        return replace(entry, size=digest.size, md5=digest.md5.digest())

    def verify(self, entry: ArchiveEntry) -> None:
        """Size and Content-MD5 as stored, and the MD5 of the bytes read back, against what was written."""
        stored = self._store.properties(entry.path)
        if stored is None or stored.size != entry.size or stored.content_md5 != entry.md5:
            raise ArchiveMismatch(f"archive {entry.path} is not stored as written")
        read_back = hashlib.md5()
        for chunk in self._store.read(entry.path):
            read_back.update(chunk)
        if read_back.digest() != entry.md5:
            raise ArchiveMismatch(f"archive {entry.path} reads back different bytes")

    def record(self, entry: ArchiveEntry) -> ArchiveEntry:
        """Make a verified archive findable by id (the commit point), then list it."""
        self._store.put_empty(_BY_ID + entry.job_id, _metadata(entry))
        self._store.put_empty(_time_index_name(entry), _metadata(entry))
        return entry

    def mark_purging(self, entry: ArchiveEntry) -> ArchiveEntry:
        """From here on the archive is final; the time index is rewritten in case a crash skipped it."""
        return self.record(replace(entry, state=PURGING))

    def find(self, job_id: str) -> ArchiveEntry | None:
        stored = self._store.properties(_BY_ID + job_id)
        return _entry_from_metadata(stored.metadata) if stored else None

    def list(self, page_size: int = 100, continuation_token: str | None = None) -> ArchivePage:
        """Archived jobs, newest retention anchor first, with their metadata; one request per page."""
        try:
            items, token = self._store.list(_BY_TIME, page_size, continuation_token)
        except HttpResponseError as error:
            if error.status_code != 400:
                raise
            raise InvalidField("continuationToken", "is not a token this service issued.") from None
        return ArchivePage([_entry_from_metadata(metadata) for _, metadata in items], token)

    def read(self, entry: ArchiveEntry) -> Iterator[bytes]:
        """The archived CSV in ranges of one block: flat memory for any size."""
        return self._store.read(entry.path)

    def discard(self, entry: ArchiveEntry) -> None:
        """Forget an archive that no longer matches its job (never one in state `purging`)."""
        if entry.state == PURGING:
            raise ValueError(f"the archive of job {entry.job_id} is final")
        self._store.delete(_BY_ID + entry.job_id)
        self._store.delete(_time_index_name(entry))
        self._store.delete(entry.path)


class _Digest:
    """Passes chunks through, counting their bytes and MD5."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = chunks
        self.size = 0
        self.md5 = hashlib.md5()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.size += len(chunk)
            self.md5.update(chunk)
            yield chunk


def _time_index_name(entry: ArchiveEntry) -> str:
    inverted = _TIME_KEY_SPAN - int(entry.anchor.timestamp() * 1000)
    return f"{_BY_TIME}{inverted:013d}-{entry.job_id}"


def encode_text(text: str) -> str:
    """ASCII for a metadata value; leading and trailing spaces encoded too (headers lose them)."""
    encoded = quote(text, safe=_READABLE)
    core = encoded.strip(" ")
    if not core:
        return "%20" * len(encoded)
    start = encoded.index(core)
    return "%20" * start + core + "%20" * (len(encoded) - start - len(core))


def _metadata(entry: ArchiveEntry, with_location: bool = True) -> dict[str, str]:
    metadata = {"jobid": entry.job_id, "displayname": encode_text(entry.display_name), "status": entry.status,
                **{name: str(count) for name, count in entry.progress.as_dict().items()},
                "anchor": entry.anchor.isoformat(), "createdat": entry.created_at.isoformat(),
                "archivedat": entry.archived_at.isoformat()}
    if with_location:
        metadata.update({"path": entry.path, "size": str(entry.size), "md5": entry.md5_base64,
                         "jobetag": encode_text(entry.job_etag or ""), "state": entry.state})
    return metadata


def _entry_from_metadata(metadata: dict[str, str]) -> ArchiveEntry:
    counts = {name: int(metadata[name]) for name in Progress().as_dict()}
    return ArchiveEntry(
        job_id=metadata["jobid"], display_name=unquote(metadata["displayname"]), status=metadata["status"],
        progress=Progress(**counts), anchor=datetime.fromisoformat(metadata["anchor"]),
        created_at=datetime.fromisoformat(metadata["createdat"]),
        archived_at=datetime.fromisoformat(metadata["archivedat"]), path=metadata["path"],
        size=int(metadata["size"]), md5=base64.b64decode(metadata["md5"]),
        job_etag=unquote(metadata["jobetag"]) or None, state=metadata["state"])


class BlobArchiveStore:
    """The few Blob Storage operations the archive needs."""

    def __init__(self, container: ContainerClient, block_size: int = DEFAULT_BLOCK_SIZE):
        self._container = container
        self._block_size = block_size

    def ensure(self) -> None:
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass  # created by the deployment or another instance

    def upload(self, name: str, chunks: Iterable[bytes], metadata: dict[str, str], content_type: str) -> None:
        """Stage one block per `block_size` bytes, then commit with the whole MD5 as Content-MD5."""
        blob = self._container.get_blob_client(name)
        blocks, md5, buffer = [], hashlib.md5(), bytearray()
        for chunk in chunks:
            buffer += chunk
            if len(buffer) >= self._block_size:
                blocks.append(_stage(blob, len(blocks), buffer, md5))
        if buffer:
            blocks.append(_stage(blob, len(blocks), buffer, md5))
        settings = ContentSettings(content_type=content_type, content_md5=bytearray(md5.digest()))
        blob.commit_block_list(blocks, content_settings=settings, metadata=metadata)

    def put_empty(self, name: str, metadata: dict[str, str]) -> None:
        self._container.get_blob_client(name).upload_blob(b"", overwrite=True, metadata=metadata)

    def properties(self, name: str) -> StoredBlob | None:
        try:
            found = self._container.get_blob_client(name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        md5 = found.content_settings.content_md5
        return StoredBlob(found.size, bytes(md5) if md5 else None, dict(found.metadata))

    def read(self, name: str) -> Iterator[bytes]:
        """Ranges of one version: if the blob is replaced half-way, the read fails instead of mixing."""
        blob = self._container.get_blob_client(name)
        found = blob.get_blob_properties()
        for offset in range(0, found.size, self._block_size):
            yield blob.download_blob(offset=offset, length=min(self._block_size, found.size - offset),
                                     etag=found.etag, match_condition=MatchConditions.IfNotModified).readall()

    def list(self, prefix: str, page_size: int, token: str | None) -> tuple[list[tuple[str, dict]], str | None]:
        pages = self._container.list_blobs(name_starts_with=prefix, include=["metadata"],
                                           results_per_page=page_size).by_page(continuation_token=token)
        items = [(blob.name, dict(blob.metadata)) for blob in next(pages, [])]
        return items, pages.continuation_token or None

    def delete(self, name: str) -> None:
        try:
            self._container.delete_blob(name)
        except ResourceNotFoundError:
            pass


def _stage(blob, index: int, buffer: bytearray, md5) -> BlobBlock:
    block_id = base64.b64encode(f"{index:08d}".encode()).decode("ascii")
    blob.stage_block(block_id, bytes(buffer), validate_content=True)  # the service checks each block's MD5
    md5.update(buffer)
    buffer.clear()
    return BlobBlock(block_id)


class InMemoryArchiveStore:
    """The same contract in a dict, for unit tests; `blobs` maps name -> (bytes, metadata, Content-MD5)."""

    def __init__(self, block_size: int = DEFAULT_BLOCK_SIZE):
        self.blobs: dict[str, tuple[bytes, dict[str, str], bytes | None]] = {}
        self._block_size = block_size

    def ensure(self) -> None:
        pass

    def upload(self, name: str, chunks: Iterable[bytes], metadata: dict[str, str], content_type: str) -> None:
        data = b"".join(chunks)
        self.blobs[name] = (data, _ascii_only(metadata), hashlib.md5(data).digest())

    def put_empty(self, name: str, metadata: dict[str, str]) -> None:
        self.blobs[name] = (b"", _ascii_only(metadata), None)

    def properties(self, name: str) -> StoredBlob | None:
        if name not in self.blobs:
            return None
        data, metadata, md5 = self.blobs[name]
        return StoredBlob(len(data), md5, dict(metadata))

    def read(self, name: str) -> Iterator[bytes]:
        data = self.blobs[name][0]
        return (data[offset:offset + self._block_size] for offset in range(0, len(data), self._block_size))

    def list(self, prefix: str, page_size: int, token: str | None) -> tuple[list[tuple[str, dict]], str | None]:
        names = sorted(name for name in self.blobs if name.startswith(prefix) and name >= (token or ""))
        following = names[page_size] if len(names) > page_size else None
        return [(name, dict(self.blobs[name][1])) for name in names[:page_size]], following

    def delete(self, name: str) -> None:
        self.blobs.pop(name, None)


def _ascii_only(metadata: dict[str, str]) -> dict[str, str]:
    for key, value in metadata.items():
        value.encode("ascii")  # raises as Blob Storage would refuse the header
    return dict(metadata)
