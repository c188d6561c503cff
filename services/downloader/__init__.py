"""Downloader: finds a release for each wanted book and gets it through qBittorrent."""
