"""Names the show file may use for generator options; torch-free so config loading stays light."""

from __future__ import annotations

ARCHITECTURES = ("fourier", "residual", "radial")
ACTIVATION_NAMES = ("tanh", "sin", "cos", "softsign", "gauss", "abs", "sigmoid", "relu")
# The default look of the piece (golden images depend on it): never change this tuple.
DEFAULT_ACTIVATIONS = ("tanh", "sin", "tanh", "sin", "softsign")
