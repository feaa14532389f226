"""`python -m scheduler run`: the scheduler process (`byte scheduler run` does the same after migrating)."""
from scheduler.process import main

main()
