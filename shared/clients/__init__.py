"""Clients of outside systems more than one service talks to."""
