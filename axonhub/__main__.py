"""`python -m axonhub`: the same CLI as the `axonhub` console script."""

from axonhub.cli import main

main()
