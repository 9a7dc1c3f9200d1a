"""Using trained models: predictions and Kaggle submissions (predict), faces in photos
(photos), exports (export) and the runtimes that run them (runtimes), ensembles as one
model (ensemble); the *_cli modules are the entry scripts' halves."""
