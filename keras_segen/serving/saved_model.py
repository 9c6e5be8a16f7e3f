"""Write a model's endpoints as a SavedModel with ``keras.export.ExportArchive``.

Only the networks the signatures run are tracked (a GAN's generator, a VAE's encoder and
decoder), so discriminators and optimizer state stay out of the serving artifact.
"""
import keras


def served_networks(model):
    """The functional sub-models the signatures call, or the model itself."""
    networks = [
        getattr(model, attribute)
        for attribute in ("generator", "encoder", "decoder")
        if isinstance(getattr(model, attribute, None), keras.Model)
    ]
    return networks or [model]


def write_saved_model(model, endpoints, path):
    """Save ``endpoints`` (first one also as ``serving_default``) to ``path``."""
    archive = keras.export.ExportArchive()
    for network in served_networks(model):
        archive.track(network)
    for endpoint in endpoints:
        archive.add_endpoint(endpoint.name, endpoint.fn, list(endpoint.input_signature))
    archive.write_out(str(path), verbose=False)
