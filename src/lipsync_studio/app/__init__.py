"""The app's model, without Qt: what the window shows and runs, as plain Python the window wraps.

- :mod:`.jobs`: long jobs as tasks for the window's worker thread (the one sync job, previews, export);
- :mod:`.faces`: face tracking as a job, the 3D mesh of any frame, the OBJ export job; :mod:`.mesh`: the
  mesh the 3D view draws;
- :mod:`.capabilities`: the engines the Run panel offers (Wav2Lip once its weights are in), the devices;
- :mod:`.waveforms`: min/max envelopes of the clip's sound and the dub; :mod:`.timecode`: ``HH:MM:SS:FF``;
- :mod:`.media_files`: which files are clips and which are dubs.

Everything here is importable and testable without a display; ``lipsync_studio.ui`` imports it, never the
other way round.
"""
