"""Machine learning with torch and transformers, and no Django: text encoders (``encoders``) and
the networks, losses and loop that fine-tune them (``training``).

Nothing here reads settings or the database; the layers above pass in what a model needs.
"""
