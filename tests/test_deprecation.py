"""satlearn.deprecation: renamed things keep working for one release, with a warning."""

from __future__ import annotations

import inspect
import warnings

import pytest

from satlearn.deprecation import keyword_only, method_name, moved, renamed_keywords
from satlearn.errors import InvalidInputError, SatlearnError

KNOWN = ("cva", "pca-kmeans", "gram-schmidt")


class TestMethodName:
    def test_canonical_names_pass_silently(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert method_name("pca-kmeans", KNOWN) == "pca-kmeans"
            assert method_name(" CVA ", KNOWN) == "cva"

    def test_underscore_spellings_work_with_a_warning(self):
        with pytest.warns(DeprecationWarning, match="'gram_schmidt' is spelt 'gram-schmidt'"):
            assert method_name("gram_schmidt", KNOWN) == "gram-schmidt"

    def test_unknown_names_list_the_known_ones(self):
        with pytest.raises(
            InvalidInputError, match=r"unknown change method 'banana'; known: cva, "
        ):
            method_name("banana", KNOWN, what="change method")

    def test_the_warning_names_the_callers_line_through_a_decorator(self):
        @renamed_keywords(old="new")
        def op(*, method: str = "cva", new: int = 0) -> str:
            return method_name(method, KNOWN, stacklevel=4)

        line = inspect.currentframe().f_lineno + 2
        with pytest.warns(DeprecationWarning, match="spelt") as caught:
            op(method="pca_kmeans")
        assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]


class TestKeywordOnly:
    @staticmethod
    @keyword_only("method", "buffer_px")
    def op(image, *, method="rules", buffer_px=0):
        return image, method, buffer_px

    def test_keywords_pass_silently(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert self.op(1, method="x") == (1, "x", 0)

    def test_positional_options_still_work_with_a_warning(self):
        with pytest.warns(DeprecationWarning, match=r"pass method, buffer_px to op\(\) by keyword"):
            assert self.op(1, "x", 3) == (1, "x", 3)

    def test_too_many_positionals_are_a_type_error(self):
        with pytest.raises(TypeError, match="positional"):
            self.op(1, "x", 3, 4)

    def test_a_value_given_twice_is_a_type_error(self):
        with (
            pytest.raises(TypeError, match="multiple values"),
            pytest.warns(DeprecationWarning, match="by keyword"),
        ):
            self.op(1, "x", method="y")


class TestMoved:
    def test_moved_names_resolve_with_a_warning(self):
        getattr_ = moved("satlearn.old", {"Base": "satlearn.errors:SatlearnError"})
        with pytest.warns(
            DeprecationWarning,
            match=r"satlearn\.old\.Base moved to satlearn\.errors\.SatlearnError",
        ):
            assert getattr_("Base") is SatlearnError

    def test_other_names_are_attribute_errors(self):
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            moved("satlearn.old", {})("nope")


class TestRenamedKeywords:
    @staticmethod
    @renamed_keywords(pixel_size="pixel_size_m")
    def op(image, *, pixel_size_m=10.0):
        return image, pixel_size_m

    def test_new_keyword_passes_silently(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert self.op(1, pixel_size_m=5.0) == (1, 5.0)

    def test_old_keyword_still_works_with_a_warning(self):
        spelt = r"op\(pixel_size=\.\.\.\) is spelt pixel_size_m"
        with pytest.warns(DeprecationWarning, match=spelt):
            assert self.op(1, pixel_size=5.0) == (1, 5.0)

    def test_both_spellings_are_a_type_error(self):
        with pytest.raises(TypeError, match="new name 'pixel_size_m'"):
            self.op(1, pixel_size=5.0, pixel_size_m=5.0)


def test_stacked_wrappers_name_the_callers_line():
    from satlearn.deprecation import keyword_only, renamed_keywords

    @renamed_keywords(size="size_px")
    @keyword_only("method")
    def op(image, *, method="a", size_px=1):
        return method, size_px

    with pytest.warns(DeprecationWarning, match="next release") as caught:
        assert op(1, "b", size=3) == ("b", 3)
    assert len(caught) == 2
    assert {w.filename for w in caught} == {__file__}
