"""Importer: files completed downloads into the library and has Audiobookshelf scan them."""
