"""`python -m scheduler run`: the scheduler process (also `byte scheduler run`)."""
from scheduler.process import main

main()
