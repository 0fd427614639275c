"""caravan's bench: figures measured on this machine, run by `make bench`, never by the test suite."""
