"""One module per notebook: the helpers that a notebook's story calls and nothing else uses.

``base_model`` (00), ``depth_up_scaling`` (01), ``instruction_tuning`` (04), ``alignment_sdpo`` (05),
``model_merging`` (06) and ``evaluation`` (07). Notebooks 02 and 03 call the libraries (``training``,
``mathsynth``) directly. Shared work lives in the libraries: figures in :mod:`solar_utils.plots`, scoring in
:func:`solar_utils.evaluation.score_models`.
"""
