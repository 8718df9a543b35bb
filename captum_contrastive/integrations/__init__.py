"""Bridges to other explanation toolkits.

- :mod:`captum_contrastive.integrations.quantus`: our methods as a Quantus
  ``explain_func``, and our maps as a Quantus ``a_batch`` (needs
  ``pip install "captum-contrastive[quantus]"``).

Each bridge imports its toolkit only when a function that needs it is called.

It may import the attribution layer (``attr``, ``methods``), ``metrics`` and the
foundation modules; never the pipeline.
"""
