"""`python -m provisioner ...` is the same as `lab ...`."""

from provisioner.entry import main

main()
