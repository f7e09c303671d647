"""The data directory at rest: only its owner may read it.

It holds the SQLite database (with its WAL), the key files and the signing key. Every
`bailanys` process makes new files owner-only (umask 077), and `bailanys up` tightens a
directory or database file that someone else may read, saying what it changed.
"""

import os
import stat
from pathlib import Path

OWNER_ONLY_UMASK = 0o077
DATABASE_FILES = ("bailanys.sqlite3", "bailanys.sqlite3-wal", "bailanys.sqlite3-shm")


def owner_only_files() -> None:
    """New files and folders of this process: owner-only (call at start, before any)."""
    os.umask(OWNER_ONLY_UMASK)


def data_dir_tighten(data_dir: Path) -> list[str]:
    """Take group and others' access off the data directory and its database and key
    files. Returns a line for each path changed (for the operator), [] when all was right."""
    changed = []
    paths = [data_dir, *(data_dir / name for name in DATABASE_FILES)]
    paths += [p for p in data_dir.glob("*") if p.is_file() and p not in paths]
    for path in paths:
        if not path.exists():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            tight = mode & 0o700
            path.chmod(tight)
            changed.append(f"{path}: {oct(mode)} -> {oct(tight)} (others could read it)")
    return changed
