"""`python -m services.importer`."""

from services.importer.service import main

main()
