"""``python -m jcqnap.sandbox up|down|status`` (see ``cli.py``)."""

from jcqnap.sandbox.cli import main

raise SystemExit(main())
