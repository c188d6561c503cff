"""`python -m services.downloader`."""

from services.downloader.service import main

main()
