"""Phones from speech, visemes and coarticulation, scripts, and the phonetic sync measure.

The speech is espeak-ng's, spoken one word at a time with silence between words, so every word's span is known
exactly (and with it where its p/b/m must be).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from lipsync_studio.errors import OptionError
from lipsync_studio.metrics.sync import phonetic_agreement
from lipsync_studio.samples.speech import espeak_words
from lipsync_studio.sync.phones import Cue, align_script, ipa_to_arpabet, read_script, recognize_phones
from lipsync_studio.sync.visemes import BILABIAL, LIP_CLOSING, articulate

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")

WORDS = ["map", "bob", "moon", "peep", "beam", "wool", "see", "bought", "you", "me"]
FPS = 25.0


@pytest.fixture(scope="module")
def words():
    audio, spans = espeak_words(WORDS)
    return audio, spans


@pytest.fixture(scope="module")
def aligned(words):
    audio, _ = words
    return align_script(audio, [Cue(" ".join(WORDS))], "en")


def _inside(t: float, spans: np.ndarray, slack: float = 0.0) -> int:
    """Index of the word whose span holds ``t`` (with ``slack`` s either side), or -1."""
    hit = np.flatnonzero((spans[:, 0] - slack <= t) & (t <= spans[:, 1] + slack))
    return int(hit[0]) if len(hit) else -1


def test_recognised_phones_are_silence_between_words_and_speech_within_them(words):
    audio, spans = words
    ph = recognize_phones(audio)
    assert ph.source == "recognized" and set(ph.labels) - {"SIL"}
    t = np.arange(0, len(audio) / 16000, 0.01)
    lab = np.array(list(ph.labels) + ["SIL"], dtype=object)[ph.at(t)]
    in_word = np.zeros(len(t), bool)
    gap = np.zeros(len(t), bool)
    for a, b in spans:
        in_word |= (t > a + 0.05) & (t < b - 0.05)
    for (_, b), (a, _) in zip(spans[:-1], spans[1:]):
        gap |= (t > b + 0.08) & (t < a - 0.08)
    assert (lab[gap] == "SIL").mean() > 0.9
    assert (lab[in_word] != "SIL").mean() > 0.8
    # Most words that start with p/b/m are heard starting with a bilabial (the recognizer is not perfect).
    starts_bilabial = [w for w in WORDS if w[0] in "pbm"]
    heard = 0
    for w, (a, b) in zip(WORDS, spans):
        if w[0] not in "pbm":
            continue
        k = np.flatnonzero((ph.start >= a - 0.06) & (ph.start <= a + 0.1))
        heard += any(ph.labels[i] in BILABIAL for i in k)
    assert heard >= 0.6 * len(starts_bilabial), heard


def test_a_script_aligns_each_word_and_its_bilabials_where_they_were_spoken(words, aligned):
    _, spans = words
    assert aligned.source == "aligned"
    bil = [(p, a, b) for p, a, b in zip(aligned.labels, aligned.start, aligned.end) if p in BILABIAL]
    # map bob(2) moon peep(2) beam(2) me: 9 bilabials (p in "map" too).
    assert len(bil) == sum(w.count("m") + w.count("b") + w.count("p") for w in WORDS)
    for p, a, b in bil:
        mid = 0.5 * (a + b)
        assert _inside(mid, spans, slack=0.08) >= 0 or _inside(b, spans, slack=0.03) >= 0, (p, a, b)
    # Each word's first phone starts within 60 ms of where the word was spoken.
    firsts = [a for p, a in zip(aligned.labels, aligned.start) if p != "SIL"]
    for a0, _ in spans:
        assert np.min(np.abs(np.array(firsts) - a0)) < 0.06


def test_lips_shut_at_every_bilabial_frame_and_open_on_the_vowels(aligned):
    n = int(aligned.end[-1] * FPS)
    art = articulate(aligned, FPS, n, lead_s=0.04)
    for p, a, b in zip(aligned.labels, aligned.start, aligned.end):
        if p in LIP_CLOSING:  # p/b/m, and w, f, v (the lips meet there too in real speech)
            k = int(round((0.5 * (a + b) - 0.04) * FPS - 0.5))
            assert art.closed[max(k - 1, 0):k + 2].any(), (p, a, b)
            assert art.opening[max(k - 1, 0):k + 2].min() == 0.0
    # Closed frames lie on those phones only (a frame either side).
    lip_frames = np.zeros(n, bool)
    for p, a, b in zip(aligned.labels, aligned.start, aligned.end):
        if p in LIP_CLOSING:
            lip_frames[max(int((a - 0.04) * FPS) - 1, 0):int((b - 0.04) * FPS) + 2] = True
    assert not (art.closed & ~lip_frames).any()
    # Without w/f/v in the closing set, only p/b/m close.
    bil = articulate(aligned, FPS, n, lead_s=0.04, closing=BILABIAL)
    assert bil.closed.sum() < art.closed.sum() and "W" in aligned.labels
    # Open vowels open wide, rounded vowels round, spread vowels spread.
    at = lambda lab: np.array([art.label[k] for k in range(n)]) == lab  # noqa: E731
    assert art.opening[at("AA")].max() > 0.7
    assert art.spread[at("UW")].mean() < -0.3 < 0.3 < art.spread[at("IY")].mean()


def test_rounding_is_anticipated_across_the_consonant_before_a_rounded_vowel():
    from lipsync_studio.sync.phones import PhoneSegments

    def track(vowel):
        ph = PhoneSegments(("SIL", "S", "T", vowel, "SIL"), np.array([0.0, 0.3, 0.4, 0.5, 0.7]),
                           np.array([0.3, 0.4, 0.5, 0.7, 1.0]))
        return articulate(ph, 100.0, 100, lead_s=0.0).spread

    rounded, spread = track("UW"), track("IY")
    # During the /t/ (0.4–0.5 s) the lips already move toward the coming vowel.
    assert rounded[42:50].mean() < spread[42:50].mean() - 0.3


def test_rounded_vowels_part_the_lips_less_than_open_and_spread_ones():
    """Rounding narrows the lips' aperture: an /u/ held between pauses opens the lips less than an /i/ (whose jaw is as
    high) and far less than an /a/, an /o/ less than the /a/ too: in a dub of "who" the mouth must not gape."""
    from lipsync_studio.sync.phones import PhoneSegments

    def peak(vowel):
        ph = PhoneSegments(("SIL", "HH", vowel, "SIL"), np.array([0.0, 0.3, 0.4, 0.7]), np.array([0.3, 0.4, 0.7, 1.0]))
        return float(articulate(ph, 100.0, 100, lead_s=0.0).opening[40:70].max())

    uw, iy, ao, aa = peak("UW"), peak("IY"), peak("AO"), peak("AA")
    assert uw < 0.8 * iy and uw < 0.35 * aa
    assert ao < 0.5 * aa and uw < ao


def test_scripts_are_read_from_txt_srt_and_vtt_and_bad_ones_named(tmp_path):
    (tmp_path / "a.txt").write_text("Hello  there,\nworld.\n")
    assert read_script(tmp_path / "a.txt") == [Cue("Hello there, world.")]
    (tmp_path / "a.srt").write_text("1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> there\n\n"
                                    "2\n00:00:03,250 --> 00:00:04,000\nworld\n")
    assert read_script(tmp_path / "a.srt") == [Cue("Hello there", 1.0, 2.5), Cue("world", 3.25, 4.0)]
    (tmp_path / "a.vtt").write_text("WEBVTT\n\n00:01.000 --> 00:02.500\n<v Ann>Hello\n")
    assert read_script(tmp_path / "a.vtt") == [Cue("Hello", 1.0, 2.5)]
    (tmp_path / "a.doc").write_text("x")
    with pytest.raises(OptionError, match="a.doc"):
        read_script(tmp_path / "a.doc")
    (tmp_path / "e.srt").write_text("\n")
    with pytest.raises(OptionError, match="no text"):
        read_script(tmp_path / "e.srt")


def test_a_german_script_is_phonemised_and_aligned():
    audio, spans = espeak_words(["Mama", "Bombe", "Uhu"], voice="de")
    ph = align_script(audio, [Cue("Mama Bombe Uhu")], "de")
    assert ph.source == "aligned"
    bil = [0.5 * (a + b) for p, a, b in zip(ph.labels, ph.start, ph.end) if p in BILABIAL]
    assert len(bil) == 5  # m, m, b, m, b
    assert all(_inside(t, spans, slack=0.08) >= 0 for t in bil)
    assert ipa_to_arpabet("ˈaɪ") == ["AY"] and ipa_to_arpabet("yː") == ["UW"] and ipa_to_arpabet("pf") == ["P", "F"]


def test_the_measure_scores_a_phonetically_right_mouth_above_a_loudness_pump():
    """Two mouths for the same connected speech: one that says its phones (shut on p/b/m, round on o/u, wide on
    i/e), one that opens with the loudness only. Judged against the phones the recognizer hears (not the
    script's), with the same loudness correlation, so only the phonetic parts can tell them apart."""
    from lipsync_studio.samples.speech import espeak_speech
    from lipsync_studio.sync.acoustics import mouth_from_audio

    text = "Maybe Bob will bring a map of the moon. We hope you remember to put the blue boots by the bed."
    audio = espeak_speech(text, voice="en-us+f3").audio
    n = int(len(audio) / 16000 * FPS)
    rng = np.random.default_rng(0)
    art = articulate(align_script(audio, [Cue(text)], "en"), FPS, n, lead_s=0.04)
    right_gap = art.opening + rng.normal(0, 0.03, n)
    right_width = 1.0 + 0.1 * art.spread + rng.normal(0, 0.02, n)
    loud = mouth_from_audio(audio, FPS, n, lead_s=0.04)
    pump_gap = loud.level[np.clip((np.arange(n) / FPS * 100 + 4).astype(int), 0, len(loud.level) - 1)] \
        + rng.normal(0, 0.03, n)
    pump_width = 1.0 + rng.normal(0, 0.02, n)
    heard = recognize_phones(audio)
    right = phonetic_agreement(right_gap, right_width, heard, FPS, loudness=0.5, wav16k=audio)
    pump = phonetic_agreement(pump_gap, pump_width, heard, FPS, loudness=0.5, wav16k=audio)
    assert right.bilabials >= 6
    assert right.closure > pump.closure + 0.25 and right.rounding > pump.rounding + 0.3
    # The lip width follows the sound's F2 (rounding lowers it) only where the mouth says the phones.
    assert right.width_f2 > 0.3 and pump.width_f2 < 0.15, (right, pump)
    assert right.score > pump.score + 0.3, (right, pump)
    assert right.verdict == "as real speech" and pump.verdict != "as real speech"
    assert pump.verdicts()["rounding"] == "no better than chance" and pump.verdicts()["loudness"] == "as real speech"


def test_agreement_beyond_what_real_speech_reaches_earns_nothing():
    """Real lips follow the recognised phones only partly (the recogniser misses and invents phones, and people
    vary): a mouth that does so as much as real speech reads "as real speech" and scores at least as well as one
    made from the phones themselves (which follows their errors too); a still mouth reads "no better than
    chance"."""
    from lipsync_studio.samples.speech import espeak_speech

    text = "We hope you remember to put the blue boots by the bed, and see the moon over the sea."
    audio = espeak_speech(text, voice="en-us+f3").audio
    n = int(len(audio) / 16000 * FPS)
    heard = recognize_phones(audio)
    rng = np.random.default_rng(1)
    made = articulate(heard, FPS, n, lead_s=0.04)  # a mouth made from the recognised phones: it copies them
    exact = phonetic_agreement(made.opening, 1.0 + 0.1 * made.spread, heard, FPS, loudness=0.6, wav16k=audio)
    # A mouth that follows them as loosely as real speech does (its own noise, its own timing).
    loose_gap = np.roll(made.opening, 1) + rng.normal(0, 0.15, n)
    loose_width = 1.0 + 0.1 * np.roll(made.spread, 1) + rng.normal(0, 0.05, n)
    loose = phonetic_agreement(loose_gap, loose_width, heard, FPS, loudness=0.25, wav16k=audio)
    still = phonetic_agreement(np.full(n, 0.2) + rng.normal(0, 0.01, n), np.ones(n) + rng.normal(0, 0.01, n),
                               heard, FPS, loudness=0.0, wav16k=audio)
    assert exact.closure > loose.closure and exact.rounding > loose.rounding, (exact, loose)
    assert exact.verdicts()["closure"] == "above real speech"  # it follows the recogniser's errors too
    assert loose.score >= exact.score and loose.verdict == "as real speech", (loose, exact)
    assert still.verdict == "no better than chance", still
    text_line = loose.summary()
    assert "real speech" in text_line and "as real speech" in text_line


def test_a_script_is_aligned_where_its_phone_pass_fails_and_its_speech_ends_at_the_sound():
    """PocketSphinx's second pass (the phones within the aligned words) fails on some texts ("Failed to stop
    utterance processing"): this sentence with its own text stopped the whole sync with an internal error. Now
    the words keep their first-pass times and share them among their phones: every p/b/m of the text is there,
    inside its word (espeak-ng's sound ends right after the last word)."""
    from lipsync_studio.samples.speech import espeak_speech

    text = "The children play in the garden while my brother builds a boat by the sea, maybe before the moon comes up."
    audio = espeak_speech(text, voice="en-us").audio
    ph = align_script(audio, [Cue(text)], "en")
    assert ph.source == "aligned"
    bilabials = [0.5 * (a + b) for p, a, b in zip(ph.labels, ph.start, ph.end) if p in ("P", "B", "M")]
    assert len(bilabials) == 12  # play my brother builds boat by maybe (2) before moon comes up
    heard = recognize_phones(audio)
    speech = [(a, b) for p, a, b in zip(heard.labels, heard.start, heard.end) if p != "SIL"]
    assert all(any(a - 0.05 <= t <= b + 0.05 for a, b in speech) for t in bilabials)
    assert ph.end[-1] == pytest.approx(len(audio) / 16000, abs=0.02)


def test_sync_names_a_script_it_cannot_use_before_any_work(clip50, dub3s, tmp_path, capsys):
    from lipsync_studio.cli import main

    out = tmp_path / "o.mp4"
    assert main(["-q", "sync", str(clip50), str(dub3s), "-o", str(out), "--script", str(tmp_path / "no.txt")]) == 2
    assert "no.txt" in capsys.readouterr().err and not out.exists()
    (tmp_path / "s.pdf").write_text("x")
    assert main(["-q", "sync", str(clip50), str(dub3s), "-o", str(out), "--script", str(tmp_path / "s.pdf")]) == 2
    assert ".txt, .srt or .vtt" in capsys.readouterr().err and not out.exists()


def test_the_app_takes_the_script_that_lies_beside_the_dub(tmp_path):
    from lipsync_studio.sync.phones import script_beside

    dub = tmp_path / "take3.wav"
    dub.write_bytes(b"")
    assert script_beside(dub) is None
    (tmp_path / "take3.txt").write_text("hello")
    assert script_beside(dub) == tmp_path / "take3.txt"
    (tmp_path / "take3.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    assert script_beside(dub) == tmp_path / "take3.srt"  # timed cues first


def test_hearing_in_a_child_process_gives_the_same_phones_for_every_sound(words):
    from lipsync_studio.sync.phones import recognize_phones_async

    audio, _ = words
    first, second = audio[: len(audio) // 2], audio[len(audio) // 2:]
    got = recognize_phones_async(first, second).result(timeout=120)
    for heard, wav in zip(got, (first, second)):
        here = recognize_phones(wav)
        assert heard.labels == here.labels and np.allclose(heard.start, here.start)


def test_a_sounds_phones_do_not_depend_on_what_was_heard_before_it(words):
    """The recognizer's decoder is kept from one sound to the next (its model loads once): a sound heard after
    another gets the phones a new decoder gives it, to the 10 ms."""
    from concurrent.futures import ThreadPoolExecutor

    audio, _ = words
    first, second = audio[: len(audio) // 2], audio[len(audio) // 2:]

    def new_decoder(wav):  # a new thread's first sound: its decoder is made for it
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(recognize_phones, wav).result()

    alone = new_decoder(second)
    recognize_phones(first)
    recognize_phones(audio)
    after = recognize_phones(second)
    assert after.labels == alone.labels
    assert np.array_equal(after.start, alone.start) and np.array_equal(after.end, alone.end)


def test_lips_rest_shut_in_pauses_but_not_in_short_silences():
    from lipsync_studio.sync.phones import PhoneSegments
    from lipsync_studio.sync.visemes import PAUSE_EDGE_S

    # "ah" – a 0.6 s pause – "ah" – a 0.08 s silence (a hesitation inside speech) – "ah".
    ph = PhoneSegments(("AA", "SIL", "AA", "SIL", "AA"), np.array([0.0, 0.3, 0.9, 1.2, 1.28]),
                       np.array([0.3, 0.9, 1.2, 1.28, 1.6]))
    art = articulate(ph, 100.0, 160, lead_s=0.0)
    t = np.arange(160) / 100.0
    in_pause = (t >= 0.3 + PAUSE_EDGE_S) & (t <= 0.9 - PAUSE_EDGE_S)
    assert art.resting[in_pause].all() and art.opening[in_pause].max() == 0.0
    # The lips part before the speech after the pause, and the short silence is not a rest.
    assert not art.resting[(t < 0.3) | (t > 0.9 - PAUSE_EDGE_S + 0.01)].any()
    assert art.opening[120:128].min() > 0.2
    assert not art.closed.any()  # a pause is no p/b/m


def test_pauses_hold_the_speakers_own_resting_mouth_and_p_b_m_stay_shut():
    """A speaker who rests with parted lips rests so in the dub's pauses (the clip's own pauses show it), while
    p/b/m still shut fully; without such evidence a pause shuts the lips."""
    from lipsync_studio.sync.builtin.planner import viseme_targets
    from lipsync_studio.sync.phones import PhoneSegments

    rng = np.random.default_rng(3)
    feats = np.stack([np.abs(rng.normal(0.15, 0.1, 400)), rng.normal(1.0, 0.05, 400)], 1)
    own = {"rest": (0.09, 1.0, 250), "PBM": (0.07, 1.0, 100)}  # seen at length: mostly the speaker's own
    table, shut, taken = viseme_targets(feats, own)
    assert "rest" in taken and table["rest"][0] > shut[0] + 0.05 and table["PBM"][0] == shut[0]
    ph = PhoneSegments(("AA", "SIL", "M", "AA"), np.array([0.0, 0.3, 0.9, 1.0]), np.array([0.3, 0.9, 1.0, 1.3]))
    art = articulate(ph, 100.0, 130, lead_s=0.0, targets=table, rest=shut)
    assert art.resting[40:80].all() and np.allclose(art.opening[40:80], table["rest"][0])
    assert art.closed[91:99].all() and np.allclose(art.opening[91:99], shut[0])
    table_shut, _, _ = viseme_targets(feats, own, own_rest=False)
    assert table_shut["rest"][0] == shut[0]


def test_lips_part_at_a_closures_release_not_before_it():
    """The mouth leads the sound into a closure but opens with the release: with a 40 ms lead, the frames up to
    the phone's end stay shut (not only up to its end less the lead)."""
    from lipsync_studio.sync.phones import PhoneSegments

    ph = PhoneSegments(("AA", "M", "AA"), np.array([0.0, 0.5, 0.6]), np.array([0.5, 0.6, 0.9]))
    art = articulate(ph, 100.0, 90, lead_s=0.04)
    # frame k shows the sound at k/100 + 0.04: the closure starts at frame 46 and lasts to the release at 0.60 s
    assert art.closed[46:60].all() and not art.closed[:45].any() and not art.closed[61:].any()


def test_a_closure_lasts_as_long_as_its_sound_whatever_the_speakers_lead():
    """A speaker whose mouth leads the sound by 0.3 s shuts the lips for a 100 ms m's span led by 0.3 s, and two
    frames more at most: not from the led start to the unled release (400 ms, through the vowel after it), and two
    m's with a vowel between them are two closures, not one."""
    from lipsync_studio.sync.phones import PhoneSegments
    from lipsync_studio.sync.visemes import RELEASE_LAG_S

    ph = PhoneSegments(("AA", "M", "AA"), np.array([0.0, 0.6, 0.7]), np.array([0.6, 0.7, 1.2]))
    shut = np.flatnonzero(articulate(ph, 25.0, 25, lead_s=0.3).closed)
    # frame k shows the sound at k/25 + 0.3: the m (0.6-0.7 s) is under frames 7-9, released two frames later at most
    assert shut[0] == 7 and 9 <= shut[-1] <= 9 + round(RELEASE_LAG_S * 25) < 16, shut
    two = PhoneSegments(("AA", "M", "AA", "M", "AA"), np.array([0.0, 0.6, 0.7, 0.9, 1.0]),
                        np.array([0.6, 0.7, 0.9, 1.0, 1.4]))
    closed = articulate(two, 25.0, 30, lead_s=0.3).closed
    runs = np.flatnonzero(np.diff(closed.astype(int)) == 1)
    assert len(runs) == 2 and closed.sum() <= 2 * (3 + round(RELEASE_LAG_S * 25)), np.flatnonzero(closed)


def test_a_closure_heard_shorter_than_a_frame_still_shuts_two_frames_at_25_fps():
    """Real lips stay together 60-100 ms through a p, b or m: one the recognizer gives a 20 ms segment shuts the two
    frames nearest its middle at 25 fps, not one, and a longer one keeps its own span."""
    from lipsync_studio.sync.phones import PhoneSegments
    from lipsync_studio.sync.visemes import MIN_CLOSURE_S

    for mid in (0.505, 0.52, 0.535):  # around and between frame 12 (0.48 s) and frame 13 (0.52 s)
        ph = PhoneSegments(("AA", "M", "AA"), np.array([0.0, mid - 0.01, mid + 0.01]),
                           np.array([mid - 0.01, mid + 0.01, 1.0]))
        art = articulate(ph, 25.0, 25, lead_s=0.0)
        shut = np.flatnonzero(art.closed)
        assert len(shut) == round(MIN_CLOSURE_S * 25) == 2, (mid, shut)
        assert np.abs(shut / 25.0 - mid).max() <= 0.04 + 1e-9, (mid, shut)  # the nearest frames, on either side
        assert np.allclose(art.opening[shut], art.opening.min())
    long = PhoneSegments(("AA", "M", "AA"), np.array([0.0, 0.4, 0.56]), np.array([0.4, 0.56, 1.0]))
    assert np.flatnonzero(articulate(long, 25.0, 25, lead_s=0.0).closed).tolist() == [10, 11, 12, 13]


def test_a_stop_closure_lasts_through_its_quiet_gap():
    from lipsync_studio.sync.phones import PhoneSegments

    # "a_pa": the recognizer puts /p/ at its burst (0.50–0.53 s); the sound is quiet from 0.42 s to the burst.
    ph = PhoneSegments(("AA", "P", "AA"), np.array([0.0, 0.5, 0.53]), np.array([0.5, 0.53, 0.9]))
    level = np.full(90, 0.8)
    level[42:50] = 0.02
    with_gap = articulate(ph, 100.0, 90, lead_s=0.0, level=level)
    assert with_gap.closed[43:53].all() and with_gap.opening[43:53].max() == 0.0
    assert not with_gap.closed[:41].any() and not with_gap.closed[55:].any()
    # Without the sound's loudness only the phone's own span is shut (grown to the shortest closure, 70 ms around its
    # middle); a quiet stretch far before a /p/ (more than a stop gap) is not joined to it.
    alone = articulate(ph, 100.0, 90, lead_s=0.0).closed
    assert np.flatnonzero(alone).tolist() == list(range(48, 55))
    far = np.full(90, 0.8)
    far[20:30] = 0.02
    assert not articulate(ph, 100.0, 90, lead_s=0.0, level=far).closed[:45].any()


def test_lips_are_heard_releasing_p_b_m_and_not_t_d_n_k():
    from lipsync_studio.sync.acoustics import labial_releases
    from lipsync_studio.sync.phones import PhoneSegments
    from lipsync_studio.sync.visemes import VOWELS, rescue_bilabials

    words = "happy rabbit lemon hammer robin summer ribbon attic ladder sunny kitten city dinner lucky".split()
    hits: dict[bool, list[bool]] = {True: [], False: []}
    rescued: dict[bool, list[bool]] = {True: [], False: []}
    for voice in ("en-us+f3", "en-us+m3", "en+m1"):
        audio, spans = espeak_words(words, voice=voice)
        al = align_script(audio, [Cue(" ".join(words))], "en")
        lab = al.labels
        # The text's word-medial consonants between vowels, where the alignment puts them.
        idx = [i for i in range(1, len(lab) - 1) if lab[i] in ("P", "B", "M", "T", "D", "N", "K", "G")
               and lab[i - 1] in VOWELS and lab[i + 1] in VOWELS]
        heard = labial_releases(audio, np.stack([al.start[idx], al.end[idx]], 1))
        for i, h in zip(idx, heard):
            hits[lab[i] in BILABIAL].append(bool(h))
        # Misheard as the recognizer often does (p/b/m as w, t/d/n/k/g as l), the lips' releases are found again.
        misheard = tuple("W" if (i in idx and p in BILABIAL) else "L" if i in idx else p for i, p in enumerate(lab))
        back = rescue_bilabials(PhoneSegments(misheard, al.start, al.end), audio)
        for i in idx:
            k = back.at(np.array([0.75 * al.start[i] + 0.25 * al.end[i]]))[0]
            rescued[lab[i] in BILABIAL].append(back.labels[k] == "B")
    assert len(hits[True]) >= 15 and len(hits[False]) >= 15
    # Over three voices: most lip releases are heard as such, few tongue releases are.
    for got in (hits, rescued):
        assert np.mean(got[True]) >= 0.45 and np.mean(got[False]) <= 0.25, (np.mean(got[True]), np.mean(got[False]))


def test_the_speakers_own_lead_is_measured_on_their_own_speech(words):
    """A speaker whose lips run 0.14 s ahead of their sound is timed so (the dub is then planned at that lead);
    lips that do not follow the sound, or a clip without speech, get the default lead, marked as not measured."""
    from lipsync_studio.sync.acoustics import mouth_from_audio
    from lipsync_studio.sync.builtin.planner import DEFAULT_LEAD_S, speaker_lead

    audio, _ = words
    heard = recognize_phones(audio)
    n = int(len(audio) / 16000 * FPS)
    level = mouth_from_audio(audio, FPS, n, 0.0).level
    rng = np.random.default_rng(5)
    lips = 0.02 + 0.3 * articulate(heard, FPS, n, lead_s=0.14, level=level).opening + rng.normal(0, 0.03, n)
    lips[rng.random(n) < 0.05] = np.nan  # frames without a face
    got = speaker_lead(heard, level, lips, FPS)
    assert got.measured and abs(got.lead_s - 0.14) <= 0.021 and got.agreement > 0.8
    unrelated = speaker_lead(heard, level, np.abs(rng.normal(0.1, 0.05, n)), FPS)
    assert not unrelated.measured and unrelated.lead_s == DEFAULT_LEAD_S
    assert speaker_lead(None, level, lips, FPS).lead_s == DEFAULT_LEAD_S


def test_a_mouths_timing_is_read_from_the_sounds_phones_and_a_mistimed_mouth_is_out_of_sync(words):
    """The sync measure's timing: lips 0.14 s ahead of their sound read so, in time (real speakers lead by
    0.04-0.32 s); lips 0.54 s ahead, or 0.26 s behind (the same mouth with its sound 0.4 s off), read out of sync,
    by how far beyond real speakers' range and in which direction; lips that do not follow the sound are not
    timed at all."""
    from lipsync_studio.metrics.sync import REAL_SPEECH_LEAD_S, mouth_lead
    from lipsync_studio.sync.acoustics import mouth_from_audio

    audio, _ = words
    heard = recognize_phones(audio)
    n = int(len(audio) / 16000 * FPS)
    level = mouth_from_audio(audio, FPS, n, 0.0).level
    rng = np.random.default_rng(7)
    missing = rng.random(n) < 0.05  # frames without a face

    def timing(lead_s: float):
        lips = 0.02 + 0.3 * articulate(heard, FPS, n, lead_s=lead_s, level=level).opening + rng.normal(0, 0.03, n)
        lips[missing] = np.nan
        return mouth_lead(lips, heard, level, FPS)

    own = timing(0.14)
    assert abs(own.lead_s - 0.14) <= 0.021 and own.low_s <= 0.14 <= own.high_s and own.agreement > 0.6
    assert own.judge(FPS) == ("in", 0.0)
    ahead, behind = timing(0.54), timing(-0.26)
    state, by = ahead.judge(FPS)
    assert state == "out" and abs(ahead.lead_s - 0.54) <= 0.021
    assert abs(by - (ahead.lead_s - REAL_SPEECH_LEAD_S[1] - 1 / FPS)) < 1e-9
    state, by = behind.judge(FPS)
    assert state == "out" and abs(behind.lead_s + 0.26) <= 0.021 and by < -0.2
    assert mouth_lead(np.abs(rng.normal(0.1, 0.05, n)), heard, level, FPS) is None


def test_the_sounds_formants_say_how_open_and_how_spread():
    """Within speech, F1 is higher on an open vowel than on a close one, and F2 higher on a spread vowel than on a
    rounded one, measured against the sound's own voiced frames, so the plan can open and spread by them."""
    from lipsync_studio.sync.acoustics import formant_deviation

    audio, spans = espeak_words(["pa", "pee", "poo"], gap_s=0.4)
    n = int(len(audio) / 16000 * FPS)
    z1, z2 = formant_deviation(audio, n, FPS, 0.0)

    def during(z, i):
        a, b = spans[i]
        k = np.arange(int(np.ceil(a * FPS)), int(b * FPS))
        return float(np.mean(z[k[len(k) // 3:]]))  # the vowel: past the word's start

    assert during(z1, 0) > during(z1, 1) + 0.5 and during(z1, 0) > during(z1, 2) + 0.5
    assert during(z2, 1) > during(z2, 2) + 0.5


def test_the_measures_articulation_holds_the_resting_mouth_in_short_pauses_and_shuts_long_ones():
    """The articulation the measures time a mouth against (``articulate``'s defaults: the speaker's lead, ``eval``)
    holds a speaker's parted resting lips through a breath-length pause (0.3 s) and shuts them in a long one
    (0.6 s); the engine's plan bridges the short one instead (below)."""
    from lipsync_studio.sync.builtin.planner import viseme_targets
    from lipsync_studio.sync.phones import PhoneSegments

    rng = np.random.default_rng(3)
    feats = np.stack([np.abs(rng.normal(0.15, 0.1, 400)), rng.normal(1.0, 0.05, 400)], 1)
    table, shut, _ = viseme_targets(feats, {"rest": (0.09, 1.0, 250)})
    ph = PhoneSegments(("AA", "SIL", "AA", "SIL", "AA"), np.array([0.0, 0.3, 0.6, 0.9, 1.5]),
                       np.array([0.3, 0.6, 0.9, 1.5, 1.8]))
    art = articulate(ph, 100.0, 180, lead_s=0.0, targets=table, rest=shut, shut_pause_s=0.4)
    assert np.allclose(art.opening[37:53], table["rest"][0]) and table["rest"][0] > shut[0] + 0.05
    assert np.allclose(art.opening[97:143], shut[0])


def test_the_plan_bridges_a_short_pause_inside_speech_and_rests_shut_before_and_after_the_dub():
    """Real mouths stay parted through a short pause between words (on six real talking heads the dub's 0.2-0.4 s
    pauses found the real lips at 0.7 of their vowels' opening, shut in a tenth of the frames), so the plan keeps
    the lips apart through a 0.3 s pause, lower than the vowels around it, where it once held them at rest; a long
    pause (0.6 s) shuts them, and so does silence before the dub's first sound and after its last however short:
    the mouth does not take the first vowel's shape before anything is said."""
    from lipsync_studio.sync.builtin.planner import plan_mouths
    from lipsync_studio.sync.phones import PhoneSegments

    rng = np.random.default_rng(5)
    feats = np.stack([np.abs(rng.normal(0.12, 0.08, 300)), rng.normal(0.7, 0.04, 300)], 1)
    # 0.25 s of silence, "ah", a 0.3 s pause, "ah", a 0.6 s pause, "ah", 0.25 s of silence.
    ph = PhoneSegments(("SIL", "AA", "SIL", "AA", "SIL", "AA", "SIL"),
                       np.array([0.0, 0.25, 0.75, 1.05, 1.55, 2.15, 2.65]),
                       np.array([0.25, 0.75, 1.05, 1.55, 2.15, 2.65, 2.9]))
    t = np.arange(290) * 0.01
    level = np.where(np.isin(ph.at(t), [1, 3, 5]), 0.8, 0.02)
    targets, art, _ = plan_mouths(feats, None, ph, level, 100.0, 290, lead_s=0.0)
    gap, shut, span = targets.gap.astype(np.float64), targets.offset, targets.gain
    vowel = np.median(gap[40:60])
    assert vowel > shut + 0.5 * span
    short = gap[80:100]  # the middle of the short pause
    assert short.min() > shut + 0.2 * (vowel - shut) and short.max() < vowel
    assert np.allclose(gap[165:205], shut)  # the long pause, but for the lips' approach and release
    assert np.allclose(gap[:19], shut) and np.allclose(gap[272:], shut)  # before the first sound, after the last
    assert not art.closed.any()  # no p/b/m: nothing here is a closure


def test_a_mouth_opens_from_a_closure_over_frames_not_in_one_jump():
    """A closure released into an open vowel opens the mouth over two frames at 25 fps, as real mouths do (they
    rarely open more than half their range from one frame to the next), not from shut to wide in one (a speaker
    whose mouth runs 240 ms ahead of the sound reaches the vowel's shape before the lips part at the release);
    the lips still shut in one frame, and the vowel reaches its full opening."""
    from lipsync_studio.sync.builtin.planner import OPENING_RATE, plan_mouths
    from lipsync_studio.sync.phones import PhoneSegments

    rng = np.random.default_rng(4)
    feats = np.stack([np.abs(rng.normal(0.12, 0.08, 300)), rng.normal(0.7, 0.04, 300)], 1)
    ph = PhoneSegments(("AA", "M", "AA"), np.array([0.0, 0.5, 0.6]), np.array([0.5, 0.6, 1.2]))
    level = np.full(120, 0.8)
    targets, art, _ = plan_mouths(feats, None, ph, level, 25.0, 30, lead_s=0.24)
    gap = targets.gap.astype(np.float64)
    span = targets.gain
    shut = np.flatnonzero(art.closed)
    release = shut[-1] + 1
    assert gap[shut[0] - 1] - gap[shut[0]] > 0.5 * span  # shut in one frame
    assert np.all(np.diff(gap) <= OPENING_RATE * span / 25.0 + 1e-6)
    assert gap[release] < gap[shut[0]] + 0.9 * span  # opening over frames
    assert gap[release + 2] > gap[shut[0]] + 0.9 * span  # then open
    # The rate binds where the vowel's shape is reached before the lips part: a speaker's mouth held shut into it.
    from lipsync_studio.sync.builtin.planner import limit_opening_rate

    held = np.where(np.arange(30) < release + 3, gap[shut[0]], gap)
    limited = limit_opening_rate(held, span, 25.0)
    assert limited[release + 3] - limited[release + 2] == pytest.approx(OPENING_RATE * span / 25.0, rel=1e-4)
    assert limited[release + 5] == pytest.approx(held[release + 5])


def test_a_dub_heard_ahead_is_taken_up_by_the_sync_only_while_its_files_are_the_same(clip50, tmp_path):
    """The command line starts hearing the dub before it looks at the clip's layout; the engine takes that up,
    with the phones it would have heard itself and the notes a damaged file gives, and hears a file changed since
    anew."""
    from conftest import write_tone

    from lipsync_studio.media.warnings import collecting_media_warnings
    from lipsync_studio.sync.builtin import engine as E

    dub = write_tone(tmp_path / "dub.flac", 3.0)
    cut = dub.read_bytes()
    dub.write_bytes(cut[: len(cut) // 2])  # cut off: heard up to the cut, with a note saying so
    E.hear_ahead(clip50, dub)
    taken = E.BuiltinEngine()
    with collecting_media_warnings() as notes:
        taken.begin(clip50, dub)
    assert not E._AHEAD  # taken up
    assert notes and "dub.flac" in notes[0]  # said in the sync that took it up
    fresh = E.BuiltinEngine()
    with collecting_media_warnings():
        fresh.begin(clip50, dub)
    assert np.array_equal(taken._dub_wav, fresh._dub_wav) and np.array_equal(taken._clip_wav, fresh._clip_wav)
    assert [p.labels for p in taken._heard.result()] == [p.labels for p in fresh._heard.result()]

    E.hear_ahead(clip50, dub)
    write_tone(dub, 1.0, freq=300.0)  # replaced before the sync began: not the sound heard ahead
    changed = E.BuiltinEngine()
    changed.begin(clip50, dub)
    assert len(changed._dub_wav) == 16000 and len(E._AHEAD) == 1
    changed._heard.result()
    E._AHEAD.clear()


def test_a_clips_own_phones_are_heard_once_for_every_dub(clip50, tmp_path, monkeypatch):
    """A clip dubbed into several languages hears its own sound once: the second sync sends the recognizer only its
    dub and takes the clip's phones from the analysis cache, the same phones."""
    from conftest import write_tone

    from lipsync_studio.sync import phones as P
    from lipsync_studio.sync.builtin import engine as E

    sent, real = [], P.recognize_phones_async
    monkeypatch.setattr(P, "recognize_phones_async", lambda *waves: sent.append(len(waves)) or real(*waves))
    first, second = E.BuiltinEngine(), E.BuiltinEngine()
    first.begin(clip50, write_tone(tmp_path / "es.wav", 2.0))
    got1 = first._heard.result()
    second.begin(clip50, write_tone(tmp_path / "fr.wav", 3.0, freq=300.0))
    got2 = second._heard.result()
    assert sent == [2, 1]
    assert got2[1].labels == got1[1].labels and np.array_equal(got2[1].start, got1[1].start)
    assert len(got2[0].labels) and got2[0].end[-1] > 2.5  # the second dub's own phones


def test_a_dub_synced_again_is_not_heard_again(clip50, tmp_path, monkeypatch):
    """A second sync of the same dub (other settings, another take of the clip) takes the dub's phones from the
    analysis cache too, the same phones; a dub whose sound has changed since is heard anew."""
    from conftest import write_tone

    from lipsync_studio.sync import phones as P
    from lipsync_studio.sync.builtin import engine as E

    sent, real = [], P.recognize_phones_async
    monkeypatch.setattr(P, "recognize_phones_async", lambda *waves: sent.append(len(waves)) or real(*waves))
    dub = write_tone(tmp_path / "es.wav", 2.0)
    first, again = E.BuiltinEngine(), E.BuiltinEngine()
    first.begin(clip50, dub)
    got1 = first._heard.result()
    again.begin(clip50, dub)
    got2 = again._heard.result()
    assert sent == [2]
    for a, b in zip(got1, got2):
        assert a.labels == b.labels and np.array_equal(a.start, b.start) and np.array_equal(a.end, b.end)
    write_tone(dub, 3.0, freq=300.0)  # re-recorded under the same name
    changed = E.BuiltinEngine()
    changed.begin(clip50, dub)
    got3 = changed._heard.result()
    assert sent == [2, 1]
    assert got3[0].end[-1] > 2.5


def test_a_dub_edited_in_place_at_the_same_length_is_heard_anew(clip50, tmp_path, monkeypatch):
    """A line re-recorded and the dub exported again under its name, the same size: the phones come from the new
    sound, not the cache (a file fingerprint reads only some of a 1.9 MB WAV's blocks; the edit lies between them)."""
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.sync import phones as P
    from lipsync_studio.sync.builtin import engine as E

    sent, real = [], P.recognize_phones_async
    monkeypatch.setattr(P, "recognize_phones_async", lambda *waves: sent.append(len(waves)) or real(*waves))
    sr, seconds = 48000, 10.0
    t = np.arange(int(sr * seconds)) / sr
    take = 0.3 * np.sin(2 * np.pi * 220.0 * t) * (np.sin(2 * np.pi * 3.0 * t) > 0)
    dub = write_audio(tmp_path / "dub.wav", np.stack([take, take]).astype(np.float32), sr)
    size = dub.stat().st_size
    first = E.BuiltinEngine()
    first.begin(clip50, dub)
    first._heard.result()
    # 0.1 s re-recorded halfway between two of the blocks a fingerprint reads (every 16th of the file, 64 KB each).
    gap_mid = (size * 7 // 16 + (1 << 16) + size * 8 // 16) // 2
    s0 = (gap_mid - 44) // 4 - sr // 20  # 16-bit stereo after a 44-byte header: 4 bytes a sample
    edited = take.copy()
    edited[s0:s0 + sr // 10] = 0.3 * np.sin(2 * np.pi * 700.0 * t[s0:s0 + sr // 10])
    write_audio(dub, np.stack([edited, edited]).astype(np.float32), sr)
    assert dub.stat().st_size == size
    again = E.BuiltinEngine()
    again.begin(clip50, dub)
    again._heard.result()
    assert sent == [2, 1]  # heard again (the clip's own sound from the cache)


def test_a_language_tag_names_the_espeak_voice_of_that_language():
    """A batch row names its language as a BCP 47 tag; espeak-ng reads the script with that voice where it has one
    (Latin American Spanish, Brazilian Portuguese), else with the language's main voice (Canadian French)."""
    from lipsync_studio.sync.phones import espeak_voice

    assert espeak_voice("es-419") == "es-419" and espeak_voice("pt-BR") == "pt-br"
    assert espeak_voice("fr-CA") == "fr" and espeak_voice("de") == "de"
