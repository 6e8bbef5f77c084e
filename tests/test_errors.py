"""The exception hierarchy: one base, each class also the matching builtin."""

import pytest

from satlearn import errors


@pytest.mark.parametrize(
    ("cls", "builtins"),
    [
        (errors.RasterIOError, (OSError,)),
        (errors.RasterNotFoundError, (OSError, FileNotFoundError)),
        (errors.NotARasterError, (OSError,)),
        (errors.RemoteAccessError, (OSError, ConnectionError)),
        (errors.RasterWriteError, (OSError,)),
        (errors.UnknownBandError, (KeyError, LookupError)),
        (errors.UnknownSensorError, (KeyError,)),
        (errors.CRSMismatchError, (ValueError,)),
        (errors.InvalidInputError, (ValueError,)),
    ],
)
def test_every_error_is_a_satlearn_error_and_its_builtin(cls, builtins):
    err = cls("scene.tif: something is wrong")
    assert isinstance(err, errors.SatlearnError)
    for builtin in builtins:
        assert isinstance(err, builtin)


def test_lookup_errors_read_as_prose_not_as_a_quoted_key():
    # KeyError would print "'no band named ...'" with quotes; ours prints the sentence.
    assert str(errors.UnknownBandError("no band named 'x'")) == "no band named 'x'"
    assert str(errors.UnknownSensorError()) == ""


def test_all_names_are_exported():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), Exception)
