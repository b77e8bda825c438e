"""`python -m agent …` is `energy-agent …` (the Windows service and the MSI's shortcuts use it:
the embedded Python has no console-script launchers)."""

import sys

from agent.cli import main

sys.exit(main())
