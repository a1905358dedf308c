"""Media the project makes for itself: synthetic speech, a talking face, stereo pairs.

Nothing here is downloaded or written to disk: speech comes from a formant synthesiser (or espeak-ng
where installed), the face from the astronaut photo that ships with scikit-image, the stereo pairs
from a forward warp with known disparity. Tests, the demo and features build their clips from these.
"""

from __future__ import annotations

from lipsync_studio.samples.face_clip import (
    PHOTO_OPENING,
    face_box,
    render_face,
    talking_clip,
    talking_face_frames,
    write_talking_720p,
)
from lipsync_studio.samples.head_motion import head_poses
from lipsync_studio.samples.speech import espeak_speech, random_syllables, synth_speech
from lipsync_studio.samples.speech_sample import SpeechSample
from lipsync_studio.samples.stereo_pair import (
    face_disparity,
    stereo_talking_frames,
    synthesize_right_view,
)

__all__ = [
    "PHOTO_OPENING",
    "SpeechSample",
    "espeak_speech",
    "face_box",
    "face_disparity",
    "head_poses",
    "random_syllables",
    "render_face",
    "stereo_talking_frames",
    "synth_speech",
    "synthesize_right_view",
    "talking_clip",
    "talking_face_frames",
    "write_talking_720p",
]
