"""Uploaded diagrams kept on the server between the check and the deploy, so nobody selects the files twice."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

LIFETIME_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")


@dataclass(frozen=True)
class Staged:
    """What a token stands for: whose upload it is and its files, bytes verified against their sha256."""

    token: str
    owner: str
    files: list[tuple[str, bytes]]


class Staging:
    """One folder per upload, named by a random token; each holds the files and a manifest of their sha256."""

    def __init__(self, folder: Path):
        self.folder = folder

    def put(self, owner: str, files: list[tuple[str, bytes]]) -> str:
        self.sweep()
        token = secrets.token_urlsafe(16)
        target = self.folder / token
        target.mkdir(parents=True, mode=0o700)
        manifest = {"owner": owner, "created": time.time(), "files": []}
        for index, (name, data) in enumerate(files):
            (target / f"{index}.bpmn").write_bytes(data)
            manifest["files"].append({"name": name, "sha256": hashlib.sha256(data).hexdigest()})
        (target / "manifest.json").write_text(json.dumps(manifest))
        return token

    def get(self, token: str | None, owner: str) -> Staged | None:
        """The upload behind `token` if it is `owner`'s, younger than a day and intact; else None."""
        folder = self._path(token)
        if folder is None:
            return None
        try:
            manifest = json.loads((folder / "manifest.json").read_text())
            if manifest["owner"] != owner or time.time() - manifest["created"] > LIFETIME_SECONDS:
                return None
            files = []
            for index, entry in enumerate(manifest["files"]):
                data = (folder / f"{index}.bpmn").read_bytes()
                if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                    return None
                files.append((entry["name"], data))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return Staged(token, owner, files)

    def drop(self, token: str | None) -> None:
        folder = self._path(token)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def sweep(self) -> None:
        """Remove uploads older than a day (checked but never deployed)."""
        if not self.folder.is_dir():
            return
        cutoff = time.time() - LIFETIME_SECONDS
        for folder in self.folder.iterdir():
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue

    def _path(self, token: str | None) -> Path | None:
        if not token or not _TOKEN.match(token):
            return None  # only our own tokens: no path of the user's choosing reaches the file system
        folder = self.folder / token
        return folder if folder.is_dir() else None
