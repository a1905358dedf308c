"""The words the app uses for each choice, in one place: the Run panel, the Export dialog and the messages
that say what changed all name an option the same way ("Ping-pong the picture", never "pingpong")."""

from __future__ import annotations

#: Picture policy when the dub is longer than the clip: (value, label).
EXTEND = (("pingpong", "Ping-pong the picture"), ("hold", "Hold the last frame"), ("loop", "Loop the clip"),
          ("trim-audio", "Cut the dub"))
#: When the dub is shorter than the clip.
SHORTEN = (("trim-picture", "End the picture with the dub"), ("pad-silence", "Keep the whole clip"))
#: Encoder settings of a run.
QUALITY = (("preview", "Preview (fast)"), ("final", "Final (best)"))
#: How a stereo clip's eyes are synced.
STEREO_MODES = (("consistent", "Consistent eyes"), ("independent", "Each eye alone"), ("cycle", "Cycle model"))
#: Stereo packings (the clip's, and an output's).
LAYOUTS = (("same", "Same as the clip"), ("mono", "2D (mono)"), ("sbs", "Side-by-side, full"), ("half-sbs", "Side-by-side, half"),
           ("tb", "Top-bottom, full"), ("half-tb", "Top-bottom, half"), ("anaglyph", "Red-cyan anaglyph"),
           ("separate", "Two files, one per eye"), ("sbs-rl", "Side-by-side, right eye first"),
           ("half-sbs-rl", "Side-by-side half, right first"), ("tb-rl", "Bottom-top, full"),
           ("half-tb-rl", "Bottom-top, half"))


def _label(table: tuple[tuple[str, str], ...], value: object) -> str:
    return dict(table).get(str(value), str(value))


def extend_label(value: object) -> str:
    """``"pingpong"`` → ``"Ping-pong the picture"``."""
    return _label(EXTEND, value)


def shorten_label(value: object) -> str:
    """``"pad-silence"`` → ``"Keep the whole clip"``."""
    return _label(SHORTEN, value)


def stereo_mode_label(value: object) -> str:
    """``"consistent"`` → ``"Consistent eyes"``."""
    return _label(STEREO_MODES, value)


def layout_label(value: object) -> str:
    """``"sbs"`` → ``"Side-by-side, full"``."""
    return _label(LAYOUTS, value)


def engine_label(value: object) -> str:
    """``"builtin"`` → ``"Built-in (no weights)"`` (the Run panel's Engine box)."""
    from .capabilities import _ENGINE_WORDS

    return _ENGINE_WORDS.get(str(value), (str(value), ""))[0]


#: What the app does instead when a model's weights are missing (the Models dialog says it beside each).
WITHOUT_MODEL = {
    "wav2lip": "the built-in engine syncs the mouth (no network: mouths planned from the dub and drawn from the "
               "clip's own frames)",
    "wav2lip_gan": "wav2lip.pth when it is installed, else the built-in engine",
    "lipsync_expert": "the sync is still measured (the phonetic score and the loudness measure), without the "
                      "expert's cosine",
    "syncnet_v2": "no LSE-D / LSE-C; the built-in sync measure is shown instead",
    "prnet": "the MediaPipe face mesh (468 points a frame) is shown and exported",
    "stereo_cycle": "the stereo modes “Consistent eyes” and “Each eye alone” (the “Cycle model” mode is off)",
}
#: What doing without each model costs (the Models dialog says it after what is used instead).
WITHOUT_MODEL_COST = {
    "wav2lip": "only mouth shapes the clip itself shows can be drawn: a speaker who never opens wide cannot say "
               "a wide “a”",
    "wav2lip_gan": "nothing while wav2lip.pth is there (the GAN only sharpens the generated mouth)",
    "lipsync_expert": "one measure fewer; the verdicts against real speech do not use it",
    "syncnet_v2": "results cannot be compared with the LSE numbers papers publish",
    "prnet": "a coarser face: 468 points instead of PRNet's dense mesh of the whole face",
    "stereo_cycle": "no learned right eye: it follows the left eye through the measured disparity instead",
}


def without_model(model_id: str) -> str:
    """What the app does without ``model_id``'s weights and what that costs, in one sentence ("" if unknown)."""
    instead, cost = WITHOUT_MODEL.get(model_id, ""), WITHOUT_MODEL_COST.get(model_id, "")
    return f"{instead}. Cost: {cost}" if instead and cost else instead
