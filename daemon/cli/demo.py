"""`homeroll demo` is built by the lead."""

commands: list = []
