"""Attachment files on disk (a folder that every web process and worker shares)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from engine.errors import FormInvalid
from forms import N_, Message

CHUNK = 64 * 1024


class FileStore:
    """Stores each attachment once under its id; the database row says who may read it."""

    def __init__(self, folder: Path, max_bytes: int, allowed: frozenset[str]):
        self.folder, self.max_bytes, self.allowed = Path(folder), max_bytes, allowed

    def _path(self, attachment_id: str) -> Path:
        safe = "".join(ch for ch in attachment_id if ch.isalnum() or ch == "-")
        if not safe or safe != attachment_id:
            raise ValueError("attachment ids are uuids")
        return self.folder / safe[:2] / safe

    def put(self, attachment_id: str, stream, field: str) -> tuple[int, str]:
        """Copy a stream into the store; returns (size, sha256). Refuses more than max_bytes."""
        path = self._path(attachment_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        limit = f"{self.max_bytes // (1024 * 1024)} MB"
                        raise FormInvalid(f"The file is larger than {limit}.",
                                          fields={field: Message(N_("The file is larger than {limit}."),
                                                                 {"limit": limit})})
                    digest.update(chunk)
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size, digest.hexdigest()

    def open(self, attachment_id: str):
        return self._path(attachment_id).open("rb")

    def delete(self, attachment_id: str) -> None:
        self._path(attachment_id).unlink(missing_ok=True)
