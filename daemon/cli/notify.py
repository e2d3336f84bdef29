"""STUB (issue 14): homeroll notify."""

commands: list = []
