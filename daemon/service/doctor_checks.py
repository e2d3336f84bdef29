"""The facts `homeroll doctor` judges: what the systemd unit allows, what the service user can really open,
how many folders the libraries hold, and (from ``service.clockwatch``, which the service asks too) whether
the kernel thinks the clock is synchronised.

They are apart from the verdicts (service/doctor.py) because each is a small piece of systemd or kernel
knowledge that is easy to get subtly wrong, and worth reading on its own:

- A unit is parsed the way systemd reads it: the main file, then its drop-ins (``<unit>.d/*.conf``, where
  `systemctl edit` writes, in name order); an empty assignment (``IPAddressDeny=``) clears a list; the
  ``-`` and ``+`` path prefixes and the common specifiers (``%h``, ``%u``, ``%S``, ``%%``) are understood.
- What a path looks like inside the unit's mount namespace is the most specific rule that covers it
  (``ReadWritePaths=`` inside ``ReadOnlyPaths=`` or ``ProtectSystem=strict`` is writable), except that
  ``ProtectHome=yes``/``tmpfs`` and ``PrivateTmp=yes`` hide their folders whatever is listed under them,
  as the README says ("replace ProtectHome=yes with ProtectHome=read-only").
- Access is tried, not inferred from mode bits: as root, a forked child takes the service user's uid, gid
  and groups (as systemd's ``User=`` does with initgroups) and lists each library and creates a file in
  each writable folder. Root itself passes every mode check, so testing as root would prove nothing.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
from dataclasses import dataclass, field
from pathlib import Path

from homeroll.daemon.service.clockwatch import ntp_synchronised  # the service asks it too: one piece, there

__all__ = ["WATCHES_PROC", "Unit", "access_in_unit", "count_folders", "find_unit", "ntp_synchronised", "parse_unit", "probe", "watch_limit",
           "probe_user", "unit_paths"]

#: Where an installed unit is looked for when ``--unit`` is not given (system first).
UNIT_NAME = "homeroll.service"
SYSTEM_UNIT = Path("/etc/systemd/system") / UNIT_NAME


def user_unit() -> Path:
    """Where a user unit lives ($XDG_CONFIG_HOME/systemd/user, as the user manager looks)."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user" / UNIT_NAME


def find_unit(explicit: Path | None = None) -> Path | None:
    if explicit is not None:
        return explicit
    return next((p for p in (SYSTEM_UNIT, user_unit()) if p.is_file()), None)


@dataclass
class Unit:
    path: Path
    user_scope: bool  # a user manager's unit (~/.config/systemd/user): runs as the one who installed it
    settings: dict[str, list[str]] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)

    def last(self, key: str, default: str = "") -> str:
        values = self.settings.get(key)
        return values[-1] if values else default

    def words(self, key: str) -> list[str]:
        return [word for value in self.settings.get(key, []) for word in value.split()]

    def flag(self, key: str) -> bool:
        return self.last(key).lower() in ("yes", "true", "1", "on")

    @property
    def user(self) -> str | None:
        return self.last("User") or None


def _logical_lines(text: str):
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def _read_into(settings: dict[str, list[str]], text: str) -> None:
    section = ""
    for line in _logical_lines(text):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif "=" in line and section in ("Unit", "Service"):
            key, value = (part.strip() for part in line.split("=", 1))
            if value:
                settings.setdefault(key, []).append(value)
            else:  # systemd: an empty assignment resets the list built so far
                settings[key] = []


def parse_unit(path: Path) -> Unit:
    """The unit file and its drop-ins, merged in systemd's order. OSError if the unit cannot be read."""
    unit = Unit(path=path, user_scope=path.parent.name == "user")
    drop_ins = sorted(path.with_name(path.name + ".d").glob("*.conf"), key=lambda p: p.name)
    for source in [path, *drop_ins]:
        _read_into(unit.settings, source.read_text(encoding="utf-8", errors="replace"))
        unit.sources.append(source)
    return unit


def _home_of(unit: Unit) -> str:
    if unit.user_scope or not unit.user:
        return str(Path.home()) if unit.user_scope else "/root"
    try:
        return pwd.getpwnam(unit.user).pw_dir
    except KeyError:
        return f"/home/{unit.user}"


def _state_base(unit: Unit) -> str:
    if unit.user_scope:
        return os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return "/var/lib"


def _expand(unit: Unit, word: str) -> str:
    specifiers = {"h": _home_of(unit), "u": unit.user or pwd.getpwuid(os.getuid()).pw_name, "S": _state_base(unit),
                  "%": "%"}
    out, i = [], 0
    while i < len(word):
        if word[i] == "%" and i + 1 < len(word) and word[i + 1] in specifiers:
            out.append(specifiers[word[i + 1]])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


def unit_paths(unit: Unit, key: str) -> list[tuple[str, bool]]:
    """(path, optional) for each path in a path-list setting; optional: the ``-`` prefix (missing is fine)."""
    out = []
    for word in unit.words(key):
        bare = word.lstrip("-+")
        out.append((os.path.normpath(_expand(unit, bare)), "-" in word[: len(word) - len(bare)]))
    return out


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


_PROTECT_SYSTEM = {"strict": ["/"], "full": ["/usr", "/boot", "/efi", "/etc"], "yes": ["/usr", "/boot", "/efi"],
                   "true": ["/usr", "/boot", "/efi"]}


def _hiding_rules(unit: Unit) -> list[tuple[str, str]]:
    """(folder, why) that hide everything under them, whatever deeper rules say."""
    rules = []
    home = unit.last("ProtectHome").lower()
    if home in ("yes", "true", "tmpfs"):
        rules += [(folder, f"ProtectHome={unit.last('ProtectHome')}") for folder in ("/home", "/root", "/run/user")]
    if unit.flag("PrivateTmp"):
        rules += [(folder, "PrivateTmp=yes gives the service its own empty") for folder in ("/tmp", "/var/tmp")]
    return rules


def _rules(unit: Unit) -> list[tuple[str, str, str]]:
    """(folder, access, why), access "rw", "ro" or "none"; the longest folder covering a path wins."""
    system = unit.last("ProtectSystem").lower()
    rules = [(folder, "ro", f"ProtectSystem={system}") for folder in _PROTECT_SYSTEM.get(system, [])]
    if unit.last("ProtectHome").lower() == "read-only":
        rules += [(folder, "ro", "ProtectHome=read-only") for folder in ("/home", "/root", "/run/user")]
    rules += [(p, "ro", "ReadOnlyPaths=") for p, _ in unit_paths(unit, "ReadOnlyPaths")]
    rules += [(p, "none", "InaccessiblePaths=") for p, _ in unit_paths(unit, "InaccessiblePaths")]
    rules += [(p, "rw", "ReadWritePaths=") for p, _ in unit_paths(unit, "ReadWritePaths")]
    for key, base in (("StateDirectory", _state_base(unit)), ("CacheDirectory", "/var/cache"),
                      ("LogsDirectory", "/var/log")):
        rules += [(os.path.join(base, name), "rw", f"{key}=") for name in unit.words(key)]
    return rules


def access_in_unit(unit: Unit, path: Path | str) -> tuple[str, str]:
    """("rw" | "ro" | "none", the setting that decides it) for ``path`` inside the unit's namespace."""
    target = os.path.normpath(os.path.abspath(path))
    for folder, why in _hiding_rules(unit):
        if _under(target, folder):
            return "none", f"{why} {folder}"
    best: tuple[str, str, str] | None = None
    for rule in _rules(unit):
        if _under(target, rule[0]) and (best is None or len(rule[0]) >= len(best[0])):
            best = rule
    return ("rw", "no rule in the unit") if best is None else (best[1], f"{best[2]} {best[0]}")


# --- trying access as the service user ------------------------------------------------------------------------

def probe_user(unit: Unit | None) -> tuple[str | None, str]:
    """(user to switch to or None for "as this process", who the probe runs as, for the detail)."""
    me = pwd.getpwuid(os.geteuid()).pw_name
    wanted = unit.user if unit is not None and not unit.user_scope else None
    if wanted is None and unit is None:
        with contextlib.suppress(KeyError):
            wanted = pwd.getpwnam("homeroll").pw_name  # the README's service user, with no unit to say so
    if wanted is None or wanted == me:
        return None, f"as {me}"
    if os.geteuid() != 0:
        return None, f"as {me}, not as the service user {wanted} (run doctor as root to test as {wanted})"
    return wanted, f"as {wanted}"


def _try_read(path: str) -> str | None:
    try:
        with os.scandir(path) as entries:
            next(entries, None)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if os.access(path, os.X_OK) else "cannot enter it (no x permission)"


def _try_write(path: str) -> str | None:
    if os.path.isfile(path):  # a DB file: open it for writing without changing a byte
        return None if os.access(path, os.W_OK) else "not writable"
    name = os.path.join(path, f".homeroll-doctor-{os.getpid()}")
    try:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(name)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _probe_here(reads: list[str], writes: list[str]) -> dict[str, dict[str, str | None]]:
    return {"read": {p: _try_read(p) for p in reads}, "write": {p: _try_write(p) for p in writes}}


def _become(user: str, unit: Unit | None) -> None:
    entry = pwd.getpwnam(user)
    gid = grp.getgrnam(unit.last("Group")).gr_gid if unit is not None and unit.last("Group") else entry.pw_gid
    groups = set(os.getgrouplist(entry.pw_name, gid))
    if unit is not None:
        groups |= {grp.getgrnam(name).gr_gid for name in unit.words("SupplementaryGroups")}
    os.setgroups(sorted(groups))
    os.setresgid(gid, gid, gid)
    os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)


def probe(user: str | None, reads: list[str], writes: list[str],
          unit: Unit | None = None) -> dict[str, dict[str, str | None]]:
    """{"read": {path: error or None}, "write": {...}}, tried as ``user`` in a forked child (root only), else
    as this process. KeyError if the user or a group does not exist."""
    if user is None:
        return _probe_here(reads, writes)
    pwd.getpwnam(user)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to the user, try, report, and never return into the caller's code
        code = 1
        try:
            os.close(read_end)
            _become(user, unit)
            data = json.dumps(_probe_here(reads, writes)).encode()
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not data:
        raise OSError(f"the probe as {user} failed (exit status {os.waitstatus_to_exitcode(status)})")
    return json.loads(data)


# --- inotify and the clock --------------------------------------------------------------------------------------

WATCHES_PROC = Path("/proc/sys/fs/inotify/max_user_watches")


def watch_limit(path: Path = WATCHES_PROC) -> int | None:
    """fs.inotify.max_user_watches (None: unreadable), read by doctor and setup alike."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def count_folders(roots: list[Path], limit: int) -> int:
    """Folders under ``roots`` (each root counts), each one an inotify watch; counts at most ``limit``
    (doctor and setup both ask)."""
    count, stack = 0, [str(r) for r in roots if Path(r).is_dir()]
    while stack and count < limit:
        folder = stack.pop()
        count += 1
        try:
            with os.scandir(folder) as entries:
                stack.extend(e.path for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            continue
    return count
