"""Sphinx configuration of the course site (built by ``course/build.py`` from a staged copy of these pages, the
executed notebooks of a tiny run, the exercises and the teacher notes). Notebooks are never executed here."""

project = "solar-dus: depth up-scaling, reproduced"
author = "solar-dus"
extensions = ["myst_nb"]
nb_execution_mode = "off"  # the outputs are the tiny run's
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
html_theme = "sphinx_book_theme"
html_title = "solar-dus course"
html_theme_options = {"show_toc_level": 2}
html_context = {"default_mode": "light"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_readme.md"]
suppress_warnings = ["myst.header"]  # notebooks start with "# NN Title" and use deeper levels freely
