"""One module per command; main.py imports only the one that runs."""
