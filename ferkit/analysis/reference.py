"""What the reference report found: the numbers this suite's report is set beside.

The reference is the classic "ML homework 3" report on FER2013: a Keras CNN of three
convolution blocks and a dense head (309,664 parameters, Adadelta, batch 128), a
parameter-matched DNN, and the same explanations this suite draws. Its numbers are kept
here once, as data; the page quotes them from here.
"""

CITATION = (
    'the classic "ML homework 3" report on FER2013 (a Keras CNN of 309,664 parameters '
    "trained with Adadelta, batch 128, beside a parameter-matched DNN)"
)

REFERENCE = {
    "cnn": {"params": 309_664, "val_accuracy": 0.62, "public_accuracy": 0.61},
    "dnn": {"val_accuracy": 0.40},
    # Row-normalised confusion matrix: disgust was never predicted.
    "confusion": {"disgust_predicted": 0, "fear": 0.34, "happy": 0.87},
    # Share of each conv layer's gradient-ascent pictures that looked like noise.
    "noisy_filters": {"conv1": 0.375, "conv2": 0.75, "conv3": 0.3125},
    # Classes gradient ascent drove to a probability of 1, of seven.
    "class_max_at_one": 3,
}
