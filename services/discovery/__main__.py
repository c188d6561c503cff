"""`python -m services.discovery`."""

from services.discovery.service import main

main()
