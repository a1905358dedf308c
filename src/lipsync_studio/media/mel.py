"""Wav2Lip's audio features: an 80-band log-mel spectrogram at 80 columns per second, cut per video frame.

The recipe reproduces the official Wav2Lip code (``audio.py``/``hparams.py``, librosa 0.7 era) so that
its checkpoints hear what they were trained on:

1. 16 kHz mono, pre-emphasis ``y[n] = x[n] - 0.97 x[n-1]``;
2. STFT: n_fft 800, hop 200 (12.5 ms), window 800 (periodic Hann), centred with **reflect** padding
   (librosa ≥ 0.10 pads with zeros by default, which changes the first and last columns);
3. magnitude (not power), 80 slaney-normalised mel bands from 55 to 7600 Hz;
4. ``S = 20·log10(max(1e-5, M)) − 20`` dB, then ``clip(8·(S + 100)/100 − 4, −4, 4)``.

The STFT is computed here with numpy in float64, in blocks, so a 10-minute track needs a few tens of MB
rather than the ~300 MB a full complex spectrogram would take. The window, the pre-emphasis and librosa's
slaney mel filter bank are computed here too (equal bit for bit, see the tests): importing scipy.signal and
librosa costs ~2 s, more than the built-in engine needs to plan a short clip.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

__all__ = [
    "HOP_LENGTH",
    "MEL_COLS_PER_SECOND",
    "MEL_MIN",
    "MEL_WINDOW",
    "N_FFT",
    "N_MELS",
    "SAMPLE_RATE",
    "frame_loudness",
    "mel_window_starts",
    "mel_windows",
    "preemphasis",
    "wav2lip_mel",
]

SAMPLE_RATE = 16000  #: Hz; Wav2Lip's audio rate.
N_FFT = 800  #: STFT size (50 ms at 16 kHz).
HOP_LENGTH = 200  #: STFT hop (12.5 ms), hence 80 columns per second.
WIN_LENGTH = 800  #: Hann window length.
N_MELS = 80  #: mel bands.
FMIN, FMAX = 55.0, 7600.0  #: mel filter bank range (Hz).
MEL_COLS_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  #: 80.
MEL_WINDOW = 16  #: mel columns per video frame (200 ms), ``mel_step_size`` in Wav2Lip.
MEL_MIN = -4.0  #: the value of silence (and the lower clip) in the normalised mel.
MEL_MAX = 4.0

_PREEMPHASIS = 0.97
_MIN_LEVEL_DB = -100.0  # amplitude floor 1e-5
_REF_LEVEL_DB = 20.0
_STFT_BLOCK = 4096  # STFT columns computed at once (~26 MB of float64 work arrays)
_LOUDNESS_FLOOR_DB = -100.0


def preemphasis(wav: np.ndarray, k: float = _PREEMPHASIS) -> np.ndarray:
    """Pre-emphasis filter ``y[n] = x[n] − k·x[n−1]`` (first sample unchanged), as Wav2Lip applies it.

    Parameters
    ----------
    wav:
        (N,) samples.
    k:
        Filter coefficient; 0.97 in Wav2Lip.

    Returns
    -------
    numpy.ndarray
        (N,) filtered samples, in the floating dtype of ``wav`` (float64 for integer input).
    """
    x = np.asarray(wav)
    x = x.astype(np.float64) if x.dtype != np.float64 else x  # as scipy's lfilter: float64 out
    y = np.empty_like(x)
    y[..., :1] = x[..., :1]
    y[..., 1:] = x[..., 1:] + (-k) * x[..., :-1]
    return y


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per 6.4x)."""
    f = np.asarray(f, np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_mel = 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = f >= 1000.0
    mels = np.where(log_t, min_log_mel + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, mels)
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_mel = 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    freqs[log_t] = 1000.0 * np.exp(logstep * (mels[log_t] - min_log_mel))
    return freqs


def slaney_mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, n_fft/2 + 1) float32 triangular mel filters with slaney area normalisation.

    The same numbers as ``librosa.filters.mel(sr=…, n_fft=…, n_mels=…, fmin=…, fmax=…)`` (htk=False,
    norm='slaney', float32): the weights are rounded to float32 before the normalisation, as there.
    """
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    """(80, 401) float64 slaney mel filter bank, computed once."""
    basis = slaney_mel_basis(SAMPLE_RATE, N_FFT, N_MELS, FMIN, FMAX)
    basis = basis.astype(np.float64)  # librosa's float32 values, as the official code used them
    basis.setflags(write=False)
    return basis


@lru_cache(maxsize=1)
def _hann_window() -> np.ndarray:
    """(800,) periodic Hann window (librosa's ``get_window('hann', 800, fftbins=True)``)."""
    # scipy's recipe for a periodic window: one more point of the symmetric cosine sum, the last one dropped.
    window = np.zeros(WIN_LENGTH + 1)
    window += 0.5 * np.cos(0 * np.linspace(-np.pi, np.pi, WIN_LENGTH + 1))
    window += 0.5 * np.cos(1 * np.linspace(-np.pi, np.pi, WIN_LENGTH + 1))
    window = window[:-1]
    window.setflags(write=False)
    return window


def wav2lip_mel(wav16k: np.ndarray) -> np.ndarray:
    """The normalised log-mel spectrogram Wav2Lip's audio encoder expects.

    Parameters
    ----------
    wav16k:
        (N,) mono samples at 16 kHz, float in [-1, 1] (as :func:`~lipsync_studio.media.audio.load_audio`
        returns them). N ≥ 1.

    Returns
    -------
    numpy.ndarray
        (80, T) float32 in [-4, 4], T = 1 + N // 200 (80 columns per second). Column t is centred on
        sample 200·t.

    Raises
    ------
    ValueError
        The input is not 1-D, is empty, or holds NaN/inf; or the result holds NaN (Wav2Lip's check:
        perfectly synthetic audio, e.g. some TTS voices, can need a little noise added).
    """
    wav = np.asarray(wav16k)
    if wav.ndim != 1:
        raise ValueError(f"wav2lip_mel expects mono audio of shape (N,), got shape {wav.shape}")
    if wav.size == 0:
        raise ValueError("wav2lip_mel got empty audio (0 samples)")
    if not np.all(np.isfinite(wav)):
        raise ValueError(
            "the audio contains NaN or infinite samples; it cannot be turned into a mel spectrogram"
        )

    emphasised = preemphasis(wav.astype(np.float64, copy=False))
    pad = N_FFT // 2
    # librosa 0.7 (used by Wav2Lip) pads with reflect (a single sample reflects to a constant).
    padded = np.pad(emphasised, pad, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]  # (T, 800) view
    n_cols = frames.shape[0]
    assert n_cols == 1 + wav.size // HOP_LENGTH

    basis, window = _mel_basis(), _hann_window()
    mel = np.empty((N_MELS, n_cols), dtype=np.float64)
    for start in range(0, n_cols, _STFT_BLOCK):
        block = frames[start : start + _STFT_BLOCK] * window  # (B, 800)
        magnitude = np.abs(np.fft.rfft(block, n=N_FFT, axis=1))  # (B, 401)
        mel[:, start : start + block.shape[0]] = basis @ magnitude.T

    db = 20.0 * np.log10(np.maximum(10.0 ** (_MIN_LEVEL_DB / 20.0), mel)) - _REF_LEVEL_DB
    normalised = np.clip(
        (2 * MEL_MAX) * ((db - _MIN_LEVEL_DB) / -_MIN_LEVEL_DB) - MEL_MAX, MEL_MIN, MEL_MAX
    ).astype(np.float32)
    if np.isnan(normalised).any():
        raise ValueError(
            "the mel spectrogram contains NaN; if the audio is a synthetic (TTS) voice, add a little "
            "noise (e.g. 1e-5 amplitude) and try again"
        )
    return normalised


def mel_window_starts(n_frames: int, fps: float | Fraction, n_mel_cols: int) -> np.ndarray:
    """First mel column of each video frame's 16-column window, exactly as Wav2Lip's inference cuts them.

    Frame i starts at ``int(i * (80. / fps))``: the multiplier ``80/fps`` is rounded to a float first
    and then multiplied, as in the official ``inference.py``. This is not always the exact rational
    ``floor(80 i / fps)`` (at 24000/1001 fps they differ from frame 300 on, by one column), nor always
    ``int(i * 80 / fps)``; the official rounding is kept for parity. A Fraction fps (30000/1001) is
    converted with ``float(fps)``, which gives the same double as OpenCV's ``CAP_PROP_FPS``.

    A window that would run past the end of the mel (``start + 16 > n_mel_cols``) is the final 16
    columns instead, which is the last chunk Wav2Lip appends. Unlike the official loop, which stops at
    the first such frame, every one of the ``n_frames`` frames gets a window: frames beyond the audio all
    get the final one (callers decide whether to trim the video).

    Parameters
    ----------
    n_frames:
        Number of video frames.
    fps:
        Video frame rate (frames/s), float or Fraction, > 0.
    n_mel_cols:
        Columns T of the mel spectrogram. When T < 16 every start is 0 (see :func:`mel_windows`).

    Returns
    -------
    numpy.ndarray
        (n_frames,) int64 column indices.
    """
    if n_frames < 0:
        raise ValueError(f"n_frames must be ≥ 0, got {n_frames}")
    fps_f = float(fps)
    if not np.isfinite(fps_f) or fps_f <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    multiplier = float(MEL_COLS_PER_SECOND) / fps_f  # Wav2Lip's mel_idx_multiplier = 80./fps
    # float64(i) * multiplier is the same IEEE operation as Python's `i * multiplier` for i < 2**53,
    # and astype truncates toward zero like int() (the values are ≥ 0).
    starts = (np.arange(n_frames, dtype=np.float64) * multiplier).astype(np.int64)
    return np.minimum(starts, max(n_mel_cols - MEL_WINDOW, 0))


def mel_windows(mel: np.ndarray, fps: float | Fraction, n_frames: int) -> np.ndarray:
    """Cut the mel spectrogram into one 16-column window per video frame (Wav2Lip's ``mel_chunks``).

    Parameters
    ----------
    mel:
        (80, T) normalised mel from :func:`wav2lip_mel`.
    fps:
        Video frame rate (frames/s), float or Fraction.
    n_frames:
        Number of video frames.

    Returns
    -------
    numpy.ndarray
        (n_frames, 80, 16) float32; window i is ``mel[:, s_i : s_i + 16]`` with ``s_i`` from
        :func:`mel_window_starts`. A mel shorter than 16 columns is padded on the right with -4
        (silence).
    """
    mel = np.asarray(mel, dtype=np.float32)
    if mel.ndim != 2:
        raise ValueError(f"mel must have shape (n_mels, T), got {mel.shape}")
    if mel.shape[1] < MEL_WINDOW:
        mel = np.pad(mel, ((0, 0), (0, MEL_WINDOW - mel.shape[1])), constant_values=MEL_MIN)
    starts = mel_window_starts(n_frames, fps, mel.shape[1])
    views = np.lib.stride_tricks.sliding_window_view(mel, MEL_WINDOW, axis=1)  # (80, T-15, 16)
    return np.ascontiguousarray(views[:, starts, :].transpose(1, 0, 2))


def frame_loudness(wav: np.ndarray, sr: int, fps: float | Fraction, n_frames: int) -> np.ndarray:
    """Loudness of the audio at each video frame, in dB relative to full scale (RMS).

    Frame i's value is the RMS of the samples within half a frame of its time i/fps, i.e. over
    ``[round((i − ½)·sr/fps), round((i + ½)·sr/fps))``; these windows tile the track without overlap.
    The reference is an RMS of 1.0, so a full-scale sine reads −3.01 dB and silence −100 dB (the floor).
    Windows clipped by the start or end of the audio use the samples that exist; frames after the
    end of the audio read −100 dB.

    Parameters
    ----------
    wav:
        (N,) mono samples, float in [-1, 1].
    sr:
        Sample rate of ``wav`` (Hz).
    fps:
        Video frame rate (frames/s), float or Fraction.
    n_frames:
        Number of video frames.

    Returns
    -------
    numpy.ndarray
        (n_frames,) float32 dBFS, ≥ −100.
    """
    wav = np.asarray(wav)
    if wav.ndim != 1:
        raise ValueError(f"frame_loudness expects mono audio of shape (N,), got shape {wav.shape}")
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    fps_f = float(fps)
    if not np.isfinite(fps_f) or fps_f <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if n_frames < 0:
        raise ValueError(f"n_frames must be ≥ 0, got {n_frames}")
    loudness = np.full(n_frames, _LOUDNESS_FLOOR_DB, dtype=np.float32)
    n = wav.size
    if n == 0 or n_frames == 0:
        return loudness

    samples_per_frame = sr / fps_f
    bounds = np.rint((np.arange(n_frames + 1, dtype=np.float64) - 0.5) * samples_per_frame)
    bounds = np.clip(bounds, 0, n).astype(np.int64)  # window i is [bounds[i], bounds[i+1])
    counts = np.diff(bounds)
    valid = counts > 0
    if not valid.any():
        return loudness

    # Windows tile the track, so one reduceat over the squared samples gives every window's sum
    # (float64 accumulation, float32 squares: 4 bytes per sample of scratch memory).
    starts = bounds[:-1][valid]
    end = int(bounds[1:][valid][-1])
    squares = np.square(wav[:end], dtype=np.float32)
    sums = np.add.reduceat(squares, starts, dtype=np.float64)
    power = sums / counts[valid]
    loudness[valid] = 10.0 * np.log10(np.maximum(power, 10.0 ** (_LOUDNESS_FLOOR_DB / 10.0)))
    return loudness
