"""Interlaced clips (broadcast 1080i, PAL/NTSC SD): looked at one moment at a time, written back with both fields.

The clips are talking faces whose second field is taken from a later moment (the head turns between them), so
frames comb wherever the face moved, as a camera's interlaced frames do.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import comb_energy, field_mismatch, weave, write_interlaced_talking

from lipsync_studio.engine.sync_job import SyncOptions, SyncRequest, run_sync
from lipsync_studio.media.fields import field_order_of, unweave
from lipsync_studio.media.probe import format_probe, probe
from lipsync_studio.media.video import VideoReader, probe_video
from lipsync_studio.media.writer import VideoFormat



@pytest.fixture(scope="module")
def tff_clip(tmp_path_factory) -> Path:
    return write_interlaced_talking(tmp_path_factory.mktemp("interlaced") / "tff.mov")


def _woven_frames(path: Path) -> list[np.ndarray]:
    """The frames as decoded, both fields (PyAV directly, not the app's reader)."""
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _field_order(path: Path) -> tuple[int, bool]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        first = next(c.decode(s))
        return s.codec_context.field_order, first.interlaced_frame


def test_a_woven_frame_is_looked_at_as_its_first_fields_moment_and_still_detail_keeps_full_height():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:48, :64]
    still = np.clip(80 + 2 * y + x + rng.normal(0, 2, (48, 64)), 0, 255)
    still[20] = 250  # a thin bright line and an edge that did not move: detail, not combs
    still[:, 40:] -= 50
    still = np.repeat(still[..., None], 3, axis=2).astype(np.uint8)
    a = np.full((48, 64, 3), 40, np.uint8)
    b = a.copy()
    a[:, 20:30] = 230  # a bar that moved 6 px between the two fields
    b[:, 26:36] = 230
    for order in ("tff", "bff"):
        woven = weave(a, b, order)
        seen = unweave(woven, order)
        assert comb_energy(woven) > 40 and comb_energy(seen) < 5
        assert np.abs(seen.astype(int) - a).max() <= 2  # the first field's moment, the other rows interpolated
        kept = unweave(still, order)
        assert np.array_equal(kept[20], still[20]) and np.mean(kept != still) < 0.01
    # A band of the frame is unwoven as the same rows of the whole frame are (its parity from its first row).
    woven = weave(a, b, "tff")
    assert np.array_equal(unweave(woven[10:34], "tff", first_row=10)[4:-4], unweave(woven, "tff")[14:30])
    assert unweave(woven, "progressive") is woven


def test_an_interlaced_clip_is_named_so_and_read_one_moment_at_a_time(tff_clip):
    info = probe_video(tff_clip)
    assert info.field_order == "tff" and info.interlaced
    assert "interlaced, top field first" in format_probe(probe(tff_clip))
    woven = _woven_frames(tff_clip)
    with VideoReader(tff_clip) as r:
        seen = [img for _, img in r.iter_frames()]
        decoded = [d for _, d in r.iter_frames(planes=True, rgb=False)]
    moving = [k for k in range(len(woven)) if comb_energy(woven[k]) > 1.5 * comb_energy(seen[k]) + 0.5]
    assert len(moving) > len(woven) // 3  # the head sways: frames comb, as decoded
    assert max(comb_energy(s) for s in seen) < min(comb_energy(woven[k]) for k in moving)
    # What a writer gets to pass on is the frame as decoded, fields and all.
    assert decoded[3].fields == "tff" and np.abs(decoded[3].woven.astype(int) - woven[3]).max() <= 3
    assert np.array_equal(decoded[3].rgb, seen[3])


def _mouth_box(path: Path) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 around the face's mouth in the first frame (FaceMesh on the app's reading)."""
    from lipsync_studio.face.analysis import analyse_faces

    track = analyse_faces(path).speaker_track()
    k = int(np.flatnonzero(track.present)[0])
    lips = track.landmarks[k][[61, 291, 0, 17], :2]
    (x0, y0), (x1, y1) = lips.min(0) - 6, lips.max(0) + 6
    return int(x0), int(y0), int(x1), int(y1)


def test_a_synced_interlaced_clip_keeps_its_fields_and_draws_a_mouth_without_combs(tff_clip, tmp_path):
    from lipsync_studio.demo import make_dub

    dub = make_dub(tmp_path / "dub.wav", syllables=6)["path"]
    out = run_sync(SyncRequest(tff_clip, dub, tmp_path / "out.mov")).output
    assert _field_order(out) == (2, True)  # coded interlaced, top field first, as the clip
    assert probe_video(out).field_order == "tff"
    src, res = _woven_frames(tff_clip), _woven_frames(out)
    x0, y0, x1, y1 = _mouth_box(tff_clip)
    drawn = [k for k in range(min(len(src), len(res)))
             if np.abs(res[k][y0:y1, x0:x1].astype(int) - src[k][y0:y1, x0:x1]).mean() > 4]
    assert len(drawn) > 10
    # The mouth drawn is one moment: its fields agree about as well as the clip's own first-field moments do there,
    # not as the woven clip (whose donors, warped as they were, gave the mouth combs smeared by the warp).
    drawn_mismatch = np.mean([field_mismatch(res[k][y0:y1, x0:x1]) for k in drawn])
    woven_mismatch = np.mean([field_mismatch(src[k][y0:y1, x0:x1]) for k in drawn])
    moment_mismatch = np.mean([field_mismatch(unweave(src[k][y0:y1, x0:x1], "tff")) for k in drawn])
    assert drawn_mismatch < 0.5 * woven_mismatch and drawn_mismatch < 2 * moment_mismatch + 1
    # Away from the mouth the clip's two fields go on as they were (above the face's lower half: the eyes).
    eyes = slice(0, max(y0 - 40, 8))
    combed = [k for k in range(min(len(src), len(res)))
              if field_mismatch(src[k][eyes]) > 1.5 * field_mismatch(unweave(src[k][eyes], "tff")) + 1]
    assert combed
    for k in combed:  # re-encoded, but both moments still there
        assert np.abs(res[k][eyes].astype(int) - src[k][eyes]).mean() < 3
        assert field_mismatch(res[k][eyes]) > 0.8 * field_mismatch(src[k][eyes])
    # The dub is longer: the picture plays on backwards (ping-pong), where a frame's second field would move
    # against the play; those frames are one moment each.
    n = len(src)
    back = [(k, 2 * (n - 1) - k) for k in range(n, len(res)) if field_mismatch(src[2 * (n - 1) - k])
            > 1.5 * field_mismatch(unweave(src[2 * (n - 1) - k], "tff")) + 1]
    assert back
    for k, j in back:
        assert field_mismatch(res[k]) < 1.2 * field_mismatch(unweave(src[j], "tff")) + 0.5


def _prores_first_field(path: Path) -> int:
    """The interlace mode of the first ProRes frame's header: 0 progressive, 1 top field first, 2 bottom first."""
    import av

    with av.open(str(path)) as c:
        data = bytes(next(c.demux(video=0)))
    i = data.find(b"icpf")
    return (data[i + 16] >> 2) & 3


def test_the_field_order_is_the_streams_or_its_kinds():
    assert field_order_of(2, True) == "tff" and field_order_of(4, True) == "bff"  # TB: top coded, bottom shown first
    assert field_order_of(1, True) == "progressive" and field_order_of(0, False) == "progressive"
    assert field_order_of(0, True, "h264", 1080) == "tff"
    assert field_order_of(0, True, "dvvideo", 576) == "bff"  # SD DV is bottom field first and does not say so


def test_masters_keep_the_field_order_and_codecs_without_fields_say_the_result_is_progressive(tmp_path):
    from lipsync_studio.demo import make_dub

    bff = write_interlaced_talking(tmp_path / "bff.mov", order="bff")
    dub = make_dub(tmp_path / "dub.wav", syllables=4)["path"]
    master = run_sync(SyncRequest(bff, dub, tmp_path / "master.mov", SyncOptions(fmt=VideoFormat(codec="prores"))))
    assert _field_order(master.output)[0] == 3 and _prores_first_field(master.output) == 2
    assert not any("progressive" in n for n in master.warnings)
    web = run_sync(SyncRequest(bff, dub, tmp_path / "web.mp4", SyncOptions(fmt=VideoFormat(codec="hevc"))))
    assert probe_video(web.output).field_order == "progressive"
    assert any("interlaced, bottom field first" in n and "progressive" in n for n in web.warnings)
    # Written progressive, its frames are the first fields' moments: where the clip combed, they do not.
    src, res = _woven_frames(bff), _woven_frames(web.output)
    combed = [k for k in range(min(len(src), len(res)))
              if field_mismatch(src[k]) > 1.5 * field_mismatch(unweave(src[k], "bff")) + 1]
    assert combed
    for k in combed:
        assert field_mismatch(res[k]) < 1.2 * field_mismatch(unweave(src[k], "bff")) + 0.5


def test_a_range_cut_from_an_interlaced_clip_is_its_frames_as_they_were(tff_clip, tmp_path):
    from lipsync_studio.app.range_export import cut_range

    cut_range(tff_clip, tmp_path / "cut.mov", 5, 25, VideoFormat(crf=0))
    assert probe_video(tmp_path / "cut.mov").field_order == "tff"
    src, cut = _planes(tff_clip)[5:25], _planes(tmp_path / "cut.mov")
    # The very fields, coded losslessly (x264's interlaced coding at CRF 0 gives its P-frames back within a level).
    assert len(cut) == 20 and max(np.abs(a.astype(int) - b).max() for a, b in zip(src, cut)) <= 1


def _planes(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray() for f in c.decode(video=0)]


def test_a_stereo_result_of_an_interlaced_clip_is_progressive_and_says_so(tmp_path):
    from lipsync_studio.media.picture import PictureFormat
    from lipsync_studio.media.warnings import collecting_media_warnings
    from lipsync_studio.stereo.writer import StereoWriter

    eye = np.full((64, 96, 3), 90, np.uint8)
    with collecting_media_warnings() as notes:
        with StereoWriter(tmp_path / "sbs.mp4", Fraction(25), 96, 64, picture=PictureFormat(field_order="bff",
                                                                                         timecode="10:00:00:00")) as w:
            for _ in range(3):
                w.write(eye, eye)
    info = probe_video(tmp_path / "sbs.mp4")
    assert info.field_order == "progressive" and info.timecode == "10:00:00:00"
    assert any("interlaced, bottom field first" in n and "progressive" in n for n in notes)


def test_a_box_redrawn_in_an_interlaced_frame_is_written_field_by_field_and_nothing_around_it_changes(tmp_path):
    """The writer converts a redrawn box in rows of four (each field's chroma rows alternate): the canvas an engine
    draws on is valid that far (media.video.converted_box), and every pixel outside the box stays as decoded."""
    from lipsync_studio.media.picture import PictureFormat
    from lipsync_studio.media.video import DecodedFrame, PartialRGB, converted_box
    from lipsync_studio.media.writer import VideoWriter, rgb_to_i420

    y, x = np.mgrid[:64, :96]
    a = np.dstack([(2 * x) % 256, (3 * y) % 256, np.full_like(x, 90)]).astype(np.uint8)
    b = np.roll(a, 5, axis=1)
    decoded = DecodedFrame(rgb_to_i420(weave(a, b, "tff"), fields=True), fields="tff")
    box = (30, 23, 62, 41)  # rows not in fours
    canvas = np.full((64, 96, 3), 255, np.uint8).view(PartialRGB)  # undefined outside what it holds
    x0, y0, x1, y1 = converted_box(box, 96, 64)
    canvas[y0:y1, x0:x1] = decoded.rgb[y0:y1, x0:x1]
    canvas[box[1]:box[3], box[0]:box[2]] = (200, 40, 40)
    with VideoWriter(tmp_path / "i.mov", Fraction(25), 96, 64, fmt=VideoFormat(crf=0),
                     picture=PictureFormat(field_order="tff")) as w:
        w.write(canvas, base=decoded, box=box)
    import av

    with av.open(str(tmp_path / "i.mov")) as c:
        got = next(c.decode(video=0)).to_ndarray()
    luma, want = got[:64].astype(int), decoded.planes[:64].astype(int)
    inside = np.zeros((64, 96), bool)
    inside[20:44, 30:62] = True  # the box, in rows of four
    assert np.abs(luma - want)[~inside].max() <= 1
    # The rows converted beside the drawn box hold the frame's own pixels (an RGB round trip: within a few levels).
    beside = np.abs(luma - want)[np.r_[20:23, 41:44]][:, 30:62]
    assert beside.max() <= 4
    assert (np.abs(luma - want)[23:41, 30:62] > 20).any()  # the drawn box is there
