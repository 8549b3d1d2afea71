"""The Django-free core: text building, interest vectors, ranking maths, metrics.

Plain functions on strings and numpy arrays; nothing here imports Django or torch, so it can be
tested and benchmarked on its own (a test enforces this).
"""
