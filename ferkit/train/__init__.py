"""Training: the run's settings (config, recipes, optim), the data pipeline, the loop
with its callbacks and resume state, tf.distribute strategies, and the trainers' CLI.

Data flows config -> pipeline -> loop (callbacks, resume) -> ferkit.record / ferkit.runs.
"""
