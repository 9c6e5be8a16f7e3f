"""The adversarial segmentation kind: a segmenter trained against a pair discriminator
(``keras_segen.segmentation.adversarial_segmenter``).

Everything but compile is the segmentation kind's: the same data, checkpoint by
validation mean IoU, overlays, evaluation, cards and serving endpoints -- and export
serves the plain segmenter (the discriminator is a training device only). Compile
gives the segmenter the segmentation kind's optimizer (``train.optimizer`` or AdamW
from ``learning_rate``/``weight_decay``), loss and metrics, and the discriminator
``train.d_optimizer`` (the GAN recipes' key; default Adam(1e-4, beta_1=0.5)).
"""
from keras_segen.kinds.segmentation import (
    SegmentationKind,
    segmentation_metrics,
    segmenter_optimizer,
)
from keras_segen.training.compiling import build_loss, jit_compile_setting, make_optimizer


class AdversarialSegmentationKind(SegmentationKind):
    name = "adversarial_segmentation"

    def compile(self, model, train_cfg, class_names=None, class_weights=None):
        if class_names is None:
            class_names = [f"class_{k}" for k in range(model.num_classes)]
        model.compile(
            optimizer=segmenter_optimizer(train_cfg),
            loss=build_loss(train_cfg.get("loss", [["cross_entropy", 1.0]]), class_weights),
            metrics=segmentation_metrics(class_names),
            d_optimizer=make_optimizer(train_cfg.get("d_optimizer"), "d"),
            jit_compile=jit_compile_setting(train_cfg),
        )
        return model

    def nan_monitors(self, model):
        return ["loss", "d_loss"]

    def endpoints(self, model):
        return super().endpoints(model.segmenter)

    def prepare_export(self, model, *, fold_batch_norm=True, tflite=False):
        return super().prepare_export(model.segmenter, fold_batch_norm=fold_batch_norm,
                                      tflite=tflite)
