"""Small Keras layers that keep preprocessing inside the models (imports Keras)."""

from __future__ import annotations

import keras

__all__ = ["VggPreprocess"]

_VGG_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="facecam")
class VggPreprocess(keras.layers.Layer):
    """RGB 0..255 -> BGR minus the ImageNet channel means (VGG16's 'caffe' convention)."""

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(_VGG_MEAN_BGR, "float32")
