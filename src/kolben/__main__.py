"""``python -m kolben``: the same command line as the ``kolben`` script."""

from .cli import cli

if __name__ == "__main__":
    cli.main(prog_name="python -m kolben")
