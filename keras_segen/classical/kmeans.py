"""k-means colour clustering: clusters of train pixel colours, each labelled with its
majority train class.

RGB plus HSV features (hue separates blue water from green/brown land better than RGB
distances do). KMeans on a pixel sample keeps the fit to seconds on 2 cores (measured:
200k pixels, K=8, about 4 s; MiniBatchKMeans was slower there);
more clusters than classes let e.g. dark inland water form its own cluster, but a
cluster is named by majority vote, so lake pixels only get the lake label where they
dominate a colour cluster.
"""
import numpy as np
from sklearn.cluster import KMeans

from keras_segen.classical.base import Baseline, colour_features, majority_labels, sample_pixels


class KMeansBaseline(Baseline):
    """Args:
        clusters: number of colour clusters ``K``.
        sample: train pixels clustered (and voting).
        num_classes, ignore_label, seed: as in ``Baseline``.
    """

    name = "kmeans"

    def __init__(self, clusters=8, sample=200_000, **kwargs):
        super().__init__(**kwargs)
        if int(clusters) < 1:
            raise ValueError(f"clusters must be >= 1, got {clusters!r}")
        self.clusters = int(clusters)
        self.sample = int(sample)
        self.model = self.cluster_labels = None

    def _fit(self, images, masks):
        picked = sample_pixels(masks, self.sample, self.seed, self.ignore_label)
        features = colour_features(images).reshape(-1, 6)[picked]
        self.model = KMeans(n_clusters=self.clusters, random_state=self.seed,
                            n_init=1).fit(features)
        self.cluster_labels = majority_labels(self.model.labels_, masks.reshape(-1)[picked],
                                              self.clusters, self.num_classes)

    def _predict(self, images):
        clusters = self.model.predict(colour_features(images).reshape(-1, 6))
        return self.cluster_labels[clusters].reshape(images.shape[:3])

    def get_config(self):
        return {**super().get_config(), "clusters": self.clusters, "sample": self.sample}
