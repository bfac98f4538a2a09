"""`python -m flaggate`."""

import sys

from flaggate.cli import main

sys.exit(main())
