"""Consistent teaching (Beyer et al. 2022, "Knowledge distillation: A good teacher is
patient and consistent"): the teacher labels each augmented view as the student sees it,
every step, instead of labelling each plain face once. With strong augmentation a target
computed on the plain face no longer matches what the student is shown (a shifted,
rotated face with a patch erased); a target computed on the view does."""

import keras

from ferkit.precision import inference_model
from ferkit.runs import load_model, run_paths


def split_at_augmentation(student):
    """(augmenter, body): the student's layers up to its last augmentation layer (the
    rescaled face when it has none), and the rest, sharing the student's weights."""
    names = [layer.name for layer in student.layers]
    augment = [n for n in names if n.startswith("augment_")]
    cut = student.get_layer(augment[-1] if augment else "rescale").output
    return keras.Model(student.input, cut), keras.Model(cut, student.output)


class ConsistentTeacher(keras.Model):
    """Trains a student whose targets blend, at weight, the teacher's probabilities on
    the very view the student trains on with the faces' own targets.

    Keras's own train and test steps run on the view; the teacher is frozen. The student
    shares its weights with this model, so it is what callers save.
    """

    def __init__(self, student, teacher, weight, **kwargs):
        super().__init__(**kwargs)
        self.student, self.teacher, self.weight = student, teacher, weight
        self.teacher.trainable = False
        self.augmenter, self.body = split_at_augmentation(student)
        self.built = True  # every part is a built functional model already

    def call(self, view, training=False):
        return self.body(view, training=training)

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        view = self.augmenter(x, training=True)
        return super().train_step((view, self.targets(view, y), sample_weight))

    def targets(self, view, y):
        """The blend of the teacher's probabilities on view with the own targets y."""
        # The teacher takes raw pixels; its own augmentation stays off.
        taught = self.teacher(keras.ops.cast(view, "float32") * 255.0, training=False)
        return self.weight * keras.ops.cast(taught, "float32") + (1 - self.weight) * y

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        return super().test_step((self.augmenter(x, training=False), y, sample_weight))

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.student(x, training=False)


def consistent_teacher(student, teacher, weight):
    """The model to fit: student taught on every view by the saved run teacher, once
    teacher_record() has found it fit to teach this run."""
    teacher_model = inference_model(load_model(run_paths(teacher)[0]))
    return ConsistentTeacher(student, teacher_model, weight, name="consistent")
