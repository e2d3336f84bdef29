"""One exception type for problems a user can fix; the CLI prints it as one line and exits 2."""


class UserError(Exception):
    """A usage, config or state problem described in one line (no traceback is shown)."""
