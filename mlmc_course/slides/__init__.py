"""Lecture slides from the lesson sources: one reveal.js deck per lesson, and the same markers for live slides.

The structure of a deck lives in ``lessons/NN_name.py``, so that slides and notebooks cannot drift apart. Most of
it is read from the markdown the lessons already have; explicit jupytext cell metadata is only needed where that
reading is not enough (see :mod:`mlmc_course.slides.structure`):

``structure``
    a lesson source -> a list of :class:`~mlmc_course.slides.structure.Slide` (title, goals, a slide per ``##``
    section with its equations, figures, exercises without their solutions, summary, references) and the
    ``slideshow`` metadata the build writes into the generated notebooks for live slides (jupyterlab-rise).
``figures``
    the lecture-mode figures: taken from executed solution notebooks (``mlmc-course run --mode lecture --keep``)
    into ``slides/figures/NN_name/`` with a manifest keyed by each code cell's source.
``render``
    slides -> ``slides/NN_name.html`` and ``slides/index.html``; reveal.js and KaTeX (with their fonts) are loaded
    from ``node_modules/``, which ``npm ci`` installs from the committed ``package-lock.json``: no CDN, nothing
    copied into the repository, and a deck opens with the network off.
``browser``
    Debian's headless Chromium driven by Playwright: PDF export of a deck, and the browser tests.
``build``
    ``mlmc-course slides``: build, check and print decks.
"""
