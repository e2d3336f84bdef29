"""STUB (issue 14): homeroll occasions."""

commands: list = []
