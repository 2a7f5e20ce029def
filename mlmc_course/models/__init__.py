"""Reference models, one module per family: ``taggers``, ``gan``, ``vae``, ``flows``, ``diffusion``.

Import from the module that holds a model (``from mlmc_course.models.flows import ...``); every model trains with
the shared loop in :mod:`mlmc_course.training` unless it has two players (the GAN).
"""
