"""How the English-trained phone recognizer does on other languages (espeak-ng speech, its text known).

For each language, espeak-ng speaks a few sentences; the reference is the text's phones force-aligned to that
sound (espeak-ng's phonemes mapped to ARPAbet, placed by PocketSphinx); the test is all-phone recognition of
the sound alone. Printed per language, on 10 ms frames: how often the recognised viseme class equals the
aligned one, speech/silence agreement, and per p/b/m of the text whether a recognised p/b/m lies within
40 ms of it (recall), and per recognised p/b/m whether the text has one there (precision); then the
correlation of the two articulated mouth tracks (opening, spread) at 25 fps.

usage: python bench/phones_languages.py
"""

from __future__ import annotations

import numpy as np

SENTENCES = {
    "en-us": "Maybe Bob will bring a map of the moon. We hope you remember to put the blue boots by the bed.",
    "de": "Wir müssen morgen früh nach Berlin fahren. Bitte bring mir die blaue Mappe, bevor du gehst.",
    "fr": "Bonjour, je suis très heureux de vous voir. Mon ami a mangé une pomme au bord du bateau.",
    "es": "Buenos días, mi amigo. Vamos a comer manzanas en la playa bonita, por favor.",
}


def main() -> None:
    from lipsync_studio.samples.speech import espeak_speech
    from lipsync_studio.sync.phones import Cue, align_script, recognize_phones
    from lipsync_studio.sync.visemes import BILABIAL, PHONE_CLASS, articulate

    for lang, text in SENTENCES.items():
        audio = espeak_speech(text, voice=lang).audio
        ref = align_script(audio, [Cue(text)], lang)
        rec = recognize_phones(audio)
        t = np.arange(0, len(audio) / 16000, 0.01)
        lab = lambda s: np.array([PHONE_CLASS.get(p, "rest") for p in s.labels] + ["rest"], dtype=object)[s.at(t)]  # noqa: E731
        a, b = lab(ref), lab(rec)
        speech = (a != "rest") | (b != "rest")
        bil_ref = [0.5 * (s + e) for p, s, e in zip(ref.labels, ref.start, ref.end) if p in BILABIAL]
        bil_rec = [0.5 * (s + e) for p, s, e in zip(rec.labels, rec.start, rec.end) if p in BILABIAL]
        near = lambda x, ys: bool(len(ys)) and np.min(np.abs(np.asarray(ys) - x)) <= 0.04  # noqa: E731
        recall = np.mean([near(x, bil_rec) for x in bil_ref]) if bil_ref else float("nan")
        precision = np.mean([near(x, bil_ref) for x in bil_rec]) if bil_rec else float("nan")
        n = int(len(audio) / 16000 * 25)
        ar, aa = articulate(ref, 25.0, n), articulate(rec, 25.0, n)
        r_open = float(np.corrcoef(ar.opening, aa.opening)[0, 1])
        r_spread = float(np.corrcoef(ar.spread, aa.spread)[0, 1])
        print(f"{lang:6s} aligned as {ref.source:10s} class agreement {np.mean(a[speech] == b[speech]):.2f}  "
              f"speech/silence {np.mean((a == 'rest') == (b == 'rest')):.2f}  p/b/m recall {recall:.2f} "
              f"({len(bil_ref)}) precision {precision:.2f} ({len(bil_rec)})  track r open {r_open:.2f} "
              f"spread {r_spread:.2f}", flush=True)


if __name__ == "__main__":
    main()
