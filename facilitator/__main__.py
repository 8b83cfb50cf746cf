"""Command line: ``python -m facilitator serve|analyse ...``."""

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand; prints usage for anything else."""
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m facilitator {serve,analyse} [options]  (-h after a command for help)"
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "serve":
        from facilitator.serve import main as serve_main

        return serve_main(rest)
    if command == "analyse":
        from facilitator.analyse import main as analyse_main

        return analyse_main(rest)
    print(f"unknown command {command!r}\n{usage}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
