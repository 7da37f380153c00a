"""The safe wire format: round trips, no pickle, bounded and validated input."""

import io
import pickle  # only to build a hostile payload; the wire never unpickles
import struct

import numpy as np
import pytest

from grader.sandbox.encoded import EncodedArguments
from grader.sandbox.wire import Decoder, Encoder, Remote, WireError, pack, read_frame


def round_trip(value, keep=None):
    encoder = Encoder(keep=keep)
    frame = pack({"value": encoder.encode(value)}, encoder.blobs)
    header, blobs = read_frame(io.BytesIO(frame))
    return Decoder(blobs).decode(header["value"])


def test_structures_and_scalars_round_trip():
    value = {"a": [1, 2.5, None, True, "s"], 3: (float("inf"), float("nan"), -0.0), "big": 2**70}
    back = round_trip(value)
    assert back["a"] == [1, 2.5, None, True, "s"]
    assert back[3][0] == float("inf") and np.isnan(back[3][1]) and isinstance(back[3], tuple)
    assert back["big"] == 2**70


def test_non_finite_numpy_floats_round_trip():
    back = round_trip([np.float64("nan"), np.float64("-inf")])
    assert np.isnan(back[0]) and back[1] == float("-inf")


def test_arrays_keep_dtype_and_shape_and_numpy_scalars_stay_scalars():
    array = np.arange(12, dtype=np.int32).reshape(3, 4)
    back = round_trip((array, np.float32(1.5), np.bool_(True)))
    assert back[0].dtype == np.int32 and back[0].shape == (3, 4) and (back[0] == array).all()
    assert isinstance(back[1], np.float32) and back[1] == 1.5
    assert isinstance(back[2], np.bool_)


def test_torch_tensors_travel_as_tagged_arrays():
    torch = pytest.importorskip("torch")
    back = round_trip(torch.tensor([[1.0, 2.0]], requires_grad=True))
    assert isinstance(back, torch.Tensor) and back.requires_grad and back.shape == (1, 2)


def test_unencodable_objects_become_remote_handles():
    kept = []

    def keep(obj):
        kept.append(obj)
        return Remote(len(kept), type(obj).__name__)

    class Cache:
        pass

    back = round_trip({"cache": Cache(), "obj": np.array([object()], dtype=object)}, keep=keep)
    assert back["cache"] == Remote(1, "Cache")
    assert back["obj"] == Remote(2, "ndarray")  # object arrays never go through pickle


def test_without_keep_unencodable_values_are_refused():
    with pytest.raises(WireError, match="cannot send a value of type object"):
        Encoder().encode(object())


def test_object_and_malformed_array_payloads_are_refused():
    # A pickle of an object array, claimed to be an object array: refused before anything is read.
    payload = pickle.dumps(np.array([{"x": 1}], dtype=object))
    with pytest.raises(WireError, match="refused array dtype object"):
        Decoder([payload]).decode({"ndarray": {"blob": 0, "dtype": "|O", "shape": [1]}})
    with pytest.raises(WireError, match="refused array dtype"):
        Decoder([b"x" * 8]).decode({"ndarray": {"blob": 0, "dtype": "|V8", "shape": [1]}})
    with pytest.raises(WireError, match="does not match its dtype and shape"):
        Decoder([b"x" * 7]).decode({"ndarray": {"blob": 0, "dtype": "<f8", "shape": [1]}})
    with pytest.raises(WireError, match="bad array shape"):
        Decoder([b""]).decode({"ndarray": {"blob": 0, "dtype": "<f8", "shape": [-1]}})
    with pytest.raises(WireError, match="bad array dtype"):
        Decoder([b""]).decode({"ndarray": {"blob": 0, "dtype": "not a dtype", "shape": [0]}})


def test_a_value_node_carries_one_tag_and_only_the_known_pairs_carry_two():
    # Two tags in one node would leave which one counts to the order of the decoder's tests.
    for node in ({"list": [], "ndarray": {"blob": 0, "dtype": "<f8", "shape": [0]}}, {"tuple": [1], "x": 1},
                 {"dict": [], "type": "object"}, {}):
        with pytest.raises(WireError, match="malformed value"):
            Decoder([b""]).decode(node)
    with pytest.raises(WireError, match="unknown value tag"):
        Decoder([]).decode({"pickle": "..."})
    assert Decoder([], resolve=lambda remote: remote.handle).decode({"remote": 3, "type": "Net"}) == 3
    assert Decoder([]).decode({"dict": [["a", {"tuple": [1, 2]}], [4, None]]}) == {"a": (1, 2), 4: None}
    with pytest.raises(WireError, match="malformed dict entry"):
        Decoder([]).decode({"dict": [[1.5, 2]]})


def test_decoded_arrays_are_writable_copies():
    back = round_trip(np.arange(3.0))
    back[0] = 7.0
    assert back.flags.writeable and back[0] == 7.0


def test_malformed_frames_are_rejected():
    with pytest.raises(WireError, match="exceeds the limit"):
        read_frame(io.BytesIO(struct.pack(">Q", 10**12)))
    with pytest.raises(WireError, match="malformed message header"):
        read_frame(io.BytesIO(struct.pack(">Q", 3) + b"{{{"))
    with pytest.raises(EOFError):
        read_frame(io.BytesIO(b""))
    with pytest.raises(WireError, match="bad blob reference"):
        Decoder([]).decode({"ndarray": {"blob": 5, "dtype": "<f8", "shape": [1]}})
    with pytest.raises(WireError, match="bad array reference"):
        Decoder([]).decode({"ndarray": 5})
    with pytest.raises(WireError, match="unknown value tag"):
        Decoder([]).decode({"pickle": "..."})


def test_blob_sizes_count_against_the_limit():
    frame = pack({}, [b"x" * 100])
    with pytest.raises(WireError, match="exceeds the limit"):
        read_frame(io.BytesIO(frame), limit=50)


def test_an_encoded_field_makes_the_frame_the_plain_header_makes():
    encoder = Encoder()
    cases = [((3, (1, 2)), {"stride": 2}), ((np.arange(4.0),), {})]
    plain = pack({"op": "batch", "seq": 7, "cases": encoder.encode_cases(cases)}, encoder.blobs)
    text, blobs = EncodedArguments().encode_cases(cases)
    spliced = pack({"op": "batch", "seq": 7}, blobs, ("cases", text))
    header, frame_blobs = read_frame(io.BytesIO(spliced))
    assert (header, frame_blobs) == read_frame(io.BytesIO(plain))
    decoded = Decoder(frame_blobs).decode_cases(header["cases"])
    assert decoded[0] == ([3, (1, 2)], {"stride": 2}) and decoded[1][0][0].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_a_batch_carries_its_cases_as_plain_pairs_and_refuses_anything_else():
    assert Encoder().encode_cases([((1, [2]), {"k": (3,)})]) == [[[1, {"list": [2]}], [["k", {"tuple": [3]}]]]]
    with pytest.raises(WireError, match="keyword argument names"):
        Encoder().encode_cases([((), {1: 2})])
    for node in ([[[1]]], [[[1], [], []]], [{"list": []}], {"list": []}):
        with pytest.raises(WireError, match="malformed"):
            Decoder([]).decode_cases(node)
    with pytest.raises(WireError, match="keyword argument names"):
        Decoder([]).decode_cases([[[], [[1, 2]]]])
    with pytest.raises(WireError, match="too many parts"):
        Decoder([], max_nodes=10).decode_cases([[[1] * 20, []]])


def test_encoded_arguments_are_reused_only_for_exactly_the_same_value():
    arguments = EncodedArguments()
    texts = [arguments.encode(value)[0] for value in ([1], [1.0], [True], [(1,)], [[1]], [1])]
    assert arguments.hits == 1 and arguments.misses == 5  # only the last [1] was seen before
    assert texts[0] == texts[5] and len(set(texts[:5])) == 5
    first, first_blobs = arguments.encode([np.arange(3, dtype=np.int64)])
    again, again_blobs = arguments.encode([np.arange(3, dtype=np.int64)])
    other, other_blobs = arguments.encode([np.arange(3, dtype=np.int32)])
    assert (first, first_blobs) == (again, again_blobs) and arguments.hits == 2
    assert other != first
    with pytest.raises(WireError):
        arguments.encode([object()])  # what cannot travel is refused as the encoder refuses it


def test_encoded_arguments_keep_to_their_memory_bound():
    arguments = EncodedArguments(max_bytes=20_000)
    for n in range(50):
        arguments.encode([np.full(100, float(n))])  # 800 bytes of blob each, and its key
    assert arguments._bytes <= 20_000 and 0 < len(arguments._entries) < 50
