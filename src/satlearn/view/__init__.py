"""The web viewer: a catalogue browser, a map of tiles rendered on the fly, a model playground."""
