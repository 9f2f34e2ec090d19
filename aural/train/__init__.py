"""Training: a small trainer loop, checkpoints, recipes and datasets.

Kept free of imports so ``import aural.train.<module>`` loads only what it needs; import
the pieces from their modules (``aural.train.datasets``, ``aural.train.trainer``, ...).
"""
