"""Decoded 4:2:0 planes go to the encoder as they are: an unchanged frame is written bit for bit as decoded, a
redrawn one has only its box converted from RGB (lossless x264 here, so what is written is what is read back)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from conftest import write_clip

from lipsync_studio.media.picture import PictureFormat
from lipsync_studio.media.sequence import frames_in_order
from lipsync_studio.media.video import DecodedFrame, VideoReader
from lipsync_studio.media.writer import VideoFormat, VideoWriter, rgb_to_i420

LOSSLESS = VideoFormat(crf=0, preset="ultrafast")


def _planes(path):
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray() for f in c.decode(c.streams.video[0])]


def _noisy_clip(path, n=6, size=(96, 64)):
    """A clip whose colours change from pixel to pixel (an RGB round trip moves many of them)."""
    rng = np.random.default_rng(3)
    with VideoWriter(path, Fraction(25), *size, fmt=VideoFormat(crf=10, preset="ultrafast")) as w:
        for _ in range(n):
            w.write(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    return path


def test_unchanged_frames_are_written_exactly_as_decoded(tmp_path):
    clip = _noisy_clip(tmp_path / "noisy.mp4")
    source = _planes(clip)
    with VideoReader(clip) as r, VideoWriter(tmp_path / "same.mkv", Fraction(25), 96, 64, fmt=LOSSLESS) as w, \
            VideoWriter(tmp_path / "rgb.mkv", Fraction(25), 96, 64, fmt=LOSSLESS) as w_rgb:
        for (i, decoded), (_, rgb) in zip(r.iter_frames(planes=True, rgb=False), r.iter_frames()):
            assert isinstance(decoded, DecodedFrame) and decoded.planes is not None
            assert np.array_equal(decoded.rgb, rgb)  # converted when asked for, as the reader converts
            w.write(decoded)
            w_rgb.write(rgb)
    written = _planes(tmp_path / "same.mkv")
    assert len(written) == len(source) and all(np.array_equal(a, b) for a, b in zip(written, source))
    # What the planes spare: the same frames through RGB come back changed.
    assert not any(np.array_equal(a, b) for a, b in zip(_planes(tmp_path / "rgb.mkv"), source))


def _yuv(planes, h, w):
    """Views of the Y, U and V planes of (h * 3/2, w) planar 4:2:0."""
    flat, q = planes.reshape(-1), (h // 2) * (w // 2)
    return (flat[:h * w].reshape(h, w), flat[h * w:h * w + q].reshape(h // 2, w // 2),
            flat[h * w + q:].reshape(h // 2, w // 2))


@pytest.mark.parametrize("owned", [False, True])
@pytest.mark.parametrize("box", [(13, 9, 47, 31), (0, 0, 96, 64), (90, 61, 96, 64)])
def test_a_redrawn_box_is_the_only_part_converted(tmp_path, box, owned):
    """``owned``: the frames are handed over and converted on the encoder's thread, to the same result."""
    clip = _noisy_clip(tmp_path / "noisy.mp4", n=2)
    source = _planes(clip)
    x0, y0, x1, y1 = box
    ex0, ey0, ex1, ey1 = x0 - x0 % 2, y0 - y0 % 2, x1 + x1 % 2, y1 + y1 % 2  # a chroma sample covers 2x2
    expected = []
    with VideoReader(clip) as r, VideoWriter(tmp_path / "boxed.mkv", Fraction(25), 96, 64, fmt=LOSSLESS) as w:
        frames = list(frames_in_order(r, [0, 1, 1], planes=True))
        assert frames[1] is frames[2]  # a repeated frame is one object: writing must never change its planes
        for k, decoded in enumerate(frames[:2]):
            new = decoded.rgb.copy()
            new[y0:y1, x0:x1] = 255 - new[y0:y1, x0:x1]
            w.write(new, base=decoded, box=box, owned=owned)
            want = source[k].copy()
            for dst, src, f in zip(_yuv(want, 64, 96), _yuv(rgb_to_i420(new), 64, 96), (1, 2, 2)):
                dst[ey0 // f:ey1 // f, ex0 // f:ex1 // f] = src[ey0 // f:ey1 // f, ex0 // f:ex1 // f]
            expected.append(want)
        w.write(frames[2], owned=owned)
    written = _planes(tmp_path / "boxed.mkv")
    assert np.array_equal(written[0], expected[0]) and np.array_equal(written[1], expected[1])
    # The repeated frame, written unchanged, is its decoded planes: the redrawn box did not stay in them.
    assert np.array_equal(written[2], source[1])


def test_a_bt709_clips_planes_go_only_to_a_writer_in_its_colour(tmp_path):
    """A BT.709 clip decodes to RGB with its own matrix and keeps its planes: a writer in the clip's colour takes
    them as they are (a redrawn box converted back with BT.709, matching the planes around it) and its file says
    BT.709; a writer in the default colour (BT.601, nothing declared) does not, and converts the RGB instead."""
    import av

    clip = write_clip(tmp_path / "bt709.mp4", 3, options={"x264-params": "colormatrix=bt709"})
    source = _planes(clip)
    with VideoReader(clip) as r:
        frames = [f for _, f in r.iter_frames(planes=True)]
        plain = [img for _, img in r.iter_frames()]
        colour = r.info.colour
    assert colour.matrix == 1 and all(f.planes is not None and f.matrix == 1 for f in frames)
    assert all(np.array_equal(f.rgb, img) for f, img in zip(frames, plain))
    box = (40, 20, 100, 70)
    new = frames[1].rgb.copy()
    new[20:70, 40:100] = 255 - new[20:70, 40:100]
    with VideoWriter(tmp_path / "own.mkv", Fraction(25), 160, 96, fmt=LOSSLESS, picture=PictureFormat(colour=colour)) as own, \
            VideoWriter(tmp_path / "plain.mkv", Fraction(25), 160, 96, fmt=LOSSLESS) as other:
        assert own.takes_planes(frames[0]) and not other.takes_planes(frames[0])
        for w in (own, other):
            w.write(frames[0])
            w.write(new, base=frames[1], box=box)
    written = _planes(tmp_path / "own.mkv")
    assert np.array_equal(written[0], source[0])  # as decoded, bit for bit
    with av.open(str(tmp_path / "own.mkv")) as c:
        assert c.streams.video[0].codec_context.colorspace == 1
        back = [f.to_ndarray(format="rgb24").astype(int) for f in c.decode(video=0)]
    with VideoReader(tmp_path / "plain.mkv") as r:
        assert r.info.colour.matrix == 2
        back_plain = [img.astype(int) for _, img in r.iter_frames()]
    for got in (back, back_plain):
        assert np.abs(got[0] - plain[0]).max() <= 3
        assert np.abs(got[1] - new).max() <= 3  # the box and the planes around it: one picture in one matrix


def test_a_box_converted_alone_is_exactly_the_whole_frames_rgb_there(tmp_path):
    """An engine that reads only the face's box gets it converted alone (a whole 1080p frame costs ~4 ms): every
    pixel inside the box, wherever it lies (odd edges, the frame's edges, beyond them), is what converting the
    whole frame gives."""
    clip = _noisy_clip(tmp_path / "noisy.mp4", n=2, size=(96, 64))
    with VideoReader(clip) as r:
        decoded = [f for _, f in r.iter_frames(planes=True, rgb=False)]
    whole = [DecodedFrame(d.planes).rgb for d in decoded]
    rng = np.random.default_rng(4)
    boxes = [(13, 9, 47, 31), (0, 0, 96, 64), (90, 61, 96, 64), (-5, -7, 20, 3), (80, 50, 130, 90), (1, 1, 2, 2)]
    boxes += [tuple(int(v) for v in (x, y, x + rng.integers(1, 60), y + rng.integers(1, 40)))
              for x, y in zip(rng.integers(-10, 96, 40), rng.integers(-10, 64, 40))]
    for d, full in zip(decoded, whole):
        for x0, y0, x1, y1 in boxes:
            got = DecodedFrame(d.planes).rgb_within((x0, y0, x1, y1))
            a, b, c, e = max(x0, 0), max(y0, 0), min(x1, 96), min(y1, 64)
            assert got.shape == full.shape
            assert np.array_equal(got[b:e, a:c], full[b:e, a:c]), (x0, y0, x1, y1)
