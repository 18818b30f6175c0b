"""The build: bookkeeping, one recipe per stage, and the task suite.

The only code that knows the `builds/<lang>/<stage>/` layout; it wires methods, data and tasks together.
"""
