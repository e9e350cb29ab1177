"""Shared plumbing that knows no notebook: argument checks, the maths of transposed
convolutions, the training engine and the exercise kit.

``checks`` (clear errors at the public boundary), ``deconv`` (1-D and 2-D transposed
convolutions, output sizes, overlap counts), ``training`` (train several seeds of
any Flax NNX model with the loop compiled) with ``loops`` (its two loops), and
``exercise`` (verdicts and worked solutions). Nothing here imports the display kit
or a notebook's module.
"""
