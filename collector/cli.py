"""`energy-collector`: the collector's command line."""

from __future__ import annotations

import argparse
import sys

from collector import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="energy-collector", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.parse_args(argv)
    print("energy-collector: nothing to run yet (see the collector issues)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
