"""``python -m lutetia`` runs the command line."""

from lutetia.cli import main

raise SystemExit(main())
