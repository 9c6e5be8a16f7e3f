"""Workaround: ``MultiWorkerMirroredStrategy`` + Keras 3 ``fit`` (TensorFlow issue 72388).

The upstream bug (tensorflow/tensorflow#72388, keras-team/keras#20585; seen with
Keras 3.15 / TF 2.21): with more than one worker, ``fit`` calls ``strategy.reduce`` in
two ways that ``MultiWorkerMirroredStrategy.reduce`` refuses, while
``MirroredStrategy.reduce`` accepts them:

1. ``TensorFlowTrainer._maybe_symbolic_build`` reduces the first *batch* (a tuple such as
   ``(images, masks)``) in one call; the multi-worker reduce only takes one tensor and
   fails with "Attempt to convert a value (PerReplica...) with an unsupported type".
2. ``reduce_per_replica`` averages every log of ``train_step`` with
   ``strategy.reduce("MEAN", value, axis=0)``; the logs are scalars, which have no axis 0.

``FixedMultiWorkerMirroredStrategy`` is the stock strategy with a ``reduce`` that maps
over nested structures and reduces a scalar across replicas only (``axis=None``), which
is what Keras means there and what it does for one worker. Gradients, variables and
data sharding are untouched; with it the workers stay in lockstep and train exactly
what one device trains on the same global batches (tests/distribute/).

Remove this file (and use ``tf.distribute.MultiWorkerMirroredStrategy`` in
``distribution.make_strategy``) once a two-worker ``fit`` works without it, i.e. when
``keras/src/backend/tensorflow/trainer.py`` reduces scalar logs with ``axis=None`` and
reduces a batch element by element. tests/distribute/test_multi_worker.py checks that
run end to end.
"""
import tensorflow as tf


class FixedMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """``tf.distribute.MultiWorkerMirroredStrategy`` whose ``reduce`` works for Keras ``fit``."""

    def reduce(self, reduce_op, value, axis):
        def reduce_one(item):
            sample = item.values[0] if isinstance(item, tf.distribute.DistributedValues) else item
            rank = tf.convert_to_tensor(sample).shape.rank
            return super(FixedMultiWorkerMirroredStrategy, self).reduce(
                reduce_op, item, axis=None if rank == 0 else axis
            )

        return tf.nest.map_structure(reduce_one, value)
