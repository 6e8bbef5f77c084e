"""``python -m satlearn`` runs the command line."""

from satlearn.cli import app

app()
