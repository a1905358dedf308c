"""How well the lips shut for p/b/m and only for them, on speech with known words (espeak-ng, one word at a time).

Twenty two-syllable words with a word-medial p/b/m ("happy", "lemon", ...) and twenty with a medial t/d/n/k/g
instead ("attic", "sunny", ...), shuffled, spoken by four espeak-ng voices with 0.4 s and 0.05 s between words.
Per word: does any 25 fps frame in its interior (70 ms in from either end, so the word's edges and the pauses
do not count) shut the lips? Recall: share of p/b/m words that shut; precision: share of shutting words that
have a p/b/m. Printed for the recognised phones alone (``phones``), and with the missed p/b/m found by their
sound (``+ rescue``, :func:`lipsync_studio.sync.visemes.rescue_bilabials`); then the share of frames shut inside
words and between them (pauses rest shut).

usage: python bench/closures.py
"""

from __future__ import annotations

import numpy as np

POS = ("happy rabbit hammer lemon robin baby apple simple number camera tumble puppy summer hobby cabin ribbon "
       "copper paper timber rumble").split()
NEG = ("attic rocket ladder tiger sunny kitten city water letter sugar winter ticket lady dinner honey lucky bigger "
       "socket cotton donkey").split()
VOICES = ("en-us+f3", "en-us+m3", "en+m1", "en-us+f2")
FPS, LEAD = 25.0, 0.04


def main() -> None:
    from lipsync_studio.samples.speech import espeak_words
    from lipsync_studio.sync.acoustics import mouth_from_audio
    from lipsync_studio.sync.phones import recognize_phones
    from lipsync_studio.sync.visemes import articulate, fill_unheard_speech, rescue_bilabials

    counts = {k: dict(tp=0, fn=0, fp=0, tn=0) for k in ("phones", "+ rescue")}
    shut_in = shut_out = n_in = n_out = 0
    for v, voice in enumerate(VOICES):
        for gap in (0.4, 0.05):
            words = [(POS + NEG)[i] for i in np.random.default_rng(v).permutation(len(POS) + len(NEG))]
            got = espeak_words(words, voice=voice, gap_s=gap)
            if got is None:
                raise SystemExit("needs espeak-ng")
            wav, spans = got
            n = int(len(wav) / 16000 * FPS)
            track = mouth_from_audio(wav, FPS, n, LEAD)
            heard = fill_unheard_speech(recognize_phones(wav), track.level)
            t = np.arange(n) / FPS + LEAD
            for name, ph in (("phones", heard), ("+ rescue", rescue_bilabials(heard, wav))):
                art = articulate(ph, FPS, n, LEAD, level=track.level)
                for w, (s, e) in zip(words, spans):
                    hit = bool(art.closed[(t > s + 0.07) & (t < e - 0.07)].any())
                    counts[name][("tp" if hit else "fn") if w in POS else ("fp" if hit else "tn")] += 1
                if name == "+ rescue":
                    inside = np.zeros(n, bool)
                    for s, e in spans:
                        inside |= (t >= s) & (t <= e)
                    shut = art.closed | art.resting
                    shut_in += int(shut[inside].sum())
                    n_in += int(inside.sum())
                    shut_out += int(shut[~inside].sum())
                    n_out += int((~inside).sum())
    for name, c in counts.items():
        print(f"{name:9s} medial p/b/m: recall {c['tp'] / (c['tp'] + c['fn']):.2f}  "
              f"precision {c['tp'] / max(c['tp'] + c['fp'], 1):.2f}  ({c})")
    print(f"frames shut: inside words {shut_in / n_in:.2f}, between words {shut_out / n_out:.2f}")


if __name__ == "__main__":
    main()
