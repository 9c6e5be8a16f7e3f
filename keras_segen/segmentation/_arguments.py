"""Argument checks shared by the segmentation builders (ValueError with what and where)."""
import numbers


def check_num_classes(num_classes, where):
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise ValueError(f"{where}: num_classes must be an int >= 2, got {num_classes!r}")
    if num_classes < 2:
        raise ValueError(f"{where}: num_classes must be >= 2, got {num_classes}")
    return int(num_classes)


def check_input_shape(input_shape, where):
    """An (height, width, channels) tuple: sizes None or positive ints, channels known."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise ValueError(
            f"{where}: input_shape must be (height, width, channels), got {input_shape!r}"
        ) from None
    if len(shape) != 3:
        raise ValueError(
            f"{where}: input_shape must have rank 3 (height, width, channels), "
            f"got {input_shape!r} of rank {len(shape)}"
        )
    height, width, channels = shape
    if not _positive_int(channels):
        raise ValueError(
            f"{where}: the number of channels in input_shape must be a known positive int, "
            f"got {input_shape!r}"
        )
    for size in (height, width):
        if size is not None and not _positive_int(size):
            raise ValueError(
                f"{where}: input_shape height/width must be None or positive ints, "
                f"got {input_shape!r}"
            )
    return shape


def check_choice(value, choices, argument, where):
    if value not in choices:
        raise ValueError(f"{where}: {argument} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_positive_int(value, argument, where, minimum=1):
    if not _positive_int(value) or value < minimum:
        raise ValueError(f"{where}: {argument} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_rate(value, argument, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{where}: {argument} must be a number in [0, 1), got {value!r}")
    return float(value)


def _positive_int(value):
    return (
        not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= 1
    )
