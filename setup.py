"""Compiled parts of the NLP stage (Cython, built by `pip install -e .`, which `make` runs).

Metadata and dependencies are in pyproject.toml; this file only declares the extension modules.
"""
from glob import glob

from Cython.Build import cythonize
from setuptools import setup

setup(ext_modules=cythonize(sorted(glob("nlp/*.pyx")), language_level=3,
                            compiler_directives={"boundscheck": False, "wraparound": False}))
