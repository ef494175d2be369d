"""The Textual app and the `cardlab` command line."""
