"""`python -m services.recorder`."""

from services.recorder.service import main

main()
