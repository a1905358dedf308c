"""A spatial video of our own: the talking astronaut as two views in one HEVC stream (MV-HEVC), as phones record.

The runtime encoder (PyAV's libx265) has no multiview support, so the stream is made by an x265 4.x command-line
encoder built with ``ENABLE_MULTIVIEW`` (``scripts/make_spatial_sample.py`` builds the committed sample
``tests/data/spatial_talk_mvhevc.mov`` this way and says how the encoder was built). Here are the parts that need
no such encoder: the frames and their ground truth (:func:`spatial_sample_frames`), the raw views x265 reads
(:func:`write_views_yuv`), and the remux of its elementary stream, with a sound track, into a MOV carrying Apple's
``vexu`` box (:func:`mux_spatial_video`).
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


def parameter_sets(annexb: bytes) -> bytes:
    """The VPS, SPS and PPS NAL units (of every layer) in an HEVC Annex B access unit, start codes included."""
    out = b""
    for nal in _nal_units(annexb):
        body = nal.lstrip(b"\x00")[1:]  # past the start code
        if body and (body[0] >> 1) & 0x3F in (32, 33, 34):
            out += nal
    return out


def mux_spatial_video(hevc: str | Path, out: str | Path, sample: SpatialSample = SAMPLE, sound=None) -> Path:
    """Remux an MV-HEVC elementary stream (no B-frames: decode order is display order) into a MOV with a sound
    track as AAC (``sound``: anything with ``audio`` (samples) and ``sr``; default the sample's speech), then add a
    ``vexu`` box (both eyes, left is the hero eye). The frame rate is ``sample.fps``. Returns ``out``."""
    import av

    from lipsync_studio.media.mvhevc import vexu_box
    from lipsync_studio.media.vrmeta import VRMetadata, write_vr_metadata

    out = Path(out)
    tb = Fraction(1, sample.fps)
    speech = sound if sound is not None else sample.speech()
    with av.open(str(hevc), format="hevc", options={"framerate": str(sample.fps)}) as src, \
            av.open(str(out), "w", format="mov") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        vout.time_base = tb
        aout = dst.add_stream("aac", rate=48000, layout="mono")
        n, headers = 0, b""
        for packet in src.demux(vin):
            if not packet.size:
                continue
            if n == 0:
                headers = parameter_sets(bytes(packet))
            elif packet.is_keyframe and headers and not parameter_sets(bytes(packet)):
                # Each keyframe repeats every layer's parameter sets, so a seek decodes both views: the MOV's
                # hvcC holds the base layer's only (FFmpeg writes no lhvC for the second).
                key = av.Packet(headers + bytes(packet))
                key.is_keyframe = True
                packet = key
            packet.pts = packet.dts = n
            packet.duration = 1
            packet.time_base = tb
            packet.stream = vout
            dst.mux(packet)
            n += 1
        audio = speech.audio.astype(np.float32)
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
        frame = av.AudioFrame.from_ndarray(audio[None, :], format="flt", layout="mono")
        frame.sample_rate = speech.sr
        for piece in resampler.resample(frame) + resampler.resample(None):
            dst.mux(aout.encode(piece))
        dst.mux(aout.encode(None))
    write_vr_metadata(out, VRMetadata(entry_boxes=((b"vexu", vexu_box()),)))
    return out
