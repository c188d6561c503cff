"""Fakes of the outside world, speaking the real protocols over loopback: for the tests
and for `make demo`. Built from `../shared/reference/`; never used in production."""
