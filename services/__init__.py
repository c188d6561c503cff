"""The four services: discovery, downloader, importer, recorder (only the recorder writes)."""
