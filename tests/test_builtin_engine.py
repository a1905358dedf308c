"""The built-in lip-sync engine on synthetic talking clips: sync, onsets, silence, identity, memory."""

from __future__ import annotations

import copy
from fractions import Fraction

import numpy as np
import pytest

from lipsync_studio.engine.sync_job import SyncOptions, SyncRequest, run_sync
from lipsync_studio.face.analysis import analyse_faces
from lipsync_studio.media.audio_writer import write_audio
from lipsync_studio.media.timeline import plan_output
from lipsync_studio.media.video import VideoReader
from lipsync_studio.media.writer import VideoFormat, VideoWriter
from lipsync_studio.metrics.sync import evaluate_video
from lipsync_studio.samples import PHOTO_OPENING, random_syllables, render_face, synth_speech, talking_clip
from lipsync_studio.sync.builtin.engine import BuiltinEngine

FPS = 25


def _write_clip(path, frames, sound=None, seconds=None):
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with VideoWriter(path, Fraction(FPS), w, h, fmt=VideoFormat(preset="veryfast", crf=14), audio=sound,
                     audio_seconds=seconds) as vw:
        for f in frames:
            vw.write(f)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A talking clip with its own speech, and a dub in another voice with another rhythm."""
    folder = tmp_path_factory.mktemp("engine")
    own = synth_speech(random_syllables(12, 11), seed=11, f0=110.0)
    sound = write_audio(folder / "own.wav", own.audio, own.sr)
    frames, n = talking_clip(own, fps=FPS, size=320, seed=11)
    clip = _write_clip(folder / "clip.mp4", frames, sound, n / FPS)
    dub_speech = synth_speech(random_syllables(10, 4), seed=4, f0=200.0, rate=3.2, pause_every=4,
                              pause=0.4, lead_silence=0.6)
    dub = write_audio(folder / "dub.wav", dub_speech.audio, dub_speech.sr)
    return {"clip": clip, "dub": dub, "dub_speech": dub_speech, "folder": folder}


def test_synced_output_follows_the_dub_as_well_as_the_clip_follows_its_own_sound(media, tmp_path):
    own_score = evaluate_video(media["clip"])
    result = run_sync(SyncRequest(media["clip"], media["dub"], tmp_path / "synced.mp4",
                                  SyncOptions(engine="builtin")))
    assert result.engine == "builtin" and result.sync is not None
    assert result.changed_frames > result.frames // 2 and not result.unchanged
    # The clip's mouth leads its own sound by about a frame (samples.talking_clip): measured, the dub is timed so.
    assert result.engine_info["lead_measured"] and 0 <= result.engine_info["lead_ms"] <= 80, result.engine_info
    synced = result.sync
    plain = evaluate_video(run_sync(SyncRequest(media["clip"], media["dub"], tmp_path / "plain.mp4",
                                    SyncOptions(engine="none"))).output)
    assert abs(synced.offset_frames) <= 2
    # This clip's mouth is a pure loudness pump; the dub's mouth opens by its vowels too (F1) as real jaws do, so
    # it follows the loudness a little less (0.72-0.76 of the clip's own 0.89) and the phones as well.
    assert synced.confidence >= 0.75 * own_score.confidence
    assert synced.phonetic.score >= own_score.phonetic.score, (synced.phonetic, own_score.phonetic)
    assert synced.correlation > plain.correlation + 0.2, (synced, plain)


def test_a_dub_offset_moves_the_mouth_by_the_time_asked(media, tmp_path):
    """The mouth follows the shifted dub: measured against the dub as given, its offset moves by the shift
    (200 ms = 5 frames later: the sound now comes 5 frames earlier relative to the mouth), and the result
    is 5 frames longer (the dub starts with that much silence)."""
    opts = SyncOptions(engine="builtin", measure=False)
    plain = run_sync(SyncRequest(media["clip"], media["dub"], tmp_path / "plain.mp4", opts))
    later = run_sync(SyncRequest(media["clip"], media["dub"], tmp_path / "later.mp4", opts, dub_offset_ms=200))
    assert later.dub_offset_ms == 200 and later.frames == plain.frames + 5
    before = evaluate_video(plain.output, media["dub"])
    after = evaluate_video(later.output, media["dub"])
    assert after.offset_frames - before.offset_frames == -5, (before, after)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["later.mp4", "plain.mp4"]  # the shifted dub is gone


def test_the_mouth_opens_within_a_frame_of_each_syllable_and_rests_in_silence(media, tmp_path):
    """The talking clip synced to a dub with known syllable onsets."""
    speech = media["dub_speech"]
    out = run_sync(SyncRequest(media["clip"], media["dub"], tmp_path / "talks.mp4",
                   SyncOptions(engine="builtin", measure=False))).output
    gap = analyse_faces(out).speaker_track().mouth_gap()
    closed, opened = np.percentile(gap, 10), np.percentile(gap, 90)
    assert opened - closed > 0.08  # it does open
    rises = []
    for onset in speech.onsets:
        # Opening: within a frame of the onset the lips stand visibly further apart (≥ 0.02 eye
        # distances, about 2 mm) than in the closure just before it.
        f = int(round(onset * FPS))
        rises.append(gap[max(0, f - 1): f + 2].max() - gap[max(0, f - 4): f].min())
    # Phonetic planning: a close vowel after a sibilant ("nu si") barely moves the jaw, as in real speech, so
    # not every syllable opens that far; the clear majority does.
    opened_at = np.array(rises) > 0.02
    assert opened_at.mean() >= 0.8, [f"{o:.2f} s: {r:.3f}" for o, r in zip(speech.onsets, rises)]
    # The lead silence (0.6 s): the mouth stays shut and still.
    lead = gap[: int(0.5 * FPS)]
    assert lead.max() < closed + 0.3 * (opened - closed) and lead.std() < 0.01


def test_a_surround_dubs_result_is_measured_against_its_dialogue_not_its_stereo_preview(media, tmp_path):
    """A film's 5.1 dub, its dialogue in the centre under a score: the sync hears the centre, but an AAC result
    carries the dub mixed to stereo, and the measure printed after the sync heard that mix (a real 5.1 dub: 13
    p/b/m scored instead of its 2, no silence left to score the lips' stillness in). It is measured against the
    dialogue, as ``eval --dub`` measures it."""
    from lipsync_studio.media.audio import load_audio, probe_audio

    sr = 16000
    speech = load_audio(media["dub"], sr)
    t = np.arange(len(speech)) / sr
    score = (0.25 * (np.sin(2 * np.pi * 196 * t) + np.sin(2 * np.pi * 247 * t)) *
             (0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t))).astype(np.float32)  # a chord swelling under it
    z = np.zeros_like(speech)
    dub = write_audio(tmp_path / "dub51.wav", np.stack([score, score, speech, z, score, score]), sr,
                           layout="5.1")
    result = run_sync(SyncRequest(media["clip"], dub, tmp_path / "film.mp4", SyncOptions(engine="builtin")))
    assert probe_audio(result.output).channels == 2  # the preview's sound: the mix in stereo
    dialogue, preview = evaluate_video(result.output, dub), evaluate_video(result.output)
    assert (result.sync.confidence, result.sync.phonetic) == (dialogue.confidence, dialogue.phonetic)
    assert (preview.confidence, preview.phonetic) != (dialogue.confidence, dialogue.phonetic)


@pytest.mark.parametrize("opening, light", [(PHOTO_OPENING, 1.0), (0.0, 1.0), (0.0, 0.4)],
                         ids=["parted", "shut", "dim"])
def test_a_still_photo_gets_an_open_mouth_with_a_dark_interior(media, tmp_path, opening, light):
    """A photo, lips parted or shut (most portraits), opened by the dub: teeth under the upper lip, a dark cavity
    below. (Shut, the upper lip's middle went down with the jaw: a white V of drawn teeth hung from it.) In a dim
    photo the teeth are in its light: they glowed in the stock ivory of a lit face."""
    from lipsync_studio.media.colourspace import srgb_to_linear
    from lipsync_studio.sync.builtin.interior import TEETH_OVER_SKIN

    photo = np.clip(render_face(opening, size=320).astype(np.float32) * light, 0, 255).astype(np.uint8)
    speech = media["dub_speech"]
    clip = _write_clip(tmp_path / "photo.mp4", [photo] * int(np.ceil(speech.duration * FPS)))
    out = run_sync(SyncRequest(clip, media["dub"], tmp_path / "photo_talks.mp4",
                               SyncOptions(engine="builtin", measure=False)))
    track = analyse_faces(out.output).speaker_track()
    gap = track.mouth_gap()
    k = int(np.nanargmax(gap))
    assert gap[k] > np.nanpercentile(gap, 10) + 0.05
    with VideoReader(out.output) as r:
        img = r.frame(k)
    lm = track.landmarks[k]
    inside = img[int(lm[13, 1]) + 3:int(lm[14, 1]) - 2, int(lm[13, 0]) - 3:int(lm[13, 0]) + 4].astype(float)
    third = len(inside) // 3
    assert third >= 2
    # A mouth, not stretched skin: teeth under the upper lip, a dark cavity below them.
    assert inside[third:].mean() < 90 and inside[:third].mean() > inside[third:].mean() + 40 * light
    if opening == 0.0:  # drawn teeth (a parted photo's are its own): no lighter against the skin's red on the chin
        # (linear light) than real teeth are (a little over: the chin is darker than the cheeks beside the lips)
        x, y = np.round(lm[200, :2]).astype(int)
        chin = np.median(img[y - 4:y + 4, x - 4:x + 4, 0]) / 255.0
        teeth = np.percentile(inside[:third].reshape(-1, 3), 90, axis=0) / 255.0
        teeth_luma = float(srgb_to_linear(teeth) @ [0.2126, 0.7152, 0.0722])
        assert teeth_luma < 1.3 * TEETH_OVER_SKIN * float(srgb_to_linear(chin)), (teeth * 255, chin * 255)


def test_a_transparent_photo_speaks_and_stays_transparent_where_the_codec_holds_it(media, tmp_path):
    """A portrait cut out of its background (a PNG with alpha, as avatar makers use): its transparency was dropped
    and the background came out black. ProRes 4444 (.mov) and VP9 (.webm) keep it, the mouth moving inside the
    opaque face; H.264 cannot, and the user is told what shows there and what keeps it."""
    import av
    import cv2

    face = render_face(0.0, size=320)
    alpha = np.zeros(face.shape[:2], np.uint8)
    cv2.ellipse(alpha, (160, 175), (110, 150), 0, 0, 360, 255, -1)
    photo = tmp_path / "cutout.png"
    cv2.imwrite(str(photo), np.dstack([face[..., ::-1] * (alpha[..., None] > 0), alpha]))
    out = run_sync(SyncRequest(photo, media["dub"], tmp_path / "talks.mov",
                               SyncOptions(engine="builtin", measure=False, fmt=VideoFormat(codec="prores"))))
    assert out.changed_frames > 0 and not any("transparen" in w for w in out.warnings), out.warnings
    with av.open(str(out.output)) as c:
        for k, frame in enumerate(c.decode(video=0)):
            if k == out.frames // 2:
                rgba = frame.to_ndarray(format="rgba")
                break
    assert np.abs(rgba[..., 3].astype(int) - alpha).max() <= 1  # the photo's alpha (its edge lies clear of the face)
    preview = run_sync(SyncRequest(photo, media["dub"], tmp_path / "talks.mp4",
                                   SyncOptions(engine="none", measure=False)))
    assert any("transparent" in w and "black here" in w and "--codec prores" in w and ".webm" in w
               for w in preview.warnings), preview.warnings


def test_a_keyed_videos_alpha_comes_through_frame_by_frame(media, tmp_path):
    """A talking head keyed out of its background (ProRes 4444 with alpha, as compositing delivers it): the result
    came out without alpha and without a word. Each output frame carries its own source frame's alpha now (the
    matte moves with the subject), and an H.264 result says what it loses."""
    import av
    import cv2

    from lipsync_studio.media.audio import probe_audio

    with VideoReader(media["clip"]) as r:
        frames = [f for _, f in r.iter_frames()]
    h, w = frames[0].shape[:2]

    def matte(i: int) -> np.ndarray:  # a matte that moves a pixel a frame: each frame's is its own
        a = np.zeros((h, w), np.uint8)
        cv2.ellipse(a, (150 + i % 20, 165), (125, 160), 0, 0, 360, 255, -1)
        return a

    keyed = tmp_path / "keyed.mov"
    seconds = len(frames) / FPS
    with VideoWriter(keyed, Fraction(FPS), w, h, fmt=VideoFormat(codec="prores"), audio=media["clip"],
                     audio_seconds=seconds, alpha=matte(0)) as vw:
        for i, f in enumerate(frames):
            vw.write(f, alpha=matte(i))
    info = VideoReader(keyed).info
    assert info.transparent and info.n_frames == len(frames)
    out = run_sync(SyncRequest(keyed, media["dub"], tmp_path / "keyed_synced.mov",
                               SyncOptions(engine="builtin", measure=False, fmt=VideoFormat(codec="prores"))))
    assert out.changed_frames > 0 and not any("transparen" in x for x in out.warnings), out.warnings
    plan = plan_output(len(frames), Fraction(FPS), probe_audio(media["dub"]).duration_s)
    with av.open(str(out.output)) as c:
        for k, frame in enumerate(c.decode(video=0)):
            got = frame.to_ndarray(format="rgba")[..., 3].astype(int)
            want = matte(plan.source_index(k))
            assert np.abs(got[:120] - want[:120]).max() <= 1, k  # its own frame's matte (the face's top aside)
    plain = run_sync(SyncRequest(keyed, media["dub"], tmp_path / "keyed_synced.mp4",
                                 SyncOptions(engine="builtin", measure=False)))
    assert any("the clip is transparent" in x and "H.264 keeps no transparency" in x for x in plain.warnings)


def test_a_cut_out_photos_outline_follows_its_opened_jaw_without_showing_what_it_hid(media, tmp_path):
    """A portrait cut out tight under its chin (a sticker, a head-only avatar): its jaw, drawn lower for an open
    mouth, was cut off at the still chin (the photo's alpha on every frame: a squashed chin). The outline moves with
    the face now, and what the photo hid under its transparency (here pure blue) never shows along the new chin."""
    import av
    import cv2

    from lipsync_studio.sync.wav2lip.engine import FACE_OVAL

    face = render_face(0.0, size=320)
    still = tmp_path / "opaque.png"
    cv2.imwrite(str(still), face[..., ::-1])
    faces = analyse_faces(still)
    faces.choose_speaker(None)
    lm = faces.speaker_track().landmarks[0][:, :2]
    oval = lm[list(FACE_OVAL)]
    centre = oval.mean(0)
    alpha = np.zeros(face.shape[:2], np.uint8)
    cv2.fillPoly(alpha, [np.round(centre + (oval - centre) * 1.03).astype(np.int32)], 255)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 1.5)
    hidden = np.where(alpha[..., None] > 0, face, np.array([0, 0, 255], np.uint8))
    photo = tmp_path / "sticker.png"
    cv2.imwrite(str(photo), np.dstack([hidden[..., ::-1], alpha]))
    out = run_sync(SyncRequest(photo, media["dub"], tmp_path / "talks.mov",
                               SyncOptions(engine="builtin", measure=False, fmt=VideoFormat(codec="prores"))))
    with av.open(str(out.output)) as c:
        frames = [f.to_ndarray(format="rgba") for f in c.decode(video=0)]
    chin = int(round(lm[152, 1]))
    below = [int(((f[..., 3] > 128) & (alpha < 128))[chin:].sum()) for f in frames]
    assert max(below) > 150  # the opened chin shows below the still one (before: 0 in every frame)
    blue = [int(((f[..., 3] > 64) & (f[..., 2].astype(int) - np.maximum(f[..., 0], f[..., 1]) > 60)).sum())
            for f in frames]
    assert max(blue) == 0  # (15 pixels along the new chin before the colours were carried out under the alpha)
    top = int(centre[1]) - 40  # above the mouth's reach the photo's own alpha, exactly as it was
    assert max(int(np.abs(f[:top, :, 3].astype(int) - alpha[:top]).max()) for f in frames) <= 1


def test_a_still_photos_mouth_spreads_and_rounds_with_the_dubs_vowels_as_a_speakers_does(media, tmp_path):
    """A photo shows no range of mouth widths: it was given 0.05 of its width either way while opened a quarter of
    an eye distance, and what the measure read of its width was the opening's side effect (width~F2 no better than
    chance, rounding 0.62). It takes a typical speaker's range now; a clip that speaks keeps its own."""
    from lipsync_studio.sync.builtin.planner import TYPICAL_WIDTH_RANGE, width_range

    photo = tmp_path / "shut.mp4"
    _write_clip(photo, [render_face(0.0, size=320)])
    phonetic = run_sync(SyncRequest(photo, media["dub"], tmp_path / "talks.mp4",
                                    SyncOptions(engine="builtin"))).sync.phonetic
    assert phonetic.width_f2 > 0.2 and phonetic.rounding > 0.8, phonetic
    t = np.linspace(0, 6 * np.pi, 200)
    speaking = np.stack([0.08 + 0.07 * np.sin(t), 0.6 + 0.03 * np.cos(1.3 * t)], 1)
    assert width_range(speaking)[1] == pytest.approx(0.03, rel=0.05)  # its own
    assert width_range(speaking[:1])[1] == pytest.approx(TYPICAL_WIDTH_RANGE * 0.63)  # a still: a typical one


def test_a_still_photos_lower_lip_parts_in_an_arc_held_at_the_corners(media, tmp_path):
    """A photo has no open frame of its own: the jaw drop draws all of its opening. Dropped like the chin, the lower
    lip's last points beside the corners went down 80-87 % as far as its middle: an opening with steep sides, a
    box. Now in an arc; a clip that speaks (its own open frames shape its mouth) keeps the drop it had."""
    from lipsync_studio.sync.mouth import MouthSpace

    photo = _write_clip(tmp_path / "shut.mp4", [render_face(0.0, size=320)])
    for clip, still in ((photo, True), (media["clip"], False)):
        space = MouthSpace.from_track(analyse_faces(clip).speaker_track())
        assert space.still == still
        k = int(np.flatnonzero(space.present)[0])
        shape = space.normalized[k]
        drop = (space.open_shape(shape, 0.2) - shape)[:, 1] / space.eye_dist
        assert drop[14] == pytest.approx(0.2, abs=1e-3) and abs(drop[13]) < 1e-6  # the upper lip stays
        beside = drop[[95, 324]] / drop[14]  # the lower lip's last inner points before the corners
        assert (beside < 0.75).all() if still else (beside > 0.75).all(), beside


def test_a_phone_portrait_photo_is_synced_upright(media, tmp_path):
    """A phone stores a portrait photo on its side with an EXIF note to turn it: it was synced and written on its
    side. Now it is read, synced and written as a viewer shows it, its mouth moving."""
    from conftest import write_jpeg

    from lipsync_studio.face.analysis import store_faces
    from lipsync_studio.face.tracker import TrackerSettings
    from lipsync_studio.media.cache import cache_path

    upright = np.ascontiguousarray(render_face(PHOTO_OPENING, size=320)[:, 32:288])  # portrait: 256 x 320
    photo = write_jpeg(tmp_path / "portrait.jpg", np.rot90(upright, 1), orientation=6)  # stored turned left
    # Tracks an earlier version cached of it on its side (where the key did not say how the picture is turned)
    # are not taken: the mouth was drawn across the cheek.
    sideways = analyse_faces(write_jpeg(tmp_path / "stored.jpg", np.rot90(upright, 1)))
    store_faces(sideways, cache_path("faces", photo, f"{TrackerSettings().key()}|0:1"))
    lm = analyse_faces(photo).speaker_track().landmarks[0]
    assert lm[13, 1] - lm[[33, 263], 1].mean() > 40  # the mouth below the eyes: upright
    out = run_sync(SyncRequest(photo, media["dub"], tmp_path / "portrait.mp4",
                               SyncOptions(engine="builtin", measure=False)))
    assert out.changed_frames > out.frames // 3
    with VideoReader(out.output) as r:
        assert (r.info.width, r.info.height) == (256, 320)
        frame = r.frame(0)
    assert np.abs(frame[:120].astype(int) - upright[:120]).mean() < 4  # the eyes and brow as they are: upright


def test_pixels_outside_the_lower_face_are_untouched_and_the_bank_is_bounded(media):
    faces = analyse_faces(media["clip"])
    with VideoReader(media["clip"]) as r:
        plan = plan_output(r.info.n_frames, r.info.fps, 3.0)
        engine = BuiltinEngine(bank_bytes=4 << 20)
        engine.prepare(media["clip"], media["dub"], faces, plan)
        assert engine.bank_nbytes <= 4 << 20
        space = engine.space
        changed_any = False
        for k in range(0, plan.n_out, 7):
            j = plan.source_index(k)
            src = r.frame(j)
            out = engine.render(k, j, src)
            diff = np.any(out != src, axis=2)
            changed_any |= bool(diff.any())
            # Everything changed lies inside the lower-face region (with its margin) of this frame.
            from lipsync_studio.sync.mouth import apply

            region = apply(space.pose[j], space.region_points(space.normalized[j]))
            lo, hi = region.min(0) - 0.3 * space.eye_dist, region.max(0) + 0.3 * space.eye_dist
            ys, xs = np.nonzero(diff)
            assert ((xs >= lo[0]) & (xs <= hi[0]) & (ys >= lo[1]) & (ys <= hi[1])).all()
            # PSNR outside the lower face: identical pixels (infinite), well above 45 dB.
            outside = np.ones(diff.shape, bool)
            outside[int(max(lo[1], 0)):int(hi[1]), int(max(lo[0], 0)):int(hi[0])] = False
            assert np.array_equal(out[outside], src[outside])
        assert changed_any


def test_the_donor_bank_comes_from_the_tracking_pass_identical_to_reading_the_clip_again(media):
    """The lower faces kept while tracking replace a second decoding pass, pixel for pixel; a budget too small
    for them (or tracks from the cache) falls back to reading the clip."""
    keeper = BuiltinEngine()
    faces = analyse_faces(media["clip"], use_cache=False, keep=keeper.frame_observer())
    assert len(keeper.crops) == int(faces.speaker_track().present.sum())
    with VideoReader(media["clip"]) as r:
        plan = plan_output(r.info.n_frames, r.info.fps, 3.0)
    keeper.prepare(media["clip"], media["dub"], faces, plan)
    reader = BuiltinEngine()
    reader.prepare(media["clip"], media["dub"], faces, plan)
    assert keeper.info["donors_from_tracking"] == keeper.info["donors_used"] > 0
    assert reader.info["donors_from_tracking"] == 0
    assert _same_bank(keeper.bank, reader.bank)
    assert keeper.crops is None  # the crops' memory is freed once the bank is full
    # Every tracked mouth's sharpness was measured on the same pass; tracks from the cache bring theirs along.
    assert keeper.info["detail_measured"] == int(faces.speaker_track().present.sum())
    assert np.array_equal(keeper.detail, reader.detail) and np.array_equal(keeper.donors, reader.donors)

    small = BuiltinEngine()
    keep = small.frame_observer()
    small.crops.max_bytes = sum(keeper_crop_sizes(media)[:3])  # room for three frames only
    analyse_faces(media["clip"], use_cache=False, keep=keep)
    assert 1 <= len(small.crops) <= 3 and small.crops.full
    small.prepare(media["clip"], media["dub"], faces, plan)
    assert 0 <= small.info["donors_from_tracking"] <= 3
    assert _same_bank(small.bank, reader.bank)


def test_a_clip_beyond_the_banks_memory_lends_what_the_tracking_pass_kept_and_plans_alike_from_the_cache(media):
    """Lower faces that outgrow the bank's memory: the tracking pass keeps runs spread over the whole clip and
    around its extreme mouths, every donor comes from them (before, the first frames filled the memory and every
    later donor was decoded again: 3.1 s of a 60 s 1080p sync's 4.1 s planning), and a sync whose tracks (and
    measures) come from the cache plans with the same donors and the same bank, read from the clip instead."""
    sizes = keeper_crop_sizes(media)
    budget = sum(sizes) // 4
    keeper = BuiltinEngine(bank_bytes=budget)
    faces = analyse_faces(media["clip"], use_cache=False, keep=keeper.frame_observer())
    n = len(faces.speaker_track().present)
    assert keeper.crops.full and keeper.crops.bytes <= budget
    kept = keeper.crops.policy.frames()
    assert kept.min() < n // 4 and kept.max() >= 3 * n // 4  # spread over the clip, not its first quarter
    with VideoReader(media["clip"]) as r:
        plan = plan_output(r.info.n_frames, r.info.fps, 3.0)
    keeper.prepare(media["clip"], media["dub"], faces, plan)
    assert keeper.info["bank_frames"] == len(kept)
    assert keeper.info["donors_from_tracking"] == keeper.info["donors_used"] > 0
    # Tracks from the cache: the crops kept by reading the clip again (the measures too), then, with the measures
    # in the cache as well, none kept at all: each plans as the tracking pass did.
    for _ in range(2):
        reader = BuiltinEngine(bank_bytes=budget)
        reader.prepare(media["clip"], media["dub"], faces, plan)
        assert np.array_equal(reader.donors, keeper.donors)
        assert _same_bank(reader.bank, keeper.bank)
    assert reader.info["donors_from_tracking"] == 0
    # Memory for not one lower face: a few donors, read from the clip.
    tiny = BuiltinEngine(bank_bytes=min(sizes) // 2)
    tiny.prepare(media["clip"], media["dub"], faces, plan)
    assert tiny.info["donors_used"] > 0 and tiny.info["donors_from_tracking"] == 0


def test_the_keeper_spreads_its_runs_and_keeps_the_extreme_mouths_within_its_memory():
    """Frame by frame as a clip is read: never more than the budget; whole runs of frames spread evenly over the
    clip; the runs with the most open mouth (a laugh near the end) and the most shut one (off the spread) kept."""
    from lipsync_studio.sync.builtin.crops import RUN, KeepPolicy

    rng = np.random.default_rng(0)
    n, size = 1800, 1000
    opening = np.abs(np.sin(np.arange(n) / 7.0)) * 0.3 + rng.normal(0.0, 0.01, n)
    opening[1501], opening[907] = 0.9, -0.1
    policy = KeepPolicy(300 * size)
    dropped = set()
    for t in range(n):
        dropped.update(policy.add(t, size, float(opening[t])))
        assert policy.bytes <= policy.max_bytes
        assert not dropped & set(policy.frames().tolist())  # a frame dropped never comes back
    kept = policy.frames()
    assert len(kept) + len(dropped) == n
    runs, counts = np.unique(kept // RUN, return_counts=True)
    assert (counts == RUN).all()  # whole runs
    assert 1501 in kept and 907 in kept
    spread = runs[runs % policy.stride == 0]
    assert np.diff(spread).max() == policy.stride and spread[-1] >= n // RUN - policy.stride
    assert len(kept) * size >= policy.max_bytes // 2  # the budget is used, not wasted


def _same_bank(a, b):
    """Two donor banks hold the same frames with the same pixels at the same places."""
    return a.keys() == b.keys() and all(a[t][1:] == b[t][1:] and np.array_equal(a[t][0], b[t][0]) for t in a)


def keeper_crop_sizes(media):
    """Bytes of each lower-face crop the tracker keeps for the test clip."""
    from lipsync_studio.sync.builtin.crops import FaceCrops

    crops = FaceCrops()
    analyse_faces(media["clip"], use_cache=False, keep=crops.keep)
    return [c.nbytes for v in crops._crops.values() for (_, _, _, c) in v]


def test_the_lower_face_mesh_is_the_delaunay_triangulation(media):
    """OpenCV's triangulation (scipy.spatial costs 0.6 s to import) gives qhull's triangles, hull included."""
    from scipy.spatial import Delaunay

    from lipsync_studio.sync.mouth import MouthSpace

    space = MouthSpace.from_track(analyse_faces(media["clip"]).speaker_track())
    rng = np.random.default_rng(5)
    cases = [space.region_points(space.reference)] + [rng.random((int(rng.integers(10, 150)), 2)) * s
                                                      for s in rng.uniform(1, 2000, 40)]
    for pts in cases:
        ours = {tuple(sorted(t)) for t in MouthSpace._delaunay(pts)}
        theirs = {tuple(sorted(t)) for t in Delaunay(pts).simplices}
        assert ours == theirs


def test_a_wider_mouth_is_drawn_the_way_the_speaker_spreads_and_is_as_wide_as_asked(media):
    """A speaker whose corners rise and whose cheeks move as the mouth widens (a pattern made here, on a real
    tracked face, beside random openings and head turns): the shape asked to be wider follows that pattern, not
    only its corners, and is as much wider as asked; a clip whose width never changes gets the corners moved."""
    from lipsync_studio.face.smoothing import RIGID_POINTS
    from lipsync_studio.face.track import LIPS_OUTER, FaceTrack
    from lipsync_studio.sync.mouth import CORNERS, MouthSpace

    real = analyse_faces(media["clip"]).speaker_track()
    base = real.landmarks[int(np.nanargmin(real.mouth_gap()))].astype(np.float64)
    eye = float(np.linalg.norm(base[33, :2] - base[263, :2]))
    centre = base[list(LIPS_OUTER), :2].mean(0)
    # The speaker's own spread, per eye distance of width: corners out and up, cheeks beside them out a little.
    pattern = np.zeros((len(base), 2))
    rel = base[:, :2] - centre
    near = np.exp(-np.sum(rel ** 2, 1) / (0.6 * eye) ** 2)
    pattern[:, 0] = 0.5 * eye * np.sign(rel[:, 0]) * near
    pattern[:, 1] = -0.3 * eye * near
    pattern[list(RIGID_POINTS)] = 0.0  # the skull's points (eyes, nose) stay: they set each frame's pose
    rng = np.random.default_rng(3)
    frames = []
    for _ in range(60):
        f = base.copy()
        f[:, :2] += rng.normal(0, 0.05) * pattern  # width
        f[:, :2] += rng.normal(0, 0.2) * np.where(rel[:, [1]] > 0, [0.0, 0.15 * eye], 0.0)  # jaw opening
        f[:, 0] += rng.normal(0, 0.01) * eye * (f[:, 2] - f[:, 2].mean()) / eye  # a small turn
        frames.append(f)
    frames = np.stack(frames).astype(np.float32)
    space = MouthSpace.from_track(FaceTrack(0, frames, frames.copy(), np.ones(len(frames), bool)))
    assert space.spread is not None
    shape = space.normalized[0]
    wider = space.open_shape(shape, 0.0, 0.05)
    assert space.width(wider) - space.width(shape) == pytest.approx(0.05, rel=0.15)
    moved = (wider - shape)[space.region]
    # What the pattern does per eye distance of width, in the reference's scale.
    span = base[CORNERS[1], :2] - base[CORNERS[0], :2]
    per_unit = (np.linalg.norm(span + pattern[CORNERS[1]] - pattern[CORNERS[0]]) - np.linalg.norm(span)) / eye
    want = pattern[space.region] / per_unit * 0.05 * (space.eye_dist / eye)
    # the corners rise as the pattern says (pulling the corners alone moves them sideways only)
    corners = [list(space.region).index(c) for c in CORNERS]
    assert moved[corners, 1] == pytest.approx(want[corners, 1], rel=0.3)
    # and the points around the mouth move along the pattern, as far
    big = np.linalg.norm(want, axis=1) > 0.3 * np.linalg.norm(want, axis=1).max()
    cos = np.sum(moved[big] * want[big]) / (np.linalg.norm(moved[big]) * np.linalg.norm(want[big]))
    assert cos > 0.9
    assert np.linalg.norm(moved[big]) == pytest.approx(np.linalg.norm(want[big]), rel=0.25)
    # A clip whose mouth never changes its width shows no pattern: its corners are moved.
    still = np.stack([base] * 40).astype(np.float32)
    flat = MouthSpace.from_track(FaceTrack(0, still, still.copy(), np.ones(40, bool)))
    assert flat.spread is None
    s0 = flat.normalized[0]
    assert flat.width(flat.open_shape(s0, 0.0, 0.05)) - flat.width(s0) == pytest.approx(0.05, rel=0.15)


def test_a_triangle_the_warp_turns_over_draws_nothing_from_across_the_fold():
    """A donor's head turned far from the frame's folds its far cheek's outline over the face when put in the
    frame's turn; what lies beyond that outline in the donor (hair, background) must not be drawn into the face."""
    from lipsync_studio.sync.builtin.render import piecewise_warp

    src = np.zeros((120, 120, 3), np.uint8)
    src[:] = (200, 150, 130)  # skin
    yy, xx = np.mgrid[0:120, 0:120]
    src[xx + yy > 100] = (30, 20, 15)  # beyond the outline (the diagonal): dark hair
    pts = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0]])
    tris = np.array([[0, 1, 2], [1, 3, 2]])
    folded = pts.copy()
    folded[3] = (30.0, 30.0)  # the hair's far corner lands inside the face: its triangle turns over
    warped, cover = piecewise_warp(src, pts, folded, tris, (0, 0, 101, 101))
    face = (xx[:101, :101] + yy[:101, :101] < 95)
    assert cover[face].mean() > 0.99  # the face's own triangle is drawn
    drawn = warped[face & cover]
    assert drawn.min() > 100, "the folded triangle's hair was drawn over the face"
    # Unfolded, the same hair triangle is drawn where it belongs.
    warped, cover = piecewise_warp(src, pts, pts, tris, (0, 0, 101, 101))
    assert cover[(xx[:101, :101] + yy[:101, :101] > 110)].all()


def test_the_piecewise_warp_places_every_pixel_where_its_triangle_says():
    """A pure shift through the triangle mesh moves every pixel by exactly that shift (the coarse map is
    interpolated aligned to the pixels it was computed at: no stretch toward the region's edges)."""
    import cv2

    from lipsync_studio.sync.builtin.render import piecewise_warp
    from lipsync_studio.sync.mouth import MouthSpace

    rng = np.random.default_rng(2)
    src = cv2.GaussianBlur((rng.random((160, 200, 3)) * 255).astype(np.uint8), (0, 0), 2)
    dst_pts = np.array([[20, 20], [180, 20], [180, 140], [20, 140], [100, 80], [60, 50], [140, 110]], float)
    shift = np.array([3.5, -2.25])
    warped, cover = piecewise_warp(src, dst_pts + shift, dst_pts, MouthSpace._delaunay(dst_pts), (0, 0, 200, 160))
    m = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    want = cv2.warpAffine(src, m, (200, 160), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
    inner = cv2.erode(cover.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert inner.sum() > 10000
    assert np.abs(warped[inner].astype(int) - want[inner]).max() <= 2


@pytest.mark.parametrize("exact", [None, (14, 10, 46, 50)])
def test_the_piecewise_warp_maps_every_pixel_through_its_own_triangle_however_small(exact):
    """Where neighbouring triangles' maps differ sharply (a small face's lip corners: triangles a few pixels
    across, each reading a different part of the donor), each pixel where the warp is asked exact (the whole box,
    or a part: the engine's lips) still reads the donor where its own triangle's affine map says. (Interpolated
    from a map computed every 4 pixels, a 160 px head got dark dots beside its mouth corners and torn teeth:
    pixels read 3-6 px off their place.)"""
    import cv2

    from lipsync_studio.sync.builtin.render import piecewise_warp
    from lipsync_studio.sync.mouth import MouthSpace

    rng = np.random.default_rng(5)
    src = cv2.GaussianBlur((rng.random((90, 90, 3)) * 255).astype(np.uint8), (0, 0), 1.2)  # detail a few px wide
    g = np.linspace(5.0, 55.0, 6)
    dst_pts = np.array([(x, y) for y in g for x in g]) + rng.uniform(-1.5, 1.5, (36, 2))
    src_pts = dst_pts * 1.3 + rng.uniform(-3.0, 3.0, (36, 2))  # each triangle its own stretch and shift
    tris = MouthSpace._delaunay(dst_pts)
    warped, cover = piecewise_warp(src, src_pts, dst_pts, tris, (0, 0, 60, 60), exact=exact)
    ex0, ey0, ex1, ey1 = exact or (0, 0, 60, 60)
    asked = np.zeros((60, 60), bool)
    asked[ey0:ey1, ex0:ex1] = True
    checked = 0
    for t in tris:
        inside = np.zeros((60, 60), np.uint8)
        cv2.fillConvexPoly(inside, np.round(dst_pts[t] * 16).astype(np.int32), 1, cv2.LINE_8, shift=4)
        inside = cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool) & asked  # clear of the edges
        if not inside.any():
            continue
        m = cv2.getAffineTransform(dst_pts[t].astype(np.float32), src_pts[t].astype(np.float32))
        yy, xx = np.nonzero(inside)
        mx = (m[0, 0] * xx + m[0, 1] * yy + m[0, 2]).astype(np.float32)
        my = (m[1, 0] * xx + m[1, 1] * yy + m[1, 2]).astype(np.float32)
        want = cv2.remap(src, mx[None], my[None], cv2.INTER_CUBIC)[0]
        assert cover[inside].all()
        assert np.abs(warped[yy, xx].astype(int) - want).max() <= 2, f"triangle {t.tolist()} read off its place"
        checked += len(yy)
    assert checked > (1000 if exact is None else 600)


def _drawn_mouth(gap: float, cx: float = 100.0, cy: float = 60.0, half: float = 60.0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """An inner-lip contour (20, 2) in FaceMesh's order, lens-shaped, ``gap`` px open at its middle, and its upper
    lip left to right (11, 2)."""
    a = np.linspace(np.pi, 0.0, 11)
    upper = np.stack([cx + half * np.cos(a), cy - 0.5 * gap * np.sin(a)], 1)
    lower = np.stack([cx + half * np.cos(a[1:-1])[::-1], cy + 0.5 * gap * np.sin(a[1:-1])[::-1]], 1)
    return np.vstack([upper, lower]), upper


def test_a_painted_interior_shows_separate_teeth_on_an_arch_over_a_dark_cavity():
    """A clip that never opens its mouth (a still photo) gets a drawn interior: upper teeth, white in the middle,
    separate (dark seams between them), shorter toward the corners as the arch turns away, over a dark cavity.
    (The drawing it replaces was a band of one height shaded white to grey: a chrome bar, not teeth.)"""
    from lipsync_studio.sync.builtin.render import paint_interior

    img = np.full((120, 200, 3), (196, 150, 132), np.uint8)  # skin
    cx, cy, half, gap = 100.0, 60.0, 60.0, 32.0
    inner, upper = _drawn_mouth(gap)
    paint_interior(img, inner, upper, gap)
    luma = img.astype(float) @ [0.299, 0.587, 0.114]

    def teeth_height(x: int) -> int:
        """Rows of teeth (lighter than the cavity by far) going down from the upper lip's inner edge at column x."""
        y = int(np.ceil(np.interp(x, upper[:, 0], upper[:, 1]))) + 1
        n = 0
        while luma[y + n, x] > 80:
            n += 1
        return n

    top_mid = int(np.ceil(cy - 0.5 * gap)) + 1
    incisor = int(cx + 0.18 * half)  # the middle of a central incisor (the mouth's middle is the seam between two)
    centre = teeth_height(incisor)
    assert centre >= 6 and luma[top_mid + centre // 2, incisor - 3:incisor + 4].max() > 180  # white teeth
    assert luma[int(cy) + 4, int(cx) - 10:int(cx) + 10].mean() < 90  # a dark cavity below them
    for side in (-1, 1):  # the arch: teeth toward the corners show less of their height
        assert teeth_height(int(cx + side * 0.8 * half)) < 0.9 * centre
    # The biting edge: from tooth to cavity within two rows (a band shaded soft read as metal, not enamel).
    column = luma[top_mid:top_mid + centre + 4, incisor]
    fall = np.flatnonzero(column < 60)[0] - np.flatnonzero(column > 180)[-1]
    assert fall <= 2
    # Fine dark seams between the teeth across the middle of the mouth.
    row = luma[top_mid + centre // 2, int(cx - 0.5 * half):int(cx + 0.5 * half)]
    peaks = np.array([row[max(i - 2, 0):i + 3].max() for i in range(len(row))])
    dips = (peaks - row > 30) & (row == np.array([row[max(i - 2, 0):i + 3].min() for i in range(len(row))]))
    assert dips.sum() >= 3, "no separate teeth"


def test_a_painted_interior_is_dark_into_the_mouths_corners():
    """A drawn interior ends at the inner lips' corners in a wedge whose last pixels it covers only partly: a shut
    photo's lips, stretched open there, showed through as a light stroke at the corner. It reaches a little past."""
    from lipsync_studio.sync.builtin.render import paint_interior

    img = np.full((120, 200, 3), (190, 120, 120), np.uint8)  # lip-coloured around the corners
    inner, upper = _drawn_mouth(24.0)  # corners at x = 40 and 160, y = 60
    paint_interior(img, inner, upper, 24.0)
    luma = img.astype(float) @ [0.299, 0.587, 0.114]
    assert luma[60, 39:42].max() < 90 and luma[60, 159:162].max() < 90, (luma[60, 36:44], luma[60, 156:164])
    assert luma[60, 30] > 140 and luma[60, 170] > 140  # and not much further


def test_a_painted_interior_takes_the_colours_of_the_clips_own_open_mouth():
    """Where a clip's own interior can stretch no further (a photo with lips parted on its teeth) the drawn one
    takes over: with the clip's teeth and cavity colours, not a stock ivory and red-brown (a photo's black cavity
    turned red-brown from one frame to the next)."""
    from lipsync_studio.sync.builtin.interior import own_interior
    from lipsync_studio.sync.builtin.render import paint_interior

    cx, cy, half = 100.0, 60.0, 60.0
    mouth = _drawn_mouth

    # The clip's own mouth, parted by 14 px: a black cavity, grey-white lower teeth above the lower lip.
    own = np.full((120, 200, 3), (196, 150, 132), np.uint8)
    inner, _ = mouth(14.0)
    import cv2
    cv2.fillPoly(own, [np.round(inner).astype(np.int32)], (14, 10, 11))
    own[61:66, 75:125] = (188, 186, 178)
    mine = own_interior(own, inner)
    teeth, cavity = mine.teeth, mine.cavity
    assert np.abs(teeth - (188, 186, 178)).max() < 6 and np.abs(cavity - (14, 10, 11)).max() < 6
    assert own_interior(np.full_like(own, 40), inner).teeth is None  # no teeth shown
    none = own_interior(np.full_like(own, 150), inner)  # lips barely parted: no cavity
    assert none.teeth is None and none.cavity is None

    inner, upper = mouth(34.0)
    stock, matched = np.full_like(own, (196, 150, 132)), np.full_like(own, (196, 150, 132))
    paint_interior(stock, inner, upper, 34.0)
    paint_interior(matched, inner, upper, 34.0, colours=(teeth, cavity))
    deep = (slice(int(cy) - 4, int(cy) + 2), slice(int(cx) - 20, int(cx) + 20))  # below the teeth, above the tongue
    assert np.abs(matched[deep].reshape(-1, 3).mean(0) - cavity).max() < 15
    assert matched[deep].mean() < stock[deep].mean() - 8  # the stock cavity is red-brown, the clip's black
    lit = matched[int(cy - 17 + 6), int(cx + 0.18 * half)].astype(float)  # the middle of a central incisor
    assert np.abs(lit - teeth).max() < 30


def test_a_painted_interior_shows_the_rows_of_teeth_the_clips_own_mouth_shows():
    """A photo whose upper lip covers its upper teeth, parted on the tips of its lower ones, opened wider than the
    photo: the drawn interior has lower teeth standing on the lower lip and nothing hanging from the upper one
    (white upper teeth flashed in where the drawing took over from the photo's own interior and went again)."""
    import cv2

    from lipsync_studio.sync.builtin.interior import own_interior
    from lipsync_studio.sync.builtin.render import paint_interior

    cx, cy, half = 100.0, 60.0, 60.0
    mouth = _drawn_mouth

    def photo(*rows: slice) -> np.ndarray:
        img = np.full((120, 200, 3), (196, 150, 132), np.uint8)
        cv2.fillPoly(img, [np.round(mouth(14.0)[0]).astype(np.int32)], (12, 8, 9))
        for r in rows:
            img[r, 88:112] = (190, 186, 180)  # a few teeth in the middle
        return img

    inner, _ = mouth(14.0)
    unit = 100.0  # an eye distance in pixels
    lower = own_interior(photo(slice(63, 67)), inner, unit)  # four rows over the lower lip (at 67)
    assert lower.rows == "lower" and 0.02 <= lower.lower_band <= 0.06
    # The same photo taken closer (a phone's 12 MP portrait: the face 4x larger): the same rows, the same teeth.
    closer = cv2.resize(photo(slice(63, 67)), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    near = own_interior(closer, inner * 4 + 1.5, unit * 4)
    assert near.rows == "lower" and abs(near.lower_band - lower.lower_band) < 0.01
    assert own_interior(photo(slice(54, 58)), inner, unit).rows == "upper"
    assert own_interior(photo(slice(54, 67)), inner, unit).rows == "upper"  # a smile's teeth filling the opening
    assert own_interior(photo(slice(54, 58), slice(63, 67)), inner, unit).rows == "both"

    wide, upper = mouth(34.0)
    drawn = np.full((120, 200, 3), (196, 150, 132), np.uint8)
    stock = drawn.copy()
    paint_interior(drawn, wide, upper, 34.0, 1.0, (lower.teeth, lower.cavity), lower.rows,
                   2 * lower.lower_band * unit)
    paint_interior(stock, wide, upper, 34.0, 1.0, (lower.teeth, lower.cavity))
    luma = drawn.astype(float) @ [0.299, 0.587, 0.114]
    top, bottom = int(np.ceil(cy - 17)) + 1, int(cy + 17) - 1
    middle = slice(int(cx) - 8, int(cx) + 9)
    assert luma[top:top + 5, middle].max() < 60  # under the upper lip: the cavity, no teeth
    assert luma[bottom - 4:bottom, middle].max() > 130  # over the lower lip: the teeth
    x = int(cx - 0.85 * half)  # toward the corner: the lower lip's inner edge there
    lip = int(cy + 17 * np.sqrt(1 - ((x - cx) / half) ** 2))
    assert luma[lip - 5:lip - 1, x].max() < 80  # teeth only toward the middle, not out to the corners
    assert (stock.astype(float) @ [0.299, 0.587, 0.114])[top:top + 5, middle].max() > 130  # the stock: upper ones


def test_a_donors_nostril_over_the_upper_lip_is_found_but_not_the_lips_or_fine_skin_texture():
    """A dark blob between the nose and the drawn upper lip (a turned donor's nostril reaching below its landmarks)
    is marked for filling in; the lips, fine dark dots (stubble, pores) and the area outside the drawn face are not."""
    import cv2

    from lipsync_studio.sync.builtin.masks import nostril_over_lip

    rng = np.random.default_rng(3)
    h, w, unit = 160, 200, 150.0
    img = np.clip(np.array([205, 160, 140]) + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)
    t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    outer = np.stack([100 + 45 * np.cos(t), 110 + 14 * np.sin(t)], 1)  # the lips, centred 110 px down
    cv2.fillPoly(img, [np.round(outer).astype(np.int32)], (150, 40, 50))
    cv2.ellipse(img, (85, 40), (6, 4), 0, 0, 360, (95, 60, 55), -1)  # a nostril's piece, 70 px above the lips
    for x, y in rng.integers([70, 20], [130, 90], (25, 2)):  # stubble: one-pixel dark dots
        img[y, x] = (120, 90, 80)
    drawn = np.ones((h, w), bool)
    drawn[:12] = False  # the lent face starts 12 px down; above it the warp drew nothing (black)
    img[:12] = 0
    got = nostril_over_lip(img, drawn, outer, unit)
    assert got is not None
    ys, xs = np.nonzero(got)
    assert abs(xs.mean() - 85) < 4 and abs(ys.mean() - 40) < 4 and got.sum() < 200
    assert not got[:12].any() and not got[90:].any()  # not outside the drawn face, not on or under the lips
    # Without the blob: nothing (stubble and the edge of the drawn face are not nostrils).
    img2 = img.copy()
    img2[30:50, 75:95] = (205, 160, 140)
    assert nostril_over_lip(img2, drawn, outer, unit) is None


def _lent_far_in_time(media, reader):
    """The engine prepared on the test clip with output frame 10 lent the kept mouth farthest from its own frame in
    time: (engine, 10, its source frame, the donor)."""
    plan = plan_output(reader.info.n_frames, reader.info.fps, 3.0)
    engine = BuiltinEngine()
    engine.prepare(media["clip"], media["dub"], analyse_faces(media["clip"]), plan)
    k = 10
    j = plan.source_index(k)
    donor = max((d for d in engine.bank if d != j), key=lambda d: abs(d - j))
    engine.donors[k] = donor
    return engine, k, j, donor


def test_a_dark_mark_under_a_frontal_donors_nose_is_not_drawn_on_the_frames_upper_lip(media):
    """A donor whose upper lip sits close under its nose (a smile) lent to a frame whose lip sits lower: the lent
    skin stretches up to the frame's nose, and a shadow under the donor's nose came with it as a dark wedge on the
    frame's philtrum, head turned or not (KatieHill B->A 33-35: a dark notch over a frontal frame's lip). Here the
    frame's nose is put a fifth of an eye distance higher above its lips, and the same frontal donor is lent twice,
    once with a dark mark painted under its nose: the two drawn frames differ by far less than the mark."""
    from lipsync_studio.face.track import LIPS_OUTER
    from lipsync_studio.sync.builtin.engine import TURNED
    from lipsync_studio.sync.mouth import apply

    with VideoReader(media["clip"]) as r:
        engine, k, j, donor = _lent_far_in_time(media, r)
        sp = engine.space
        assert max(abs(engine.turn[j]), abs(engine.turn[donor])) < TURNED  # the frontal path
        engine.targets.gap[k] = float(sp.gap(sp.normalized[donor]))
        own = sp.normalized[j]
        kept = own.copy()
        lip_top = own[list(LIPS_OUTER), 1].min()
        region_top = own[sp.region, 1].min()
        above = sp.region[own[sp.region, 1] < lip_top - 0.5]
        own[above, 1] -= 0.2 * sp.eye_dist * np.clip((lip_top - own[above, 1]) / (lip_top - region_top), 0.0, 1.0)
        src = r.frame(j)
        smoothing = copy.deepcopy((engine._colour, engine._grain))  # colour and grain carry over between frames
        clean = engine.render(k, j, src.copy())
        engine._colour, engine._grain = smoothing
        crop, cx, cy = engine.bank[donor]
        # The mark: a third of the way from the bottom of the donor's nose (landmark 2) to the top of its lip (0).
        nose, lip = apply(sp.pose[donor], sp.normalized[donor][[2, 0]]) - [cx, cy]
        at = nose + 0.35 * (lip - nose)
        unit = sp.eye_dist * float(np.hypot(*sp.pose[donor][:, 0]))
        yy, xx = np.mgrid[0:crop.shape[0], 0:crop.shape[1]]
        marked = crop.copy()
        marked[np.hypot(xx - at[0], yy - at[1]) <= 0.035 * unit] = (60, 40, 40)
        engine.bank[donor] = (marked, cx, cy)
        out = engine.render(k, j, src.copy())
        engine.bank[donor] = (crop, cx, cy)
        sp.normalized[j] = kept
    lips = apply(sp.pose[j], own[list(LIPS_OUTER)])
    philtrum = (slice(int(lips[:, 1].min() - 0.4 * unit), int(lips[:, 1].min())),
                slice(int(lips[:, 0].min()), int(lips[:, 0].max())))
    mark = np.abs(clean[philtrum].astype(int) - out[philtrum]).max(2)
    assert mark.max() < 25, mark.max()


def test_a_turned_frame_keeps_its_own_far_cheek_beyond_the_mouth(media):
    """On a turned head the far cheek beyond the mouth is a narrow band before the face's edge, and a lent face
    squeezed into it left specks and streaks of what lay beside the donor's cheek (KatieHill A->B 37-38, B->A 74-77).
    There the frame keeps its own pixels, from a little beyond the farther of the two mouths' far corners; on the
    near side the lent face is drawn as before. (The drawn head is frontal; the frame is taken as turned.)"""
    from lipsync_studio.face.track import LIPS_OUTER
    from lipsync_studio.sync.builtin.engine import FAR_CHEEK_FADE, FAR_CHEEK_START, FAR_CHEEK_TURN
    from lipsync_studio.sync.mouth import apply

    with VideoReader(media["clip"]) as r:
        engine, k, j, donor = _lent_far_in_time(media, r)
        sp = engine.space
        lent = sp.turned_shape(donor, j)
        engine.targets.gap[k], engine.targets.width[k] = float(sp.gap(lent)), float(sp.width(lent))  # drawn as lent
        engine.turn[j] = FAR_CHEEK_TURN[1]  # turned to the right: the far side is the frame's right (larger x)
        src = r.frame(j)
        out = engine.render(k, j, src.copy())
    unit = sp.eye_dist * float(np.hypot(*sp.pose[j][:, 0]))
    own = apply(sp.pose[j], sp.normalized[j][list(LIPS_OUTER)])
    drawn = apply(sp.pose[j], lent[list(LIPS_OUTER)])
    oval = apply(sp.pose[j], sp.normalized[j][sp.jaw])
    mouth_y = int(round(own[:, 1].mean()))
    rows = slice(mouth_y - int(0.04 * unit), mouth_y + int(0.04 * unit) + 1)
    corner = max(own[:, 0].max(), drawn[:, 0].max())
    far = rows, slice(int(np.ceil(corner + (FAR_CHEEK_START + FAR_CHEEK_FADE + 0.01) * unit)),
                      int(corner + (FAR_CHEEK_START + FAR_CHEEK_FADE + 0.07) * unit))
    edge_x = oval[np.abs(oval[:, 1] - mouth_y) < 0.2 * unit, 0].max()
    assert edge_x - far[1].stop > 0.1 * unit  # the band lies inside the face, clear of the jaw edge's own move
    assert np.array_equal(out[far], src[far]), "the lent face was drawn on the far cheek"
    near = rows, slice(int(own[:, 0].min() - 0.15 * unit), int(own[:, 0].min() - 0.05 * unit))
    assert np.abs(out[near].astype(int) - src[near]).max() > 0, "the near cheek is the lent face's"


def test_the_frames_own_smile_beside_a_narrower_drawn_mouth_is_covered_up_to_a_soft_edge():
    """A smiling frame's mouth corner (its dimple, a crease out from it) lies beyond the narrower mouth drawn over it:
    the lent face covers a disc around that corner fully, leaves the cheek further out to the frame, and still fades
    to nothing before the lent region's edge. On a turned head only the near corner is covered (beyond the far one
    lie the face's edge and hair)."""
    from lipsync_studio.sync.builtin.engine import OWN_CORNER_EDGE, OWN_CORNER_REACH
    from lipsync_studio.sync.builtin.masks import cover_mouth, own_corners

    h, w, unit = 200, 300, 100.0
    t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    drawn = np.stack([150 + 30 * np.cos(t), 120 + 10 * np.sin(t)], 1)  # the new mouth: corners at x 120 and 180
    own = np.stack([150 + 50 * np.cos(t), 120 + 12 * np.sin(t)], 1)  # the frame's smile: corners at x 100 and 200
    cover = np.zeros((h, w), bool)
    cover[60:, 20:280] = True  # the lent region: its top edge 60 px up from the lips
    reach, edge = OWN_CORNER_REACH * unit, OWN_CORNER_EDGE * unit
    lips_only, with_corners = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    cover_mouth(lips_only, cover, [drawn, own], 0.04 * unit)
    cover_mouth(with_corners, cover, [drawn, own], 0.04 * unit, corners=own_corners(own, 0), corner_reach=reach,
                corner_edge=edge)
    crease = (92, 111)  # up and out from the own left corner (100, 120), 0.12 eye distances away
    assert lips_only[crease[1], crease[0]] < 0.5 and with_corners[crease[1], crease[0]] > 0.9
    assert with_corners[120, 100 - int(1.6 * reach)] == 0  # the cheek further out stays the frame's
    assert with_corners[60, 100] == 0 and with_corners[61:70, 100].max() < 1  # a soft fade to the region's edge
    assert np.all(with_corners >= lips_only - 0.02)  # the lips' own cover is kept (a blur at another box edge)
    # A turned head whose far side is the right: only the left (near) corner.
    near = own_corners(own, +1)
    assert near.shape == (1, 2) and near[0, 0] == own[:, 0].min()
    assert own_corners(own, -1)[0, 0] == own[:, 0].max()


def test_the_frames_own_jaw_follows_a_lent_one_only_for_turned_heads_and_never_jumps():
    """A frontal frame with a frontal donor keeps its jaw (0), a turned frame or donor moves it all the way (1), the
    frame's own mouth (OWN) moves nothing, and a change between them eases over the frames around it."""
    from lipsync_studio.sync.builtin.engine import TURNED, jaw_moves
    from lipsync_studio.sync.builtin.planner import OWN

    sources = np.arange(40)
    turn = np.zeros(40)
    turn[25:] = 2 * TURNED  # the head turns away from frame 25 on
    donors = np.full(40, 3)
    donors[30:33] = OWN
    w = jaw_moves(donors, sources, turn)
    assert np.all(w[:18] == 0) and np.all(w[[28, 29, 36, 37, 38, 39]] == 1) and np.all(w[30:33] == 0)
    assert np.all(np.diff(w[18:30]) >= 0) and np.abs(np.diff(w[15:30])).max() <= 0.2
    # A turned donor in a frontal frame moves it as well.
    donors2 = np.full(40, 30)
    assert np.all(jaw_moves(donors2, np.arange(40), turn)[:20] == 1)


def _outline_moved(img, own, moved):
    """``img`` with the pixels around its outline ``own`` moved to ``moved`` (:func:`move_outline`, reach 10 px)."""
    from lipsync_studio.sync.builtin.render import move_outline

    got = move_outline(img, own, moved, reach=10.0, extend=20.0)
    assert got is not None
    (x0, y0, x1, y1), pixels = got
    out = img.copy()
    out[y0:y1, x0:x1] = pixels
    return out


def test_a_moved_jaw_outline_carries_its_edge_and_leaves_the_rest_of_the_frame_as_it_was():
    """The frame's own jaw edge goes where the lent jaw is drawn (one jaw line, not two), what lies around it follows
    within the reach, and every pixel beyond comes back exactly; a move under half a pixel changes nothing."""
    import cv2

    from lipsync_studio.sync.builtin.render import move_outline

    rng = np.random.default_rng(5)
    h, w = 240, 260
    img = np.clip(170 + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    xs = np.arange(40, 221, 10, dtype=float)
    own = np.stack([xs, 150 - 0.008 * (xs - 130) ** 2], 1)  # a jaw: the chin at the bottom, the sides rising
    cv2.polylines(img, [np.round(own).astype(np.int32)], False, (40, 30, 30), 3)
    rise = 9.0
    moved = own - [0.0, rise]
    out = _outline_moved(img, own, moved)
    grey = out.mean(2)
    # Along the middle of the jaw the dark edge now lies where it was moved to, and no longer where it was.
    for x in range(90, 171, 10):
        y_new = int(round(150 - 0.008 * (x - 130) ** 2 - rise))
        assert grey[y_new - 1:y_new + 2, x].min() < 90, x
        assert grey[y_new + int(rise) - 1:y_new + int(rise) + 2, x].min() > 120, x
    # Beyond the reach (10 px plus 1.5 times the move) and the ends' fade nothing changed, to the bit.
    far = np.ones((h, w), bool)
    for p in np.vstack([own, moved]):
        cv2.circle(far.view(np.uint8), tuple(int(v) for v in np.round(p)), int(10 + 1.5 * rise + 25), 0, -1)
    assert far.sum() > 0.4 * h * w
    assert np.array_equal(out[far], img[far])
    assert move_outline(img, own, own + [0.0, 0.3], reach=10.0, extend=20.0) is None
    lost = moved.copy()
    lost[3] = np.nan  # a point the tracker lost: nothing moves rather than a failed frame
    assert move_outline(img, own, lost, reach=10.0, extend=20.0) is None


def test_a_frames_jaw_edge_follows_a_lent_jaw_only_as_far_as_the_speakers_jaw_goes():
    """A donor turned the other way from the frame has its far cheek's outline well inside the frame's: the frame's
    own jaw edge follows it no further than ``most`` beyond where the speaker's jaw goes, so the hair beside the
    cheek stays out of the face; a lent outline that close is followed exactly."""
    import cv2

    from lipsync_studio.sync.builtin.render import near_outline

    rng = np.random.default_rng(7)
    h, w = 240, 260
    img = np.clip(200 + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)  # skin
    ys = np.arange(40, 201, 10, dtype=float)
    own = np.stack([180 - 0.002 * (ys - 200) ** 2, ys], 1)  # the right cheek's outline, top to chin
    hair = np.zeros((h, w), np.uint8)
    cv2.fillPoly(hair, [np.round(np.vstack([own, [[w, 200], [w, 40]]])).astype(np.int32)], 1)
    img[hair > 0] = np.clip(50 + rng.normal(0, 12, (int(hair.sum()), 3)), 0, 255).astype(np.uint8)
    lent = own - [[30.0, 0.0]] * np.linspace(1, 0, len(own))[:, None]  # 30 px inside at the top, on it at the chin
    most = 6.0
    kept = near_outline(lent, own, most)  # the speaker's own jaw does not move for this mouth
    assert np.linalg.norm(kept - own, axis=1).max() <= most + 1e-9
    near = np.linalg.norm(lent - own, axis=1) <= most
    assert near.any() and np.array_equal(kept[near], lent[near])
    out = _outline_moved(img, own, kept)
    # Along the upper cheek the hair's edge moved in by the allowed 6 px, not the lent outline's 30: a few pixels
    # further in, it is skin, not hair pulled into the face.
    grey = out.mean(2)
    for y in range(50, 120, 10):
        x_edge = 180 - 0.002 * (y - 200) ** 2
        assert grey[y, int(x_edge - most - 4)] > 150, y
        assert grey[y, int(x_edge - most - 10):int(x_edge - 10)].min() > 150, y
    # Unclamped, the same move pulls the hair 30 px into the face.
    assert _outline_moved(img, own, lent).mean(2)[60, int(180 - 0.002 * 140 ** 2 - 20)] < 120


@pytest.mark.parametrize("step", [1, 2, 4, 8, 3])
def test_the_upsampled_grid_is_the_exact_bilinear_interpolation_of_its_points(step):
    """OpenCV's one-call upsampling gives what the plain bilinear formula gives at every pixel, within a
    thousandth of a pixel on coordinate-like grids (a smooth map plus noise), past the last grid point too;
    an affine grid comes back as that affine map everywhere (no half-pixel shift, no clamping at the edges)."""
    from lipsync_studio.sync.builtin.render import _upsample_grid_numpy, upsample_grid

    rng = np.random.default_rng(step)
    for _ in range(20):
        gh, gw = (int(v) for v in rng.integers(1, 60, 2))
        yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float64) * step
        a, b, c = rng.uniform(0.7, 1.3), rng.uniform(-0.3, 0.3), rng.uniform(0, 1900)
        w, h = int(rng.integers(1, (gw + 2) * step)), int(rng.integers(1, (gh + 2) * step))
        affine = (a * xx + b * yy + c).astype(np.float32)
        py, px = np.mgrid[0:h, 0:w].astype(np.float64)
        want = a * px + b * py + c if gw > 1 and gh > 1 else None
        got = upsample_grid(affine, step, w, h)
        assert got.shape == (h, w) and got.dtype == np.float32
        if want is not None:
            assert np.abs(got - want).max() < 1e-3
        noisy = (affine + rng.normal(0, 2, affine.shape)).astype(np.float32)
        assert np.abs(upsample_grid(noisy, step, w, h) - _upsample_grid_numpy(noisy, step, w, h)).max() < 1e-3


def test_a_colour_correction_rounds_to_the_nearest_level():
    """Gains and offsets of an identity-ish correction leave the picture as it is (truncating darkened every
    pixel by a level whenever an offset came out a hair below zero)."""
    from lipsync_studio.sync.builtin.render import apply_colour

    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    assert np.array_equal(apply_colour(img, np.array([1.0, 1.0, 1.0, -0.01, 0.2, -0.4])), img)
    brighter = apply_colour(img, np.array([1.0, 1.0, 1.0, 0.6, 0.6, 0.6])).astype(int)
    assert np.array_equal(brighter, np.minimum(img.astype(int) + 1, 255))


def test_a_range_is_synced_and_spliced_into_the_whole_clip_unchanged_elsewhere(media, tmp_path):
    """``sync --start/--end``: only the output's frames in the range change; the rest is the clip re-timed."""
    from lipsync_studio.errors import OptionError
    from lipsync_studio.media.video import VideoReader

    fine = VideoFormat(crf=12)  # re-encoding noise well under the threshold below, whatever the default CRF
    ranged = run_sync(SyncRequest(media["clip"], media["dub"], tmp_path / "ranged.mp4",
                                  SyncOptions(engine="builtin", measure=False, start_s=1.0, end_s=2.0, fmt=fine)))
    plain = run_sync(SyncRequest(media["clip"], media["dub"], tmp_path / "plain.mp4",
                                 SyncOptions(engine="none", fmt=fine)))
    assert ranged.frames == plain.frames and 0 < ranged.changed_frames <= 25
    with VideoReader(ranged.output) as a, VideoReader(plain.output) as b:
        # Pixels changed beyond re-encoding noise (the mouth redrawn), per frame.
        moved = np.array([(np.abs(x.astype(int) - y.astype(int)).max(axis=2) > 24).sum()
                          for (_, x), (_, y) in zip(a.iter_frames(), b.iter_frames())])
    inside, outside = moved[25:50], np.concatenate([moved[:25], moved[50:]])
    assert outside.max() <= 5 and (inside > 50).sum() >= 10, (inside, outside.max())
    with pytest.raises(OptionError, match="holds no frame"):
        run_sync(SyncRequest(media["clip"], media["dub"], tmp_path / "bad.mp4",
                             SyncOptions(engine="builtin", measure=False, start_s=3.0, end_s=2.0)))
    assert not (tmp_path / "bad.mp4").exists()


def test_a_lossless_sync_writes_every_pixel_it_did_not_redraw_as_decoded(media, tmp_path):
    """Frames outside the range, and every pixel outside the mouth's box in the synced ones, go to the encoder as
    the clip's decoder gave them (no RGB round trip): bit for bit with a lossless encoder."""
    import av

    result = run_sync(SyncRequest(media["clip"], media["dub"], tmp_path / "lossless.mkv",
                                  SyncOptions(engine="builtin", measure=False, start_s=1.0, end_s=2.0, extend="hold",
                                              fmt=VideoFormat(crf=0, preset="ultrafast"))))
    assert result.changed_frames > 10

    def planes(path):
        with av.open(str(path)) as c:
            return [f.to_ndarray() for f in c.decode(c.streams.video[0])]

    source, written = planes(media["clip"]), planes(result.output)
    with VideoReader(media["clip"]) as r:
        h, w = r.info.height, r.info.width
        plan = plan_output(r.info.n_frames, r.info.fps, result.duration, extend="hold")
    changed = 0
    for k, out in enumerate(written):
        src = source[plan.source_index(k)]
        if not 25 <= k < 50:
            assert np.array_equal(out, src), k
            continue
        ys, xs = np.nonzero(out[:h] != src[:h])
        if len(ys):
            changed += 1
            # Only one box, the lower face's, differs: the rest of the picture is as decoded.
            box = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
            assert box < 0.3 * h * w and ys.min() > 0.35 * h, (k, box, ys.min())
            assert (out[:h] == src[:h]).mean() > 0.85
    assert changed >= 10


def test_only_the_pixels_the_engine_reads_are_converted_and_one_drawn_beyond_them_gets_the_whole_frame(media,
                                                                                                    tmp_path):
    """The render converts to RGB only the box the engine says it reads (``reads``), and writes back only the box
    it redrew. Should an engine find it must draw beyond what it said, it asks for the whole frame before it
    changes anything, and the result is the same to the bit: no pixel the decoder did not give reaches it."""
    import av

    from lipsync_studio.engine.sync_job import build_sync_job

    class Narrow(BuiltinEngine):
        def reads(self, out_index, src_index):
            box = super().reads(out_index, src_index)
            return None if box is None else (box[0] + 30, box[1] + 30, box[0] + 40, box[1] + 40)

    def written(path):
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="rgb24").astype(np.int16) for f in c.decode(c.streams.video[0])]

    opts = SyncOptions(engine="builtin", measure=False, fmt=VideoFormat(crf=0, preset="ultrafast"))
    plain = build_sync_job(media["clip"], media["dub"], tmp_path / "plain.mkv", opts)
    plain.run()
    narrow = build_sync_job(media["clip"], media["dub"], tmp_path / "narrow.mkv", opts)
    narrow.state["engine"] = Narrow()
    narrow.run()
    assert "read_beyond" not in plain.state  # the engine's own boxes hold what it draws
    # Fewer asks than changed frames: a frame the order takes again (at a ping-pong's turn) comes back with the
    # whole RGB it was given the first time.
    assert narrow.state["read_beyond"] > 10 and plain.state["changed_frames"] > 10
    a, b = written(tmp_path / "plain.mkv"), written(tmp_path / "narrow.mkv")
    assert len(a) == len(b)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_frames_own_mouth_redrawn_asks_for_the_pixels_it_moves_from(media):
    """A frame that keeps its own mouth, opened further, is drawn from its own pixels moved: given only the box it
    draws in (a :class:`PartialRGB` holding nothing around it), the engine asks for the whole frame instead of
    reading the undefined pixels the opening moves from; given what ``reads`` says, it draws exactly what it draws
    from the whole frame."""
    from lipsync_studio.media.video import DecodedFrame, PartialRGB
    from lipsync_studio.media.writer import rgb_to_i420
    from lipsync_studio.sync.base import WholeFrameNeeded
    from lipsync_studio.sync.builtin.planner import OWN

    with VideoReader(media["clip"]) as r:
        plan = plan_output(r.info.n_frames, r.info.fps, 3.0)
        engine = BuiltinEngine()
        engine.prepare(media["clip"], media["dub"], analyse_faces(media["clip"]), plan)
        k = 20
        j = plan.source_index(k)
        engine.donors[k] = OWN
        engine.targets.gap[k] = float(engine.space.gap(engine.space.normalized[j])) + 0.15  # opened further
        whole = next(f for i, f in r.iter_frames(j, j + 1))
    engine.last_box = None
    drawn = engine.render(k, j, whole)
    x0, y0, x1, y1 = engine.last_box
    assert not np.array_equal(drawn[y0:y1, x0:x1], whole[y0:y1, x0:x1])
    only_box = np.full_like(whole, 255).view(PartialRGB)  # outside the box: not the picture
    only_box[y0 - 1:y1 + 1, x0 - 1:x1 + 1] = whole[y0 - 1:y1 + 1, x0 - 1:x1 + 1]
    only_box.valid = (x0 - 1, y0 - 1, x1 + 1, y1 + 1)
    with pytest.raises(WholeFrameNeeded):
        engine.render(k, j, only_box)
    planes = rgb_to_i420(whole)  # as a decoder gives them
    given = DecodedFrame(planes).rgb_within(engine.reads(k, j))
    again = engine.render(k, j, given)
    assert engine.last_box == (x0, y0, x1, y1)
    assert np.array_equal(again[y0:y1, x0:x1], engine.render(k, j, DecodedFrame(planes).rgb)[y0:y1, x0:x1])


@pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None, reason="needs espeak-ng")
def test_with_a_script_the_lips_shut_on_every_p_b_m_of_the_dub(media, tmp_path):
    """Words spoken one at a time (exact timing), their text as the script: the result's lips meet at each
    aligned p/b/m (within a frame) and stand open on the vowels."""
    from lipsync_studio.samples.speech import espeak_words
    from lipsync_studio.sync.phones import Cue, align_script
    from lipsync_studio.sync.visemes import BILABIAL

    words = ["mama", "baby", "happy", "moon"]
    audio, _ = espeak_words(words, gap_s=0.3)
    dub = write_audio(tmp_path / "words.wav", audio, 16000)
    script = tmp_path / "words.txt"
    script.write_text(" ".join(words) + "\n")
    result = run_sync(SyncRequest(media["clip"], dub, tmp_path / "said.mp4",
                                  SyncOptions(engine="builtin", measure=False, script=script)))
    assert result.engine_info["phones_from"] == "aligned"
    gap = analyse_faces(result.output).speaker_track().mouth_gap()
    shut, wide = np.percentile(gap, 5), np.percentile(gap, 95)
    ph = align_script(audio, [Cue(" ".join(words))], "en")
    mids = [0.5 * (a + b) for p, a, b in zip(ph.labels, ph.start, ph.end) if p in BILABIAL]
    assert len(mids) == 6  # mama 2, baby 2, happy 1, moon 1
    for t in mids:
        k = int(round((t - 0.04) * FPS))
        assert gap[max(k - 1, 0):k + 2].min() < shut + 0.2 * (wide - shut), f"lips open at the p/b/m at {t:.2f} s"
    vowels = [0.5 * (a + b) for p, a, b in zip(ph.labels, ph.start, ph.end) if p in ("AA", "AE", "AH", "EY")]
    assert np.mean([gap[int(round((t - 0.04) * FPS))] > shut + 0.4 * (wide - shut) for t in vowels]) >= 0.75


@pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None, reason="needs espeak-ng")
def test_a_script_that_does_not_fit_the_dub_is_named_and_the_sync_goes_on(media, tmp_path):
    """A script of other words than the dub says cannot be aligned: the sync follows the phones it hears and says
    which script it could not use, instead of going on silently."""
    from lipsync_studio.samples.speech import espeak_words

    audio, _ = espeak_words(["mama", "baby"], gap_s=0.3)
    dub = write_audio(tmp_path / "words.wav", audio, 16000)
    script = tmp_path / "other.txt"
    script.write_text("Twenty-seven silent grey elephants wandered slowly across the endless yellow desert tonight.\n")
    result = run_sync(SyncRequest(media["clip"], dub, tmp_path / "said.mp4",
                                  SyncOptions(engine="builtin", measure=False, script=script)))
    assert result.engine_info["phones_from"] == "recognized"
    assert any("other.txt" in w and "could be aligned" in w for w in result.warnings), result.warnings


def test_a_donor_whose_jaw_sits_lower_is_drawn_inside_the_frames_own_jaw_line(media):
    """A donor whose tracked jaw lies lower than the frame's for the same mouth (its head pitched otherwise, or
    its chin longer) must not draw a second, lower jaw line: the face's outline stays the frame's own, moving only
    as much as the mouth changes. Here the target is the frame's own mouth, so nothing below its chin may change,
    while the donor's mouth is still drawn."""
    from lipsync_studio.sync.mouth import apply
    from lipsync_studio.sync.wav2lip.engine import FACE_OVAL

    with VideoReader(media["clip"]) as r:
        engine, k, j, donor = _lent_far_in_time(media, r)
        sp = engine.space
        own = sp.normalized[j]
        engine.targets.gap[k] = float(sp.gap(own))
        engine.targets.width[k] = float(sp.width(own))
        # The donor's jaw tracked a fifth of an eye distance lower than it is (its mouth the same).
        lowered = sp.normalized[donor].copy()
        sp.normalized[donor, sp.jaw, 1] += 0.2 * sp.eye_dist
        src = r.frame(j)
        out = engine.render(k, j, src)
        sp.normalized[donor] = lowered
    oval = apply(sp.pose[j], own[list(FACE_OVAL)])
    chin = oval[np.argmax(oval[:, 1])]
    unit = sp.eye_dist * float(np.hypot(*sp.pose[j][:, 0]))
    below = (slice(int(chin[1] + 0.08 * unit), int(chin[1] + 0.25 * unit)),
             slice(int(chin[0] - 0.3 * unit), int(chin[0] + 0.3 * unit)))
    assert np.array_equal(out[below], src[below]), "the donor's lower jaw was drawn below the frame's chin"
    lips = apply(sp.pose[j], own[[61, 291, 13, 14]])
    lo, hi = np.floor(lips.min(0)).astype(int), np.ceil(lips.max(0)).astype(int)
    assert np.abs(out[lo[1]:hi[1], lo[0]:hi[0]].astype(int) - src[lo[1]:hi[1], lo[0]:hi[0]]).max() > 10


def test_the_jaw_outline_moves_with_the_mouth_like_a_hinged_jaw(media):
    """A width or gap change moves the lips as the speaker's own fit says, the chin with them, and the jaw outline
    from the mouth's height up to the ear not at all (it turns about the hinge by the ear). Fitted freely, the
    outline there followed a head turn that happened to go with the mouth (Radio2 A: 0.6-0.9 eye distances per eye
    distance of width, more than the corners themselves), and the frame's own jaw edge, moved so, cut a notch under
    the ear and pulled the hair in (Radio2 A->B 3-7)."""
    from lipsync_studio.face.track import LIPS_OUTER
    from lipsync_studio.sync.mouth import MouthSpace

    space = MouthSpace.from_track(analyse_faces(media["clip"]).speaker_track())
    raw_width, raw_gap = space._motion_per_unit(1), space._motion_per_unit(0)
    assert raw_width is not None and raw_gap is not None and space.spread is not None
    ref = space.reference
    jaw_y = ref[space.jaw, 1]
    mouth_y, chin_y = ref[list(LIPS_OUTER), 1].mean(), jaw_y.max()
    high = jaw_y <= mouth_y  # the outline from the mouth's height up
    chin = jaw_y >= chin_y - 1e-6
    assert high.any() and chin.any()
    assert np.abs(space.spread[space.jaw_rows][high]).max() == 0.0
    assert np.abs(space.jaw_drop[high]).max() == 0.0
    assert np.allclose(space.spread[space.jaw_rows][chin], raw_width[space.jaw_rows][chin])
    assert np.allclose(space.jaw_drop[chin], raw_gap[space.jaw_rows][chin])
    lips = np.isin(space.region, list(LIPS_OUTER))
    assert np.allclose(space.spread[lips], raw_width[lips])
    # In between, no point moves more than it would fitted freely.
    assert (np.abs(space.spread) <= np.abs(raw_width) + 1e-9).all()


def test_following_a_moved_jaw_keeps_the_lips_and_turns_no_triangle_over(media):
    """The lent lower face follows a jaw outline put elsewhere: the chin lands where asked, the lips stay, the
    skin between moves part of the way, and a chin moved down turns no triangle under the mouth over (a fold there
    would carry the donor's neck or its shadow into the chin). (A chin moved up a fifth of an eye distance on this
    drawn face, whose chin lies close under its lips, does fold one: the skin between has no room left.)"""
    from lipsync_studio.face.track import LIPS_OUTER
    from lipsync_studio.sync.mouth import MouthSpace

    space = MouthSpace.from_track(analyse_faces(media["clip"]).speaker_track())
    shape = space.normalized[int(np.flatnonzero(space.present)[0])]
    mouth_y, chin_y = shape[list(LIPS_OUTER), 1].mean(), shape[space.jaw, 1].max()
    for dy in (0.2, -0.2):  # a chin a fifth of an eye distance longer, then shorter (another pitch), the sides less
        share = np.clip((shape[space.jaw, 1] - mouth_y) / (chin_y - mouth_y), 0.0, 1.0)
        jaw = shape[space.jaw] + np.outer(share, [0.0, dy * space.eye_dist])
        moved = space.follow_jaw(shape, jaw)
        chin = share > 0.999  # the chin reaches the outline asked for, the sides go part of the way
        assert np.allclose(moved[space.jaw][chin], jaw[chin])
        side = (moved[space.jaw] - shape[space.jaw])[:, 1] / (dy * space.eye_dist)
        assert (side >= -1e-9).all() and (side <= share + 1e-9).all()
        assert np.allclose(moved[list(LIPS_OUTER)], shape[list(LIPS_OUTER)], atol=0.02 * space.eye_dist)
        between = np.setdiff1d(space.region, np.concatenate([space.jaw, list(LIPS_OUTER)]))
        step = (moved[between, 1] - shape[between, 1]) / (dy * space.eye_dist)
        assert step.min() >= -1e-9 and step.max() <= 1 + 1e-9 and (step > 0.2).any()  # part of the way

        def areas(s):
            q = space.region_points(s)[space.triangles]
            u, v = q[:, 1] - q[:, 0], q[:, 2] - q[:, 0]
            return u[:, 0] * v[:, 1] - v[:, 0] * u[:, 1]

        a0, a1 = areas(shape), areas(moved)
        under = (space.region_points(shape)[space.triangles][..., 1] > mouth_y).all(1)
        flipped = under & (np.sign(a0) != np.sign(a1)) & (np.minimum(np.abs(a0), np.abs(a1)) > 1.0)
        assert dy < 0 or not flipped.any(), (dy, np.flatnonzero(flipped), a0[flipped], a1[flipped])


def test_a_quarter_second_dub_is_too_little_speech_to_judge(media, tmp_path):
    """A dub of a quarter of a second gives six frames: no vowel to judge by, and the loudness of six frames alone
    called the result "no better than chance". It says it cannot judge."""
    from conftest import write_tone

    from lipsync_studio.metrics.sync import TOO_LITTLE

    out = run_sync(SyncRequest(media["clip"], write_tone(tmp_path / "hum.wav", 0.25), tmp_path / "hum.mp4",
                               SyncOptions(engine="builtin")))
    assert out.frames <= 8 and out.sync is not None
    assert out.sync.phonetic.verdict == TOO_LITTLE and TOO_LITTLE in out.sync.phonetic.summary()
