"""A spatial video of our own: the talking astronaut as two views in one HEVC stream (MV-HEVC), as phones record.

The runtime encoder (PyAV's libx265) has no multiview support, so the stream is made by an x265 4.x command-line
encoder built with ``ENABLE_MULTIVIEW`` (``scripts/make_spatial_sample.py`` builds the committed sample
``tests/data/spatial_talk_mvhevc.mov`` this way and says how the encoder was built). Here are the parts that need
no such encoder: the frames and their ground truth (:func:`spatial_sample_frames`), the raw views x265 reads
(:func:`write_views_yuv`), and the remux of its elementary stream, with a sound track, into a MOV laid out as Apple's
spatial video (``hvcC`` + ``lhvC``, ``vexu``; :func:`mux_spatial_video`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from lipsync_studio.samples.speech import random_syllables, synth_speech
from lipsync_studio.samples.stereo_pair import stereo_talking_frames


@dataclass(frozen=True)
class SpatialSample:
    """How the committed spatial sample is made (the tests rebuild its ground truth from this).

    Attributes
    ----------
    size: each view's side (px); fps: frames per second; syllables, seed: the speech (and head motion) seed;
    background, face_near: disparity (px) of the wall and of the nearest point of the face, left to right.
    """

    size: int = 256
    fps: int = 25
    syllables: int = 5
    seed: int = 21
    background: float = 4.0
    face_near: float = 12.0

    def speech(self):
        """The clip's own speech (:class:`~lipsync_studio.samples.SpeechSample`, 16 kHz, ~1.9 s)."""
        return synth_speech(random_syllables(self.syllables, self.seed), seed=self.seed)

    @property
    def n_frames(self) -> int:
        """Frames in the clip (the speech's length at ``fps``)."""
        return int(np.ceil(self.speech().duration * self.fps - 1e-9))


SAMPLE = SpatialSample()


def spatial_sample_frames(sample: SpatialSample = SAMPLE):
    """Yield ``(left, right, disparity)`` for each frame of the sample: ``(size, size, 3)`` uint8 RGB views and the
    ``(size, size)`` float32 left-to-right disparity (px) they were made with."""
    speech = sample.speech()
    opening = speech.mouth_opening(np.arange(sample.n_frames) / sample.fps)
    yield from stereo_talking_frames(opening, size=sample.size, seed=sample.seed, fps=sample.fps,
                                     background=sample.background, face_near=sample.face_near)


def write_views_yuv(folder: str | Path, sample: SpatialSample = SAMPLE) -> tuple[Path, Path]:
    """Write the left and right views as raw ``yuv420p`` files (what x265 reads); returns their paths."""
    folder = Path(folder)
    paths = (folder / "left.yuv", folder / "right.yuv")
    with open(paths[0], "wb") as fl, open(paths[1], "wb") as fr:
        for left, right, _ in spatial_sample_frames(sample):
            fl.write(cv2.cvtColor(left, cv2.COLOR_RGB2YUV_I420).tobytes())
            fr.write(cv2.cvtColor(right, cv2.COLOR_RGB2YUV_I420).tobytes())
    return paths


def _nal_units(annexb: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, each with its start code."""
    import re

    starts = [m.start() for m in re.finditer(b"\x00\x00\x01", annexb)]
    starts = [s - 1 if s > 0 and annexb[s - 1] == 0 else s for s in starts]
    return [annexb[a:b] for a, b in zip(starts, starts[1:] + [len(annexb)])]


def _nal_type_layer(nal: bytes) -> tuple[int, int]:
    """(NAL unit type, nuh_layer_id) of an Annex B NAL unit (start code included)."""
    body = nal.lstrip(b"\x00")[1:]
    return (body[0] >> 1) & 0x3F, ((body[0] & 1) << 5) | (body[1] >> 3)


#: HEVC parameter set NAL unit types: VPS, SPS, PPS.
PARAMETER_SETS = (32, 33, 34)


def lhvc_box(nals: list[bytes]) -> bytes:
    """An ``lhvC`` box (the L-HEVC decoder configuration of ISO/IEC 14496-15) holding the second layer's SPS and
    PPS (``nals``: Annex B units, start codes included), as Apple's spatial video carries beside ``hvcC``."""
    import struct

    arrays = []
    for kind in PARAMETER_SETS:
        units = [n.lstrip(b"\x00")[1:] for n in nals if _nal_type_layer(n)[0] == kind]
        if units:
            arrays.append(bytes([0x80 | kind]) + struct.pack(">H", len(units))
                          + b"".join(struct.pack(">H", len(u)) + u for u in units))
    # version 1; min_spatial_segmentation 0; parallelism 0; one temporal layer, nested; 4-byte NAL lengths
    record = bytes([1, 0xF0, 0x00, 0xFC, 0xC0 | (1 << 3) | (1 << 2) | 3, len(arrays)]) + b"".join(arrays)
    return struct.pack(">I4s", 8 + len(record), b"lhvC") + record


def mux_spatial_video(hevc: str | Path, out: str | Path, sample: SpatialSample = SAMPLE, sound=None) -> Path:
    """Remux an MV-HEVC elementary stream (no B-frames: decode order is display order) into a MOV laid out as
    Apple's spatial video: an ``hvc1`` sample entry with the base layer's parameter sets in ``hvcC``, the second
    layer's in an ``lhvC`` box (none in the samples), and a ``vexu`` box (both eyes, left is the hero eye); a
    sound track as AAC (``sound``: anything with ``audio`` (samples) and ``sr``; default the sample's speech).
    The frame rate is ``sample.fps``. Returns ``out``."""
    import av

    from lipsync_studio.media.mvhevc import vexu_box
    from lipsync_studio.media.vrmeta import VRMetadata, write_vr_metadata

    out = Path(out)
    tb = Fraction(1, sample.fps)
    speech = sound if sound is not None else sample.speech()
    second_layer: list[bytes] = []
    with av.open(str(hevc), format="hevc", options={"framerate": str(sample.fps)}) as src, \
            av.open(str(out), "w", format="mov") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)  # FFmpeg fills hvcC with the base layer's parameter sets
        vout.time_base = tb
        vout.codec_tag = "hvc1"
        aout = dst.add_stream("aac", rate=48000, layout="mono")
        n = 0
        for packet in src.demux(vin):
            if not packet.size:
                continue
            nals = _nal_units(bytes(packet))
            if n == 0:
                second_layer = [u for u in nals if _nal_type_layer(u)[0] in PARAMETER_SETS and _nal_type_layer(u)[1]]
            samples = av.Packet(b"".join(u for u in nals if _nal_type_layer(u)[0] not in PARAMETER_SETS))
            samples.is_keyframe = packet.is_keyframe
            samples.pts = samples.dts = n
            samples.duration = 1
            samples.time_base = tb
            samples.stream = vout
            dst.mux(samples)
            n += 1
        audio = speech.audio.astype(np.float32)
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
        frame = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
        frame.sample_rate = speech.sr
        for piece in resampler.resample(frame) + resampler.resample(None):
            dst.mux(aout.encode(piece))
        dst.mux(aout.encode(None))
    if not second_layer:
        raise ValueError(f"{hevc}: its first access unit holds no second-layer parameter sets (not MV-HEVC?)")
    write_vr_metadata(out, VRMetadata(entry_boxes=((b"lhvC", lhvc_box(second_layer)), (b"vexu", vexu_box()))))
    return out
