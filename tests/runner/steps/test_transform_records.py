"""The batch platform's record handling: splitting, packing, SageMaker's JSONPath subset, joins."""

from __future__ import annotations

import pytest

from localsage.runner.steps import transform_records as records


def test_lines_split_without_blank_lines_and_recordio_round_trips():
    assert records.split(b"a,1\n\nb,2\n", "Line") == [b"a,1", b"b,2"]
    assert records.split(b"whole\nfile", "None") == [b"whole\nfile"]
    packed = records.join_records([b"abc", b"", b"defgh"], "RecordIO")
    assert len(packed) % 4 == 0
    assert records.split(packed, "RecordIO") == [b"abc", b"", b"defgh"]
    with pytest.raises(records.RecordError, match="no record magic number at byte 0"):
        records.split(b"not recordio data", "RecordIO")


def test_multi_record_batches_fill_the_payload_and_single_record_sends_one_each():
    rows = [b"x" * 400_000] * 5  # 2 fit in 1 MB
    assert records.batches(rows, "MultiRecord", 1, "Line") == [[0, 1], [2, 3], [4]]
    assert records.batches(rows, "SingleRecord", 1, "Line") == [[0], [1], [2], [3], [4]]
    with pytest.raises(records.RecordError, match="record 2 is 2097153 bytes, more than MaxPayloadInMB 1"):
        records.batches([b"x", b"x" * 2 * records.MEGABYTE], "MultiRecord", 1, "Line")


@pytest.mark.parametrize(
    ("path", "value", "selected"),
    [
        ("$", ["a", "b"], ["a", "b"]),
        ("$[1:]", ["10", "1", "2"], ["1", "2"]),
        ("$[:-1]", ["10", "1", "2"], ["10", "1"]),
        ("$[0,-1]", ["10", "1", "2"], ["10", "2"]),
        ("$[1]", ["10", "1", "2"], "1"),
        ("$.features", {"id": 1, "features": [1, 2]}, [1, 2]),
        ("$['id','SageMakerOutput']", {"id": 1, "x": 2, "SageMakerOutput": 3}, {"id": 1, "SageMakerOutput": 3}),
        ("$.a.b[0]", {"a": {"b": [5, 6]}}, 5),
        ("$.*", {"a": 1, "b": 2}, [1, 2]),
    ],
)
def test_the_jsonpath_subset_sagemaker_documents(path, value, selected):
    assert records.compile_path(path, "InputFilter").select(value) == selected


def test_filters_name_what_is_wrong():
    with pytest.raises(records.RecordError, match="must start with"):
        records.compile_path("features", "InputFilter")
    with pytest.raises(records.RecordError, match="the record has no 'missing'"):
        records.compile_path("$.missing", "InputFilter").select({"id": 1})
    with pytest.raises(records.RecordError, match="only 2 field"):
        records.compile_path("$[5]", "InputFilter").select(["a", "b"])


def test_joins_append_csv_columns_or_add_sagemaker_output():
    assert records.joined(b"10,1,2", b"3.5", "csv", "csv") == ["10", "1", "2", "3.5"]
    assert records.joined(b'{"id": 1}', b"[3.5]", "json", "json") == {"id": 1, "SageMakerOutput": [3.5]}
    assert records.render(["10", "a,b"], "csv") == b'10,"a,b"'


def test_an_answer_must_hold_one_output_per_record_to_be_joined():
    assert records.answer_records(b"1\n2\n", 2, "csv") == [b"1", b"2"]
    assert records.answer_records(b"[1, [2, 3]]", 2, "json") == [b"1", b"[2,3]"]
    with pytest.raises(records.RecordError, match="answered 1 record"):
        records.answer_records(b"1\n", 2, "csv")
