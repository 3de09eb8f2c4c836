"""``python -m animecli``: the same as the ``anime`` command."""

from animecli.cli.app import main

if __name__ == "__main__":
    main()
