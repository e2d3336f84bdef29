"""The `homeroll` command's entry point: the console script and `python -m homeroll.daemon` both start here.

It is here, not in homeroll.daemon.cli, so that `homeroll motd`, which runs at every SSH login, is answered
before the CLI is imported: click, rich, sqlite-utils and the store take ~300 ms to import, and the login
line has 100 ms, Python's own start included. Only ``motd`` alone (with at most ``--config PATH`` before or
after it) takes the fast path; any other command line, ``motd --json`` and ``motd --help`` included, goes
to the CLI as before, whose own ``motd`` command prints the same line (daemon/cli/motd.py).

The fast path imports tomllib and sqlite3 and loads daemon/store/motd.py as a file (its package's
``__init__`` imports sqlite-utils). It cannot import homeroll.daemon.config either: with platformdirs,
tomli-w, zoneinfo and the store package it costs ~400 ms, and ~90 ms even without the store on this 2-core
VM. So the two config rules it needs are restated below (which file, and where the DB is in it), and
tests/test_motd.py checks them against config.default_config_path and Config.db_path so they cannot drift.
"""

from __future__ import annotations

import os
import sys

#: config.SYSTEM_CONFIG (the system service's config, which `homeroll setup` writes).
SYSTEM_CONFIG = "/etc/homeroll/config.toml"
#: Config.db_path's file name inside data_dir.
DB_NAME = "homeroll.db"


def motd_request(args: list[str]) -> tuple[bool, str | None]:
    """Whether ``args`` ask for the login line and nothing else, and the ``--config`` given (or None)."""
    rest, config = [], None
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--config" and position + 1 < len(args):
            config, position = args[position + 1], position + 2
            continue
        if arg.startswith("--config="):
            config = arg.removeprefix("--config=")
        else:
            rest.append(arg)
        position += 1
    return rest == ["motd"], config


def _home() -> str:
    # As platformdirs: a relative $HOME counts as unset, and then the password database says.
    home = os.environ.get("HOME", "")
    if os.path.isabs(home):
        return home
    import pwd

    return pwd.getpwuid(os.getuid()).pw_dir


def config_path() -> str:
    """config.default_config_path(): $HOMEROLL_CONFIG, else this login's own config, else the system's."""
    if sys.platform != "linux":  # platformdirs' rules elsewhere are not restated: ask it, slowly
        from homeroll.daemon.config import default_config_path

        return str(default_config_path())
    own = os.environ.get("HOMEROLL_CONFIG")
    if not own:
        base = os.environ.get("XDG_CONFIG_HOME", "")
        base = base if os.path.isabs(base) else os.path.join(_home(), ".config")
        own = os.path.join(base, "homeroll", "config.toml")
    if os.path.exists(own) or "HOMEROLL_CONFIG" in os.environ or not os.path.isfile(SYSTEM_CONFIG):
        return own
    return SYSTEM_CONFIG


class _Unavailable(Exception):
    """The login line cannot be made; the message is the one line for stderr."""


def db_path(config: str) -> str:
    """Config.db_path of the config file ``config``, from its data_dir alone (nothing else is checked)."""
    import tomllib

    try:
        with open(config, "rb") as file:
            data_dir = tomllib.load(file).get("data_dir")
    except FileNotFoundError:
        raise _Unavailable(f"no config at {config}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        raise _Unavailable(f"{config}: not a valid TOML file") from None
    except OSError as exc:
        raise _Unavailable(f"{config}: cannot read ({exc.strerror})") from None
    if not isinstance(data_dir, str) or not data_dir:
        raise _Unavailable(f"{config}: missing 'data_dir'")
    return os.path.join(os.path.abspath(os.path.expanduser(data_dir)), DB_NAME)


def _store_motd():
    """daemon/store/motd.py by itself, without daemon/store/__init__.py (which imports sqlite-utils). It is
    not put in sys.modules: were the store imported later, its motd module would be the usual one. The
    loader is the one imports use (bytecode cached alike); importlib.util would add ~5 ms of imports."""
    from importlib.machinery import SourceFileLoader

    name = "homeroll.daemon.store.motd"
    loader = SourceFileLoader(name, os.path.join(os.path.dirname(__file__), "store", "motd.py"))
    module = type(sys)(name)
    module.__file__, module.__loader__ = loader.path, loader
    loader.exec_module(module)
    return module


def motd(config: str | None) -> int:
    """Print the login line, or nothing. A login must never break on it: a missing or unreadable config or
    DB is one line on stderr (stdout stays empty) and exit 0."""
    import sqlite3

    try:
        path = db_path(config or config_path())
        store_motd = _store_motd()
        try:
            lines = store_motd.login_lines(store_motd.waiting(path))
        except (OSError, sqlite3.Error) as exc:
            raise _Unavailable(store_motd.reason(exc, path)) from None
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
    except _Unavailable as exc:
        sys.stderr.write(f"homeroll motd: {exc}\n")
    except BrokenPipeError:  # `homeroll motd | head -0`: quietly, and without a second error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except Exception as exc:  # noqa: BLE001 - a bug here must not break a login either
        sys.stderr.write(f"homeroll motd: internal error: {type(exc).__name__}: {exc}\n")
    return 0


def main(argv: list[str] | None = None) -> None:
    """`homeroll ARGS...`: the login line at once, or the CLI."""
    is_motd, config = motd_request(sys.argv[1:] if argv is None else list(argv))
    if is_motd:
        sys.exit(motd(config))
    from homeroll.daemon.cli import main as cli_main

    cli_main(argv)


if __name__ == "__main__":
    main()
