"""Sync a real talking head to espeak-ng dubs in other languages and measure the result (offset, phonetic parts).

usage: python bench/foreign_dub.py CLIP OUT_DIR [LANG ...]   (default languages: de fr es en-us)
Prints, per language: how the dub's phones were heard, the loudness measure's best offset (frames; + = the mouth
leads) and the phonetic sync parts, with and without the dub's text as a script.
"""

from __future__ import annotations

import sys
from pathlib import Path

SENTENCES = {
    "en-us": "Maybe Bob will bring a map of the moon. We hope you remember to put the blue boots by the bed.",
    "de": "Wir müssen morgen früh nach Berlin fahren. Bitte bring mir die blaue Mappe, bevor du gehst.",
    "fr": "Bonjour, je suis très heureux de vous voir. Mon ami a mangé une pomme au bord du bateau.",
    "es": "Buenos días, mi amigo. Vamos a comer manzanas en la playa bonita, por favor.",
}


def main() -> int:
    from lipsync_studio.engine.sync_job import SyncOptions, SyncRequest, run_sync
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.samples.speech import espeak_speech

    clip, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for lang in sys.argv[3:] or ["de", "fr", "es", "en-us"]:
        text = SENTENCES[lang]
        dub = write_audio(out / f"dub_{lang}.wav", espeak_speech(text, voice=lang).audio, 16000)
        script = out / f"dub_{lang}.txt"
        script.write_text(text)
        for with_script in (False, True):
            opts = SyncOptions(engine="builtin", script=script if with_script else None, script_lang=lang,
                               extend="loop")
            r = run_sync(SyncRequest(clip, dub, out / f"{clip.stem}_{lang}{'_script' if with_script else ''}.mp4", opts))
            p = r.sync.phonetic
            print(f"{lang:6s} script={'yes' if with_script else 'no ':3s} phones {r.engine_info.get('phones_from')}: "
                  f"offset {r.sync.offset_frames:+d}, loudness conf {r.sync.confidence:.2f}; {p.summary()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
