"""`homeroll setup`'s household part: the data dir shared with the service's group, and members joined to it.

Every member of the group runs `homeroll tui` and the CLI as themselves, without `sudo -u homeroll`, against
the one DB the service writes. SQLite's WAL needs every connection to write the ``-shm`` and ``-wal`` files,
so the data dir and all in it must be group-writable, and stay so: the folder is setgid (what anyone makes
in it keeps the group), the unit's UMask is 0007, and the CLI widens its own umask in a setgid data dir
(store/fsutil.follow_shared_dir). Others get nothing: face crops and decisions stay in the household.

An install from before this had a 0750 data dir with 0640 files, so setup also walks an existing data dir
once and gives the group what it lacks (group ownership, read and write, setgid on folders) and takes
from others what the 2770 folder already denies them (as the unit's UMask=0007 does). It changes
modes and owners only, never content: the DB's bytes and mtime stay as they were. Files root left there
(a `homeroll scan` run with sudo, the backup `setup --upgrade` takes) go to the service user, who must be
able to rotate and replace them. The service user owns the folder and could plant a symlink or a hard
link in it, so the walk changes only regular files and folders, through their own fds, and never a file
with more than one link: root's chown and chmod cannot be steered outside the data dir.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from homeroll.daemon.errors import UserError

__all__ = ["DATA_DIR_MODE", "is_member", "member_problem", "share"]

DATA_DIR_MODE = 0o2770
_FILE_BITS = 0o060
_DIR_BITS = 0o2070


def is_member(name: str, group: str) -> bool:
    """Whether user ``name`` is in ``group`` (as its primary group, or listed in /etc/group)."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return False
    try:
        primary = pwd.getpwnam(name).pw_gid
    except KeyError:
        return False
    return name in entry.gr_mem or primary == entry.gr_gid


def member_problem(name: str, service_user: str) -> str | None:
    """Why ``name`` cannot be made a member, or None."""
    if name == service_user:
        return f"{name} is the service user itself; --member takes a person's login"
    try:
        pwd.getpwnam(name)
    except KeyError:
        return f"there is no user {name} on this machine (create the login first: adduser {name})"
    return None


def check_members(names: list[str], service_user: str) -> None:
    for name in names:
        problem = member_problem(name, service_user)
        if problem:
            raise UserError(problem)


def _ids(user: str, group: str) -> tuple[int | None, int | None]:
    try:
        uid: int | None = pwd.getpwnam(user).pw_uid
    except KeyError:
        uid = None
    try:
        gid: int | None = grp.getgrnam(group).gr_gid
    except KeyError:
        gid = None
    return uid, gid


def _want(st: os.stat_result) -> int:
    mode = stat.S_IMODE(st.st_mode)
    return (mode | (_DIR_BITS if stat.S_ISDIR(st.st_mode) else _FILE_BITS)) & ~0o007


def _fix_fd(fd: int, uid: int | None, gid: int) -> bool:
    """Give one opened entry the group's access; True when anything changed. Through its fd, so a name
    swapped for a symlink meanwhile cannot redirect root's chown or chmod elsewhere."""
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        return False  # a hard link could be one to a file outside the data dir: never widen it
    changed = False
    owner = uid if (st.st_uid == 0 and uid is not None) else -1
    if st.st_gid != gid or owner != -1:
        os.fchown(fd, owner, gid)
        changed = True
    mode = stat.S_IMODE(os.fstat(fd).st_mode) if changed else stat.S_IMODE(st.st_mode)
    if mode != _want(st):
        os.fchmod(fd, _want(st))  # after the chown, which may clear setgid
        changed = True
    return changed


def _open_entry(name: str, dir_fd: int) -> int | None:
    """A file or folder itself, never what a symlink points at; None for anything else (symlinks, FIFOs,
    sockets, devices: opening some of them has effects) and for what has gone meanwhile."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return None
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None  # ELOOP: swapped for a symlink; ENOENT: a temp file renamed away
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):  # swapped between the look and the open
        os.close(fd)
        return None
    return fd


def share(path: Path, user: str, group: str) -> str:
    """Make an existing data dir the group's: the folder 2770, then every entry under it.

    os.fwalk does not follow symlinks and checks each folder it enters is the one it listed, and every
    change goes through the entry's own fd, so nothing outside the data dir is ever changed."""
    uid, gid = _ids(user, group)
    if gid is None:
        return f"{path}: group {group} does not exist (yet); run setup again once it does"
    path = path.resolve()  # /var/lib/homeroll may be a link to a disk: the folder itself is shared
    if not path.is_dir():
        return f"{path}: not there yet; the service makes its files group-writable from the start"
    changed = 0
    top = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        changed += _fix_fd(top, uid, gid)
        if stat.S_IMODE(os.fstat(top).st_mode) != DATA_DIR_MODE:
            os.fchmod(top, DATA_DIR_MODE)
            changed += 1
    finally:
        os.close(top)
    for _folder, dirs, files, dir_fd in os.fwalk(path, follow_symlinks=False):
        for name in [*dirs, *files]:
            fd = _open_entry(name, dir_fd)
            if fd is None:
                continue
            try:
                changed += _fix_fd(fd, uid, gid)
            finally:
                os.close(fd)
    if not changed:
        return f"{path} already shared with group {group}"
    return f"shared {path} with group {group} ({changed} files and folders given group access)"
