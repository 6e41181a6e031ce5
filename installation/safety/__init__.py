"""Photosensitive-epilepsy safety: measuring flashes (WCAG 2.3.1) and limiting them."""
