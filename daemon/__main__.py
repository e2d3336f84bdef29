"""`python -m homeroll.daemon` is the same as the `homeroll` command."""

from homeroll.daemon.cli import main

main()
