"""STUB (issue 14): homeroll motd."""

commands: list = []
