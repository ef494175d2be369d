"""One module per `cardlab` command group; each exposes `register(subparsers)`.

Handlers import their heavy dependencies inside the function so `cardlab --help` and study
start-up stay fast.
"""
