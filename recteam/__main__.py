"""`python -m recteam` runs the command line, as the `recteam` script does."""

from recteam.ui.cli import main

main()
