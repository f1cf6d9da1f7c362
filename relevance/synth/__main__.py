"""Entry point of ``python -m relevance.synth`` (see ``relevance.synth.cli``)."""

from relevance.synth.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
