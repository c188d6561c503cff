"""Discovery: reads the Audiobookshelf library, finds the gaps in its series."""
