"""`python -m dashboard …`: the command line, on the same service layer as the pages."""

import sys

from dashboard.cli import main

sys.exit(main())
