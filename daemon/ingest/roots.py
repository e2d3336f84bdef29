"""Walking library roots: which names are never media, which folders are never entered, and whether a
root is really there (a lost mount must not look like a library whose photos were all deleted).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

#: Folders NAS systems, sync tools and phones keep their own data in; never entered.
IGNORED_DIRS = {"@eaDir", ".stversions", "#recycle", "#snapshot", ".thumbnails", ".Trash", "$RECYCLE.BIN",
                "lost+found", ".stfolder", ".sync", ".dtrash"}

#: Names sync tools write while a file is still arriving (Syncthing, rclone, Nextcloud, Resilio, rsync).
_TEMP_PATTERNS = [".syncthing.*.tmp", "~syncthing~*.tmp", "*.partial", "*.part", "*.PART", ".*.~*", "*.!sync",
                  "*.crdownload", "*.tmp", "*.TMP", "*.temp", "*.download", "*.filepart", "*.partial~",
                  ".~lock.*", "~$*"]
_RSYNC_TEMP = re.compile(r"^\..+\.[A-Za-z0-9]{6}$")  # rsync: .NAME.XXXXXX
#: The patterns as one expression: every file of every walk is matched against them.
_TEMP_NAME = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in _TEMP_PATTERNS))


TEMP_REASON = "sync temp file (still arriving)"


def ignored_reason(name: str) -> str | None:
    """Why a file name is never indexed (a sync temp file, a hidden file), or None for a candidate."""
    if _TEMP_NAME.match(name) or _RSYNC_TEMP.match(name):
        return TEMP_REASON
    if name.startswith("."):
        return "hidden file"
    return None


def should_ignore(relpath: str, excluded: set[str] | frozenset[str] = frozenset()) -> bool:
    """A path never worth a look: a temp or hidden name, or inside an ignored (or ``excluded``) folder.

    The watchers call it without ``excluded`` (they know no config), so a file in an excluded folder still
    reaches the indexer, whose classify stage passes it over; the walk never enters such a folder.
    """
    return ignored_reason(os.path.basename(relpath)) is not None or in_ignored_dir(relpath, excluded)


def is_ignored_dir(name: str, excluded: set[str] | frozenset[str] = frozenset()) -> bool:
    return name in IGNORED_DIRS or name.startswith(".") or name in excluded


@dataclass(frozen=True)
class FileEntry:
    relpath: str
    size: int
    mtime_ns: int


def walk(root: str, excluded: set[str] | frozenset[str] = frozenset()) -> Iterator[FileEntry]:
    """Every regular file under root (symlinks are not followed), skipping ignored folders. Stat only."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel_dir)) as entries:
                for entry in entries:
                    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if not is_ignored_dir(entry.name, excluded):
                                stack.append(rel)
                        elif entry.is_file(follow_symlinks=False):
                            st = entry.stat(follow_symlinks=False)
                            yield FileEntry(rel, st.st_size, st.st_mtime_ns)
                    except OSError:
                        continue
        except OSError:
            continue


def in_ignored_dir(relpath: str, excluded: set[str] | frozenset[str] = frozenset()) -> bool:
    parts = relpath.split("/")[:-1]
    return any(is_ignored_dir(p, excluded) for p in parts)


def _is_mount_point(path: str) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def root_state(root: str, recorded_dev: int | None, was_mount: bool, has_items: bool) -> tuple[str, str | None, int | None]:
    """('online'|'offline'|'missing', note, st_dev). Nothing under a root that is not 'online' is marked missing.

    - missing: the folder is gone (an unplugged disk whose mount point was removed).
    - offline: the folder is there but is not what it was: it was a mount point and is not any more,
      its device changed, or it is empty while the DB knows files under it.
    """
    try:
        st = os.stat(root)
    except OSError as exc:
        return "missing", f"cannot open root ({exc.strerror})", None
    if not os.path.isdir(root):
        return "missing", "root is not a folder", None
    if was_mount and not _is_mount_point(root):
        return "offline", "root was a mount point and is not mounted now", st.st_dev
    if recorded_dev is not None and st.st_dev != recorded_dev:
        return "offline", "root is on a different device than before (mount lost?)", st.st_dev
    if has_items:
        try:
            with os.scandir(root) as entries:
                empty = next(iter(entries), None) is None
        except OSError as exc:
            return "offline", f"cannot list root ({exc.strerror})", st.st_dev
        if empty:
            return "offline", "root is empty but the library has items there (unmounted share?)", st.st_dev
    return "online", None, st.st_dev

