"""Data in: catalogue and behaviour imports (``importing``), events, change signals, item and
user vectors (``embedding``), the collaborative model (``collaborative``) and interest profiles.

Imports ``database``, ``conf``, ``models``, ``ml`` and ``core``; never the layers above.
"""
