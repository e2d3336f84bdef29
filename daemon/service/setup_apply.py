"""Carrying out a `homeroll setup` plan, or printing it: the two walk the same steps, so a dry run shows
exactly what a real run does.

What a real run may change is narrow on purpose. A folder that exists keeps its mode and owner (an
export folder is often a Samba share with modes of its own; the data dir is shared by its own step); a
file is rewritten only when its content differs, and the config's previous text, with the comments a
person wrote in it, is kept beside it as ``config.toml.bak``; `/usr/local/bin/homeroll` is replaced only
when it is a link. When a step fails after the service was stopped for an upgrade, the error says so.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from homeroll.daemon.errors import UserError
from homeroll.daemon.service.setup_plan import Plan, Step
from homeroll.daemon.store import fsutil

__all__ = ["apply", "describe", "link_command"]


def link_command(target: Path, script: Path) -> str:
    """/usr/local/bin/homeroll pointing at this install, so `homeroll tui` works in every login's PATH.
    A real file there (another install) is left alone: setup never overwrites what it did not make."""
    if target.is_symlink():
        old = os.readlink(target)
        if old == str(script):
            return f"unchanged {target} -> {script}"
        target.unlink()
        target.symlink_to(script)
        return f"linked {target} -> {script} (it pointed at {old})"
    if target.exists():
        return f"left {target} as it is (not a link setup made); members run {script}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(script)
    return f"linked {target} -> {script}"


def describe(plan: Plan) -> list[str]:
    """The dry run: every folder, file (with its content) and command, in the order they would happen."""
    out = [f"note: {n}" for n in plan.notes]
    for step in plan.steps:
        if step.kind == "run":
            out.append(f"{'run' if step.run else 'print only'}: {' '.join(step.argv)}")
        elif step.kind == "call":
            out.append(f"then: {step.why}")
        elif step.kind == "dir":
            out.append(f"folder: {plan.target(step)} (mode {step.mode:o}, owner {step.owner}, when it is made; "
                       f"{step.why})")
        else:
            out.append(f"file: {plan.target(step)} (mode {step.mode:o}; {step.why})")
            out.extend(f"    {line}" for line in (step.content or "").splitlines())
    return out


def _chown(path: Path, user: str | None) -> str | None:
    if user is None:
        return None
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return f"{path}: user {user} does not exist (yet), owner left as is"
    st = path.stat()
    if (st.st_uid, st.st_gid) != (pw.pw_uid, pw.pw_gid):
        try:
            os.chown(path, pw.pw_uid, pw.pw_gid)
        except PermissionError:
            return f"{path}: not root, owner left as is (run `chown {user}:{user} {path}` as root)"
    return None


def _make_dir(plan: Plan, step: Step) -> str:
    path = plan.target(step)
    if path.is_dir():
        return f"kept {path} (exists: its mode and owner are left as they are)"
    path.mkdir(parents=True)
    if stat.S_IMODE(path.stat().st_mode) != step.mode:
        path.chmod(step.mode)
    return _chown(path, step.owner) or f"folder {path} ready"


def _write(plan: Plan, step: Step) -> str:
    path = plan.target(step)
    data = (step.content or "").encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return f"unchanged {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = ""
    if step.keep_previous and path.is_file():
        copy = path.with_name(path.name + ".bak")
        fsutil.write_atomic(copy, path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        kept = f" (the previous one, with any comments in it, is {copy})"
    fsutil.write_atomic(path, data, step.mode)
    return f"wrote {path}{kept}"


def _do(plan: Plan, step: Step, echo: Callable[[str], None], runner: Callable) -> None:
    if step.kind == "run":
        _run(step, echo, runner)
        return
    if step.kind == "call":
        assert step.action is not None
        try:
            echo(step.action())
        except OSError as exc:
            raise UserError(f"{step.why}: {exc.strerror or exc} ({exc.filename})") from None
        return
    try:
        echo(_make_dir(plan, step) if step.kind == "dir" else _write(plan, step))
    except OSError as exc:
        raise UserError(f"cannot write {plan.target(step)} ({exc.strerror})") from None


def apply(plan: Plan, echo: Callable[[str], None], runner: Callable = subprocess.run) -> None:
    for note in plan.notes:
        echo(f"note: {note}")
    stopped = False
    for step in plan.steps:
        try:
            _do(plan, step, echo, runner)
        except UserError as exc:
            if stopped:
                raise UserError(f"{exc}; the service is stopped: fix this and run setup --upgrade again "
                                "(or `systemctl start homeroll` for the old state)") from None
            raise
        stopped = stopped or step.argv[1:2] == ["stop"]


def _run(step: Step, echo: Callable[[str], None], runner: Callable) -> None:
    line = " ".join(step.argv)
    if not step.run:
        echo(f"not run (--root without --real-users): {line}")
        return
    echo(f"running: {line}")
    try:
        done = runner(step.argv, capture_output=True, text=True)
    except OSError as exc:
        raise UserError(f"`{line}` could not start ({exc.strerror})") from None
    if done.returncode != 0 and not step.must:
        echo(f"warning: `{line}` failed ({(done.stderr or '').strip()[-200:]}); {step.if_failed or 'setup goes on'}")
    elif done.returncode != 0:
        raise UserError(f"`{line}` failed: {(done.stderr or done.stdout).strip()[-300:]}")
