"""PRNet: the TensorFlow checkpoint reader/writer, ResFCN256, weight loading, and the crop → mesh predictor.

No official file is used: checkpoints are written by our own writer in the official layout from random weights,
UV data come from :mod:`lipsync_studio.face.prnet.synthetic`.
"""

from __future__ import annotations

import itertools
import struct

import numpy as np
import pytest
import torch

from lipsync_studio.face.prnet import sstable
from lipsync_studio.face.prnet.crc32c import _advance_small, crc32c, mask, unmask
from lipsync_studio.face.prnet.network import MAX_POSITION, Conv2dSame, ConvTranspose2dSame, ResFCN256
from lipsync_studio.face.prnet.predictor import (
    PRNetPredictor,
    bilinear_sample,
    box_from_landmarks,
    crop_face,
    crop_transform,
    uncrop_position_map,
)
from lipsync_studio.face.prnet.synthetic import (
    identity_network,
    identity_position_map,
    synthetic_uv_layout,
    write_synthetic_uv_data,
)
from lipsync_studio.face.prnet.tf_checkpoint import (
    TFCheckpoint,
    TFCheckpointError,
    data_path,
    index_path,
    read_tf_checkpoint,
    write_tf_checkpoint,
)
from lipsync_studio.face.prnet.uv_data import PRNetUVData
from lipsync_studio.face.prnet.weights import (
    PRNetWeightsError,
    load_prnet,
    read_state_dict,
    save_tf_checkpoint,
    state_dict_from_tf,
    tf_variable_map,
    tf_variables_from_state_dict,
)

OFFICIAL_TENSORS = 245
OFFICIAL_FP32_BYTES = 53_462_032  # PRNet's .index lists 245 model tensors of this total (face3d-anchors §1.5)


# --- CRC-32C ---------------------------------------------------------------------------------------------------------

def test_crc32c_matches_published_check_values():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC catalogue's check value for CRC-32C
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4 test vectors
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(b"") == 0


def test_crc32c_chunked_path_equals_bytewise_and_continues():
    data = np.random.default_rng(0).integers(0, 256, 300_007, dtype=np.uint8)
    expected = _advance_small(0xFFFFFFFF, data.tobytes()) ^ 0xFFFFFFFF
    assert crc32c(data) == expected
    assert crc32c(data.tobytes()) == expected
    assert crc32c(data[123_456:], crc32c(data[:123_456])) == expected
    assert unmask(mask(expected)) == expected and mask(0) == 0xA282EAD8


# --- sorted-string table ---------------------------------------------------------------------------------------------

def test_sstable_round_trip_over_many_blocks_with_shared_prefixes():
    entries = [(f"resfcn256/layer_{i:04d}/weights".encode(), bytes([i % 251]) * (i % 37)) for i in range(300)]
    table = sstable.build_table(entries, block_size=512)
    assert list(sstable.read_table(table)) == entries
    # The footer points at an index with one entry per data block; each index key separates its block from the next.
    footer = table[-sstable.FOOTER_SIZE:]
    _, pos = sstable.decode_varint(footer, 0)
    _, pos = sstable.decode_varint(footer, pos)
    offset, pos = sstable.decode_varint(footer, pos)
    size, _ = sstable.decode_varint(footer, pos)
    index = sstable.parse_block(table[offset:offset + size])
    assert len(index) > 10
    keys = [k for k, _ in entries]
    for separator, _ in index[:-1]:
        assert any(a <= separator < b for a, b in itertools.pairwise(keys))
    assert sstable.parse_block(sstable.build_block([])) == []
    assert struct.unpack("<II", footer[-8:]) == (0x8B80FB57, 0xDB477524)
    with pytest.raises(ValueError, match="strictly increasing"):
        sstable.build_table([(b"b", b""), (b"a", b"")])


def test_sstable_reports_wrong_magic_and_damaged_blocks():
    table = bytearray(sstable.build_table([(b"", b"head"), (b"key", b"value")]))
    bad_magic = table[:-1] + b"\0"
    with pytest.raises(sstable.TableFormatError, match="magic number"):
        list(sstable.read_table(bytes(bad_magic)))
    table[3] ^= 0xFF
    with pytest.raises(sstable.TableFormatError, match="checksum"):
        list(sstable.read_table(bytes(table)))


def test_snappy_blocks_decode_including_overlapping_copies():
    # varint length 12, literal "abcd", copy(offset 4, length 8) which overlaps its own output.
    stream = bytes([12, (4 - 1) << 2]) + b"abcd" + bytes([((8 - 4) << 2) | 1, 4])
    assert sstable.snappy_decompress(stream) == b"abcdabcdabcd"
    # 2-byte-offset copy of a run: literal "x", copy(offset 1, length 5).
    assert sstable.snappy_decompress(bytes([6, 0]) + b"x" + bytes([((5 - 1) << 2) | 2, 1, 0])) == b"xxxxxx"


# --- TensorFlow checkpoints ------------------------------------------------------------------------------------------

def _arbitrary_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "scalar_f64": np.float64(-2.5),
        "global_step": np.int64(123456789012),
        "matrix/f32": rng.standard_normal((3, 5)).astype(np.float32),
        "conv/weights": rng.standard_normal((4, 4, 3, 16)).astype(np.float32),
        "big/f32": rng.standard_normal(70_000).astype(np.float32),  # > 4 KB: the chunked CRC path
        "half": rng.standard_normal((2, 3)).astype(np.float16),
        "ints/i8": np.array([-128, 0, 127], np.int8),
        "ints/u8": np.arange(10, dtype=np.uint8),
        "ints/i16": np.array([[-300, 300]], np.int16),
        "ints/u16": np.array([65535], np.uint16),
        "ints/i32": np.array([-7, 8, 2**31 - 1], np.int32),
        "flags": np.array([True, False, True]),
        "complex": np.array([1 + 2j, -3j], np.complex64),
        "empty": np.zeros((0, 3), np.float32),
        "strings": np.array([[b"alpha", b""], [b"\x00\xff", "ünïcode".encode()]], dtype=object),
        "名前/ünicode": np.array([1.0], np.float32),
    }


def test_tf_checkpoint_round_trip_of_arbitrary_tensors(tmp_path):
    tensors = _arbitrary_tensors()
    index = write_tf_checkpoint(tmp_path / "model.ckpt-100", tensors, block_size=256)
    assert index == tmp_path / "model.ckpt-100.index"
    assert data_path(tmp_path / "model.ckpt-100").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt-100.data-00000-of-00001",
                                                          "model.ckpt-100.index"]  # no temporary files left
    ckpt = TFCheckpoint(index)
    assert ckpt.header.num_shards == 1 and ckpt.header.little_endian and ckpt.header.producer == 1
    assert ckpt.names == sorted(tensors, key=lambda n: n.encode())
    # Entries lie back to back in the data file, in name order.
    offset = 0
    for name in ckpt.names:
        info = ckpt.entries[name]
        assert info.offset == offset and info.shard == 0
        offset += info.size
    assert offset == data_path(ckpt.prefix).stat().st_size
    assert ckpt.entries["conv/weights"].shape == (4, 4, 3, 16) and ckpt.entries["conv/weights"].dtype == "float32"
    assert ckpt.entries["scalar_f64"].shape == () and ckpt.entries["strings"].dtype == "string"

    for opener in (tmp_path / "model.ckpt-100", index, data_path(tmp_path / "model.ckpt-100")):
        back = read_tf_checkpoint(opener)
        assert set(back) == set(tensors)
        for name, value in tensors.items():
            value = np.asarray(value)
            assert back[name].shape == value.shape, name
            if value.dtype == object:
                assert back[name].tolist() == value.tolist()
            else:
                assert back[name].dtype == value.dtype, name
                np.testing.assert_array_equal(back[name], value)
    assert back["big/f32"].flags.writeable  # torch.from_numpy must not warn


def test_tf_index_entries_decode_with_the_protobuf_library(tmp_path):
    """Our hand-written protobuf encoding parses with Google's protobuf, field for field, and vice versa."""
    descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
    from google.protobuf import descriptor_pool, message_factory

    f = descriptor_pb2.FileDescriptorProto(name="bundle_test.proto", package="t", syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto
    def add(name, fields):
        m = f.message_type.add(name=name)
        for fname, num, ftype, label, tname in fields:
            fd = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                fd.type_name = tname
    opt, rep = T.LABEL_OPTIONAL, T.LABEL_REPEATED
    add("Dim", [("size", 1, T.TYPE_INT64, opt, None), ("name", 2, T.TYPE_STRING, opt, None)])
    add("Shape", [("dim", 2, T.TYPE_MESSAGE, rep, ".t.Dim"), ("unknown_rank", 3, T.TYPE_BOOL, opt, None)])
    add("Version", [("producer", 1, T.TYPE_INT32, opt, None), ("min_consumer", 2, T.TYPE_INT32, opt, None)])
    add("Header", [("num_shards", 1, T.TYPE_INT32, opt, None), ("endianness", 2, T.TYPE_INT32, opt, None),
                   ("version", 3, T.TYPE_MESSAGE, opt, ".t.Version")])
    add("Entry", [("dtype", 1, T.TYPE_INT32, opt, None), ("shape", 2, T.TYPE_MESSAGE, opt, ".t.Shape"),
                  ("shard_id", 3, T.TYPE_INT32, opt, None), ("offset", 4, T.TYPE_INT64, opt, None),
                  ("size", 5, T.TYPE_INT64, opt, None), ("crc32c", 6, T.TYPE_FIXED32, opt, None)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    Entry = message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Entry"))
    Header = message_factory.GetMessageClass(pool.FindMessageTypeByName("t.Header"))

    tensors = {"a": np.zeros((4, 4, 3, 16), np.float32), "b": np.ones(5, np.int64), "c": np.float32(1)}
    index = write_tf_checkpoint(tmp_path / "ck", tensors)
    records = dict(sstable.read_table(index.read_bytes()))
    header = Header.FromString(records[b""])
    assert (header.num_shards, header.endianness, header.version.producer) == (1, 0, 1)
    ckpt = TFCheckpoint(index)
    for name in tensors:
        entry = Entry.FromString(records[name.encode()])
        info = ckpt.entries[name]
        assert entry.dtype == info.dtype_code and entry.offset == info.offset and entry.size == info.size
        assert entry.crc32c == info.crc32c and [d.size for d in entry.shape.dim] == list(info.shape)
    assert Entry.FromString(records[b"a"]).dtype == 1 and Entry.FromString(records[b"b"]).dtype == 9

    # And an entry serialised by protobuf (with a dimension name we never write) reads back here.
    raw = np.arange(6, dtype=np.float32).tobytes()
    entry = Entry(dtype=1, offset=0, size=len(raw), crc32c=mask(crc32c(raw)))
    entry.shape.dim.add(size=2, name="rows")
    entry.shape.dim.add(size=3)
    head = Header(num_shards=1)
    head.version.producer = 1
    prefix = tmp_path / "by_protobuf"
    index_path(prefix).write_bytes(sstable.build_table([(b"", head.SerializeToString()),
                                                        (b"x", entry.SerializeToString())]))
    data_path(prefix).write_bytes(raw)
    np.testing.assert_array_equal(TFCheckpoint(prefix).read("x"), np.arange(6, dtype=np.float32).reshape(2, 3))

    # bfloat16 (no numpy type: read as float32) and a big-endian bundle (read in native order).
    bf16 = np.array([0x3F80, 0xC020], ">u2").tobytes()  # 1.0, -2.5 (big-endian like the rest)
    big = np.array([1.5, -4.0], ">f4").tobytes()
    entries = [(b"", Header(num_shards=1, endianness=1, version=head.version).SerializeToString())]
    for key, code, data, offset in ((b"bf", 14, bf16, 0), (b"f", 1, big, len(bf16))):
        entry = Entry(dtype=code, offset=offset, size=len(data), crc32c=mask(crc32c(data)))
        entry.shape.dim.add(size=2)
        entries.append((key, entry.SerializeToString()))
    prefix = tmp_path / "bf16_big_endian"
    index_path(prefix).write_bytes(sstable.build_table(entries))
    data_path(prefix).write_bytes(bf16 + big)
    ckpt = TFCheckpoint(prefix)
    assert not ckpt.header.little_endian and ckpt.entries["bf"].dtype == "bfloat16"
    np.testing.assert_array_equal(ckpt.read("f"), np.array([1.5, -4.0], np.float32))
    bf = ckpt.read("bf")
    assert bf.dtype == np.float32 and bf.tolist() == [1.0, -2.5]


def test_tf_checkpoint_errors_say_what_is_wrong_with_which_file(tmp_path):
    with pytest.raises(TFCheckpointError, match="checkpoint index not found"):
        TFCheckpoint(tmp_path / "nothing.index")

    prefix = tmp_path / "ck"
    write_tf_checkpoint(prefix, {"w": np.arange(1000, dtype=np.float32)})
    data, index = data_path(prefix), index_path(prefix)
    good = data.read_bytes()

    data.write_bytes(good[:-10])
    with pytest.raises(TFCheckpointError, match=r"truncated: it has 3,990 bytes, its index needs 4,000") as exc:
        TFCheckpoint(index)
    assert exc.value.path == data

    data.write_bytes(good[:100] + bytes([good[100] ^ 1]) + good[101:])
    with pytest.raises(TFCheckpointError, match="tensor w fails its checksum"):
        TFCheckpoint(index).read("w")
    assert TFCheckpoint(index).read("w", verify=False).shape == (1000,)

    data.unlink()
    with pytest.raises(TFCheckpointError, match="data file is missing") as exc:
        TFCheckpoint(index)
    assert exc.value.path == data and "same folder as the .index" in str(exc.value)

    data.write_bytes(good)
    raw = index.read_bytes()
    index.write_bytes(raw[:-8] + b"NOTMAGIC")
    with pytest.raises(TFCheckpointError, match="magic number"):
        TFCheckpoint(index)
    index.write_bytes(b"")
    with pytest.raises(TFCheckpointError, match="fewer than a table's 48-byte footer"):
        TFCheckpoint(index)
    index.write_bytes(raw)
    with pytest.raises(TFCheckpointError, match="no tensor named 'v'"):
        TFCheckpoint(index).read("v")


# --- ResFCN256 -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def random_prnet() -> ResFCN256:
    """ResFCN256 with random weights and batch-norm statistics that keep activations in range."""
    torch.manual_seed(0)
    model = ResFCN256()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=gen)
                module.bias.normal_(0, 0.1, generator=gen)
                module.momentum = 1.0  # one training pass sets the running statistics to that batch's
        model.train()
        model(torch.rand(1, 3, 256, 256, generator=gen))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 1e-3
    return model.eval()


def test_resfcn256_has_the_official_tensor_count_and_byte_total():
    model = ResFCN256()
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert len(state) == OFFICIAL_TENSORS
    assert sum(v.numel() * 4 for v in state.values()) == OFFICIAL_FP32_BYTES
    # 149 trainable tensors: the official file has 298 Adam slots (two per trainable variable).
    assert len(list(model.parameters())) == 149
    assert [b.shortcut is not None for b in model.res_blocks] == [True, False] * 5
    assert all(m.bias is None for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d))
    assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_tf_variable_names_and_shapes_follow_the_official_layout():
    model = ResFCN256()
    tf = tf_variables_from_state_dict(model.state_dict(), model)
    assert len(tf) == OFFICIAL_TENSORS
    assert tf["resfcn256/Conv/weights"].shape == (4, 4, 3, 16)
    assert tf["resfcn256/resBlock/shortcut/weights"].shape == (1, 1, 16, 32)
    assert tf["resfcn256/resBlock_9/Conv_1/weights"].shape == (4, 4, 256, 256)
    assert tf["resfcn256/resBlock_9/Conv_2/weights"].shape == (1, 1, 256, 512)
    assert tf["resfcn256/resBlock_9/BatchNorm/moving_variance"].shape == (512,)
    assert "resfcn256/resBlock_1/shortcut/weights" not in tf
    # conv_transpose kernels are [kh, kw, out, in].
    assert tf["resfcn256/Conv2d_transpose/weights"].shape == (4, 4, 512, 512)
    assert tf["resfcn256/Conv2d_transpose_1/weights"].shape == (4, 4, 256, 512)
    assert tf["resfcn256/Conv2d_transpose_16/weights"].shape == (4, 4, 3, 3)
    assert tf["resfcn256/Conv2d_transpose_16/BatchNorm/gamma"].shape == (3,)
    assert sum(name.startswith("resfcn256/Conv2d_transpose") for name in tf) == 17 * 5


def _tf_same_conv_reference(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """TensorFlow's conv2d(padding='SAME') from its definition; x (H, W, Ci), w (kh, kw, Ci, Co)."""
    h, wd, _ = x.shape
    kh, kw, _, co = w.shape
    oh, ow = -(-h // stride), -(-wd // stride)
    pt = max((oh - 1) * stride + kh - h, 0) // 2
    pl = max((ow - 1) * stride + kw - wd, 0) // 2
    out = np.zeros((oh, ow, co))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    yy, xx = i * stride + a - pt, j * stride + b - pl
                    if 0 <= yy < h and 0 <= xx < wd:
                        out[i, j] += x[yy, xx] @ w[a, b]
    return out


@pytest.mark.parametrize(("size", "kernel", "stride"), [(8, 4, 1), (8, 4, 2), (7, 4, 2), (9, 4, 1), (8, 1, 2),
                                                        (5, 3, 2)])
def test_conv_same_padding_matches_tensorflow_definition(size, kernel, stride):
    rng = np.random.default_rng(size * 10 + kernel + stride)
    x = rng.standard_normal((size, size + 1, 2))
    w = rng.standard_normal((kernel, kernel, 2, 3))
    conv = Conv2dSame(2, 3, kernel, stride).double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w.transpose(3, 2, 0, 1)))
        ours = conv(torch.from_numpy(x.transpose(2, 0, 1))[None])[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(ours, _tf_same_conv_reference(x, w, stride), atol=1e-10)


@pytest.mark.parametrize(("size", "stride"), [(8, 1), (8, 2), (5, 2), (3, 1)])
def test_conv_transpose_same_is_the_adjoint_of_the_same_conv(size, stride):
    """TensorFlow's conv2d_transpose is the gradient of conv2d 'SAME' from size·stride to size pixels."""
    torch.manual_seed(size + stride)
    conv = Conv2dSame(3, 5, 4, stride).double()
    deconv = ConvTranspose2dSame(5, 3, 4, stride).double()
    with torch.no_grad():
        deconv.weight.copy_(conv.weight)  # (5, 3, 4, 4): conv (out, in, …) is convT (in, out, …)
    x = torch.randn(2, 3, size * stride, size * stride, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 5, size, size, dtype=torch.float64)
    (conv(x) * g).sum().backward()
    with torch.no_grad():
        np.testing.assert_allclose(deconv(g).numpy(), x.grad.numpy(), atol=1e-10)


def test_resfcn256_maps_a_256_crop_to_a_256_position_map(random_prnet):
    with torch.inference_mode():
        out = random_prnet(torch.rand(1, 3, 256, 256))
    assert out.shape == (1, 3, 256, 256)
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    # Not saturated: the checkpoint comparison below is meaningful.
    assert float(out.std()) > 0.05 and float(((out > 0.01) & (out < 0.99)).float().mean()) > 0.9


# --- loading weights -------------------------------------------------------------------------------------------------

def test_official_layout_checkpoint_loads_and_reproduces_the_forward_output(random_prnet, tmp_path):
    """Weights written as PRNet's TF checkpoint (with Adam slots) → our reader → same output to 1e-5."""
    rng = np.random.default_rng(3)
    adam = {"beta1_power": np.float32(0.9 ** 100), "beta2_power": np.float32(0.999 ** 100)}
    for name in ("resfcn256/Conv/weights", "resfcn256/Conv/BatchNorm/gamma", "resfcn256/resBlock_8/Conv_1/weights"):
        shape = tf_variables_from_state_dict(random_prnet.state_dict(), random_prnet)[name].shape
        adam[f"{name}/Adam"] = rng.standard_normal(shape).astype(np.float32)
        adam[f"{name}/Adam_1"] = rng.random(shape).astype(np.float32)
    folder = tmp_path / "prnet"
    index = save_tf_checkpoint(random_prnet, folder / "256_256_resfcn256_weight", extra=adam)

    ckpt = TFCheckpoint(index)
    assert len(ckpt) == OFFICIAL_TENSORS + len(adam)
    model_entries = [ckpt.entries[n] for n in ckpt.names if n.startswith("resfcn256/") and "/Adam" not in n]
    assert len(model_entries) == OFFICIAL_TENSORS
    assert sum(e.size for e in model_entries) == OFFICIAL_FP32_BYTES
    assert all(e.dtype == "float32" for e in model_entries)
    assert ckpt.entries["resfcn256/Conv/weights"].shape == (4, 4, 3, 16)

    # The folder, its .index and its .data file all lead to the checkpoint.
    state = read_state_dict(data_path(index.with_suffix("")), verify=False)
    assert torch.equal(state["up_blocks.16.bn.running_var"], random_prnet.up_blocks[16].bn.running_var)
    write_synthetic_uv_data(folder / "uv-data")
    predictor = PRNetPredictor.from_directory(folder)  # finds the .index; checks every CRC
    loaded = predictor.model
    assert isinstance(loaded, ResFCN256) and not loaded.training

    from skimage.data import astronaut

    image = astronaut()  # 512×512 RGB uint8
    box = (180.0, 60.0, 330.0, 240.0)
    crop = crop_face(image, crop_transform(box))
    x = torch.from_numpy(crop.transpose(2, 0, 1).copy())[None]
    with torch.inference_mode():
        expected = random_prnet(x)
        got = loaded(x)
    assert float((got - expected).abs().max()) < 1e-5

    face = predictor.predict(image, box)
    expected_map = uncrop_position_map(expected[0].numpy().transpose(1, 2, 0) * MAX_POSITION,
                                       crop_transform(box))
    np.testing.assert_allclose(face.position_map, expected_map, atol=1e-3)
    assert face.vertices.shape == (43867, 3) and face.vertices.dtype == np.float32
    assert face.keypoints.shape == (68, 3) and face.colors.shape == (43867, 3)


def test_torch_state_dict_loads_strictly_with_or_without_module_prefix(random_prnet, tmp_path):
    state = random_prnet.state_dict()
    wrapped = tmp_path / "prnet.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    loaded = read_state_dict(wrapped)
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    bare = tmp_path / "bare.pt"
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, bare)
    assert torch.equal(load_prnet(bare).stem.conv.weight, random_prnet.stem.conv.weight)


def test_torch_state_dict_mismatches_are_reported_in_words(random_prnet, tmp_path):
    state = dict(random_prnet.state_dict())
    path = tmp_path / "bad.pth"
    del state["up_blocks.3.bn.bias"]
    state["head.extra"] = torch.zeros(3)
    state["stem.conv.weight"] = torch.zeros(8, 3, 4, 4)
    torch.save(state, path)
    with pytest.raises(PRNetWeightsError) as exc:
        read_state_dict(path)
    text = str(exc.value)
    assert "1 tensors are missing (up_blocks.3.bn.bias)" in text
    assert "1 are not part of the network (head.extra)" in text
    assert "stem.conv.weight is [8,3,4,4], not [16,3,4,4]" in text

    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(PRNetWeightsError, match=r"this is not a PRNet state dict.*fc\.weight"):
        read_state_dict(path)
    path.write_bytes(b"definitely not a pickle")
    with pytest.raises(PRNetWeightsError, match="not a PyTorch weights file"):
        read_state_dict(path)
    with pytest.raises(PRNetWeightsError, match="not found"):
        read_state_dict(tmp_path / "missing.pth")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PRNetWeightsError, match="no PRNet weights in this folder"):
        read_state_dict(tmp_path / "empty")
    for name in ("a.pth", "b.pt"):
        (tmp_path / "empty" / name).write_bytes(b"")
    with pytest.raises(PRNetWeightsError, match=r"several PyTorch weight files in this folder \(a\.pth, b\.pt\)"):
        read_state_dict(tmp_path / "empty")


def test_tf_checkpoint_of_another_network_is_not_taken_for_prnet(tmp_path):
    write_tf_checkpoint(tmp_path / "other", {"vgg16/conv1_1/weights": np.zeros((3, 3, 3, 64), np.float32),
                                             "global_step": np.int64(5)})
    with pytest.raises(PRNetWeightsError, match=r"this is not a PRNet checkpoint.*vgg16/conv1_1/weights"):
        load_prnet(tmp_path / "other.index")
    index = write_tf_checkpoint(tmp_path / "prnet_broken", {"resfcn256/Conv/weights": np.zeros((4, 4, 3, 16),
                                                                                                np.float32)})
    data = data_path(index.with_suffix(""))
    good = data.read_bytes()
    data.write_bytes(good[:1000])  # an interrupted download
    with pytest.raises(PRNetWeightsError, match="data file is truncated: it has 1,000 bytes, its index needs 3,072"):
        load_prnet(index)
    data.unlink()
    with pytest.raises(PRNetWeightsError, match="data file is missing") as exc:
        load_prnet(tmp_path / "prnet_broken")
    assert exc.value.path == data
    data.write_bytes(good)
    index.write_bytes(index.read_bytes()[:-8] + bytes(8))
    with pytest.raises(PRNetWeightsError, match=r"not a readable TensorFlow checkpoint index.*magic number"):
        load_prnet(index)


def test_incomplete_or_misshapen_prnet_variables_are_named():
    model = ResFCN256()
    tf = tf_variables_from_state_dict(model.state_dict(), model)
    incomplete = dict(tf)
    del incomplete["resfcn256/resBlock_3/Conv_1/weights"], incomplete["resfcn256/Conv2d_transpose_5/BatchNorm/beta"]
    with pytest.raises(PRNetWeightsError, match=r"incomplete: 2 of the 245 tensors.*resBlock_3/Conv_1/weights"):
        state_dict_from_tf(incomplete, model)
    misshapen = dict(tf)
    misshapen["resfcn256/Conv/weights"] = np.zeros((3, 3, 3, 16), np.float32)
    with pytest.raises(PRNetWeightsError, match=r"resfcn256/Conv/weights is \[3,3,3,16\], not \[4,4,3,16\]"):
        state_dict_from_tf(misshapen, model)
    # Kernels are transposed to PyTorch's layouts.
    state = state_dict_from_tf(tf, model)
    np.testing.assert_array_equal(state["up_blocks.1.conv.weight"].numpy(),
                                  tf["resfcn256/Conv2d_transpose_1/weights"].transpose(3, 2, 0, 1))
    assert set(state) == set(model.state_dict()) and len(tf_variable_map(model)) == OFFICIAL_TENSORS


# --- crop, uncrop, predictor -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def uv() -> PRNetUVData:
    layout = synthetic_uv_layout()
    return PRNetUVData(face_ind=layout.face_ind, triangles=layout.triangles, kpt_ind=layout.kpt_ind,
                       face_mask=layout.face_mask)


def test_crop_transform_equals_prnets_similarity_estimate():
    from skimage.transform import estimate_transform

    for box in [(100.0, 50.0, 220.0, 190.0), (0.5, 3.25, 40.0, 41.0), (-20.0, -10.0, 300.0, 250.0)]:
        x0, y0, x1, y1 = box
        size = int(1.6 * ((x1 - x0) + (y1 - y0)) / 2)
        cx, cy = x1 - (x1 - x0) / 2, y1 - (y1 - y0) / 2
        src = np.array([[cx - size / 2, cy - size / 2], [cx - size / 2, cy + size / 2], [cx + size / 2, cy - size / 2]])
        reference = estimate_transform("similarity", src, np.array([[0, 0], [0, 255], [255, 0]])).params
        np.testing.assert_allclose(crop_transform(box), reference, atol=1e-9)


def test_crop_equals_prnets_skimage_warp_even_past_the_image_border():
    from skimage.transform import SimilarityTransform, warp

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    transform = crop_transform((40.0, 60.0, 100.0, 130.0))  # the crop reaches past the right and bottom
    reference = warp(image / 255.0, SimilarityTransform(matrix=transform).inverse, output_shape=(256, 256))
    ours = crop_face(image, transform)
    assert ours.dtype == np.float32 and ours.shape == (256, 256, 3)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert (ours[-10:, -10:] == 0).all()


def test_identity_position_map_gives_vertices_back_at_the_right_image_pixels(uv):
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.stack([xx / w, yy / h, np.full_like(xx, 0.25)], axis=-1)  # colours encode the position
    before = image.copy()
    box = (110.0, 40.0, 210.0, 170.0)
    predictor = PRNetPredictor(identity_network(), uv)
    assert predictor.dtype == torch.float32 and predictor.device.type == "cpu"
    face = predictor.predict(image, box)

    size = int(1.6 * (100 + 130) / 2)  # 184 px square around the box centre (160, 105)
    scale = 255 / size
    u = (uv.face_ind % 256).astype(np.float64)
    v = (uv.face_ind // 256).astype(np.float64)
    expected_x = 160 - size / 2 + u / scale
    expected_y = 105 - size / 2 + v / scale
    depth = identity_position_map().reshape(-1, 3)[uv.face_ind, 2] / scale
    np.testing.assert_allclose(face.vertices[:, 0], expected_x, atol=2e-3)
    np.testing.assert_allclose(face.vertices[:, 1], expected_y, atol=2e-3)
    np.testing.assert_allclose(face.vertices[:, 2], depth, atol=2e-3)
    corner = uncrop_position_map(np.array([[0.0, 0.0, 0.0], [255.0, 255.0, 255.0]]), face.crop_transform)
    np.testing.assert_allclose(corner, [[160 - 92, 105 - 92, 0], [160 + 92, 105 + 92, size]], atol=1e-3)

    k = uv.kpt_ind
    np.testing.assert_allclose(face.keypoints[:, :2], np.stack([160 - 92 + k[0] / scale, 105 - 92 + k[1] / scale],
                                                               axis=1), atol=2e-3)
    inside = (expected_x <= w - 1) & (expected_y <= h - 1)
    np.testing.assert_allclose(face.colors[inside, 0], expected_x[inside] / w, atol=1e-4)
    np.testing.assert_allclose(face.colors[inside, 1], expected_y[inside] / h, atol=1e-4)
    np.testing.assert_array_equal(image, before)  # colours are sampled without touching the frame
    assert face.triangles is uv.triangles and face.position_map.shape == (256, 256, 3)


def test_batched_predictions_match_single_ones_and_landmarks_give_their_box(uv):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (200, 260, 3), dtype=np.uint8), rng.integers(0, 256, (150, 150, 3), np.uint8)]
    boxes = [(30.0, 20.0, 120.0, 130.0), (50.0, 40.0, 100.0, 110.0)]
    predictor = PRNetPredictor(identity_network(), uv, batch_size=1)
    batch = predictor.predict_batch([frames[0], frames[1], frames[0]], [*boxes, boxes[0]])
    assert len(batch) == 3
    single = predictor.predict(frames[1], boxes[1])
    np.testing.assert_array_equal(batch[1].vertices, single.vertices)
    np.testing.assert_array_equal(batch[0].colors, batch[2].colors)
    assert not np.allclose(batch[0].vertices, batch[1].vertices)

    landmarks = np.array([[30.0, 50.0], [120.0, 20.0], [75.0, 130.0]])
    np.testing.assert_array_equal(box_from_landmarks(landmarks), [30, 20, 120, 130])
    np.testing.assert_array_equal(predictor.predict(frames[0], landmarks=landmarks).vertices, batch[0].vertices)
    assert predictor.predict_batch([], []) == []


def test_half_precision_runs_through_the_same_pipeline(uv):
    image = np.full((100, 100, 3), 128, np.uint8)
    full = PRNetPredictor(identity_network(), uv).predict(image, (20, 20, 80, 80))
    half = PRNetPredictor(identity_network(), uv, dtype=torch.float16).predict(image, (20, 20, 80, 80))
    assert half.vertices.dtype == np.float32
    np.testing.assert_allclose(half.vertices, full.vertices, atol=0.25)  # fp16 sigmoid steps ≈ 0.1 crop px


def test_predictor_rejects_bad_inputs_with_clear_messages(uv):
    predictor = PRNetPredictor(identity_network(), uv)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) RGB"):
        predictor.predict(np.zeros((50, 50), np.uint8), (10, 10, 40, 40))
    with pytest.raises(ValueError, match="one box per image"):
        predictor.predict_batch([np.zeros((50, 50, 3), np.uint8)], [(1, 1, 9, 9), (2, 2, 8, 8)])
    with pytest.raises(ValueError, match="x1 > x0"):
        predictor.predict(np.zeros((50, 50, 3), np.uint8), (40, 10, 10, 40))
    with pytest.raises(ValueError, match="either a face box or landmarks"):
        predictor.predict(np.zeros((50, 50, 3), np.uint8))
    with pytest.raises(ValueError, match=r"crops must be \(N, 256, 256, 3\)"):
        predictor.position_maps(np.zeros((1, 128, 128, 3), np.float32))


def test_bilinear_sampling_is_exact_on_pixels_and_linear_between():
    image = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    assert bilinear_sample(image, np.array([2.0]), np.array([1.0]))[0, 0] == 6
    assert bilinear_sample(image, np.array([1.5]), np.array([0.5]))[0, 0] == pytest.approx(3.5)
    assert bilinear_sample(image, np.array([-0.5]), np.array([0.0]))[0, 0] == pytest.approx(0.0)
    assert bilinear_sample(image, np.array([3.5]), np.array([2.0]), outside="zero")[0, 0] == pytest.approx(5.5)
    assert bilinear_sample(image, np.array([9.0]), np.array([9.0]), outside="clamp")[0, 0] == 11
