"""Write a model's endpoints as a SavedModel with ``keras.export.ExportArchive``.

Only the variables the signatures read are saved (a GAN's generator, a VAE's encoder and
decoder), so discriminators and optimizer state stay out of the serving artifact.
"""
import keras


def write_saved_model(model, endpoints, path):
    """Save ``endpoints`` (first one also as ``serving_default``) to ``path``.

    The networks are deliberately not ``track()``-ed: on the TF backend the archive then
    stores every weight twice, once per Keras wrapper and once per captured tf.Variable
    (keras-team/keras#23553), doubling the artifact and TF Serving's memory. The
    endpoints' traced functions capture exactly the variables they read, and those are
    saved once.
    """
    del model  # the endpoints close over the networks they call
    archive = keras.export.ExportArchive()
    for endpoint in endpoints:
        archive.add_endpoint(endpoint.name, endpoint.fn, list(endpoint.input_signature))
    archive.write_out(str(path), verbose=False)
