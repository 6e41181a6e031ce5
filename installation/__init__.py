"""Biometric-to-visual generative art installation engine.

The pipeline is a chain of small stages, each a callable with frozen settings and explicit
state, joined by the typed messages in :mod:`installation.messages`::

    Recording/LSL -> Chunk -> features -> Features -> mapping -> Controls
                  -> generator -> GeneratedImage -> render -> Frame -> video | window
"""

__version__ = "0.1.0"
