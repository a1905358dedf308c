"""Timed phones of speech: recognised (PocketSphinx all-phone mode) or aligned to a known text.

The recognizer is PocketSphinx's en-us acoustic model with its phone language model (both ship in the
``pocketsphinx`` wheel: no download). It returns CMU ARPAbet phones (AA … ZH) and ``SIL`` on a 10 ms grid.
The model is English-trained: on other languages it still hears where the lips close, round or spread
(a bilabial is a bilabial in any language), with more substitutions among vowels.

With the dub's text (:func:`read_script`), the phones are force-aligned instead: English words take their
pronunciations from the CMU dictionary, other words (and other languages) from espeak-ng's phonemes mapped onto
ARPAbet, and PocketSphinx places every phone in time. Where an alignment does not reach the end of its text
(speech that does not match it), that span keeps the recognised phones.

Decoding runs in a separate process (:func:`recognize_phones_async`), so it overlaps face tracking instead of
adding to the wall time (the decoder holds the interpreter lock while it works).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MediaError, OptionError

SR = 16000
FRAME_S = 0.01  # the recognizer's frame
#: The acoustic model's phones (context-independent), plus SIL.
ARPABET = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH "
           "SIL").split()
BLOCK_S = 60.0  # longer dubs are decoded in blocks cut at quiet moments (bounded decoder memory)


@dataclass(frozen=True)
class PhoneSegments:
    """Timed phones.

    Attributes
    ----------
    labels: ARPAbet phone per segment (``SIL`` for silence and noise).
    start, end: (N,) float64 seconds.
    source: ``recognized`` or ``aligned`` (``aligned+recognized`` when part of a script did not align).
    """

    labels: tuple[str, ...]
    start: np.ndarray
    end: np.ndarray
    source: str = "recognized"

    def __len__(self) -> int:
        return len(self.labels)

    def at(self, t: np.ndarray) -> np.ndarray:
        """(len(t),) index of the segment covering each time ``t`` (s); -1 outside all segments."""
        t = np.asarray(t, np.float64)
        k = np.searchsorted(self.start, t, side="right") - 1
        ok = (k >= 0) & (t < self.end[np.clip(k, 0, None)]) if len(self.labels) else np.zeros(len(t), bool)
        return np.where(ok, k, -1)

    def as_dict(self) -> dict:
        """Labels and times as plain data for JSON (:meth:`from_dict` reads them back)."""
        return {"labels": list(self.labels), "start": self.start.tolist(), "end": self.end.tolist()}

    @staticmethod
    def from_dict(d: dict) -> "PhoneSegments":
        """Recognised phones from :meth:`as_dict`'s data."""
        return PhoneSegments(tuple(d["labels"]), np.asarray(d["start"], np.float64), np.asarray(d["end"], np.float64))

    def shifted(self, seconds: float) -> "PhoneSegments":
        """The same phones ``seconds`` later."""
        return PhoneSegments(self.labels, self.start + seconds, self.end + seconds, self.source)

    @staticmethod
    def join(parts: list["PhoneSegments"], source: str | None = None) -> "PhoneSegments":
        """Concatenate segment lists (already in time order)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return PhoneSegments((), np.zeros(0), np.zeros(0), source or "recognized")
        return PhoneSegments(tuple(l for p in parts for l in p.labels), np.concatenate([p.start for p in parts]),
                             np.concatenate([p.end for p in parts]), source or parts[0].source)


def _model_dir() -> Path:
    from pocketsphinx import get_model_path

    return Path(get_model_path()) / "en-us"


def _pcm(wav16k: np.ndarray) -> bytes:
    """16-bit PCM with the speech peaks at a third of full scale (the recognizer's features are level-sensitive)
    and a faint noise floor (-50 dB): stretches of digital silence (a synthetic dub's pauses) otherwise derail
    the decoder's silence model and with it the timing of everything after them."""
    x = np.asarray(wav16k, np.float64)
    peak = float(np.percentile(np.abs(x), 99.9)) if len(x) else 0.0
    if peak > 1e-6:
        x = x * (0.35 / peak)
    x = x + np.random.default_rng(0).normal(0.0, 0.001, len(x))
    return (np.clip(x, -1.0, 1.0) * 32767).astype(np.int16).tobytes()


def _decoder(**kw):
    from pocketsphinx import Decoder

    m = _model_dir()
    return Decoder(hmm=str(m / "en-us"), loglevel="FATAL", dither=True, cmn="batch", **kw)


_per_thread = threading.local()


def _allphone_decoder():
    """This thread's all-phone decoder, its feature extraction started afresh (``reinit_feat``): the same phones as
    a decoder made anew (fifteen sounds, each after the others in three orders, to the 10 ms), without loading the
    acoustic model again (0.08 s a sound; the engine hears two). Without the fresh start the dither's random state
    carried over and a sound's phones depended on what was heard before it."""
    dec = getattr(_per_thread, "allphone", None)
    if dec is None:
        # Rhubarb Lip Sync's settings for the phonetic recognizer: context-independent phones, light LM weight.
        dec = _per_thread.allphone = _decoder(allphone=str(_model_dir() / "en-us-phone.lm.bin"), allphone_ci=True,
                                              lw=0.8, beam=1e-20, pbeam=1e-20)
    else:
        dec.reinit_feat()
    return dec


def _label(word: str) -> str:
    w = word.upper()
    return w if w in ARPABET and w != "SIL" else "SIL"


def _collect(timed) -> tuple[list[str], list[float], list[float]]:
    """Labels, starts and ends (s) from ``(symbol, start_s, end_s)`` in time order; consecutive silences merge."""
    labels, start, end = [], [], []
    for symbol, a, b in timed:
        lab = _label(symbol)
        if labels and labels[-1] == lab == "SIL":
            end[-1] = b
            continue
        labels.append(lab)
        start.append(a)
        end.append(b)
    return labels, start, end


def _segments_from(decoder, offset_s: float) -> PhoneSegments:
    labels, start, end = _collect((s.word, offset_s + s.start_frame * FRAME_S, offset_s + (s.end_frame + 1) * FRAME_S)
                                  for s in decoder.seg())
    return PhoneSegments(tuple(labels), np.array(start, np.float64), np.array(end, np.float64))


def _blocks(wav16k: np.ndarray, block_s: float = BLOCK_S) -> list[tuple[int, int]]:
    """Sample ranges of at most ``block_s``, cut at the quietest 10 ms of each block's last 5 s."""
    n = len(wav16k)
    size = int(block_s * SR)
    out, a = [], 0
    while n - a > size:
        lo, hi = a + size - 5 * SR, a + size
        frames = wav16k[lo:hi][: (hi - lo) // 160 * 160].reshape(-1, 160)
        cut = lo + int(np.argmin((frames.astype(np.float64) ** 2).sum(1))) * 160 + 80
        out.append((a, cut))
        a = cut
    out.append((a, n))
    return out


#: Digital silence put before the first and after the last sound when decoding (s): the decoder's silence model
#: needs some, and always the same amount makes the phones independent of how much silence a dub starts with.
EDGE_S = 0.3


def sounding_span(wav16k: np.ndarray) -> tuple[int, int]:
    """``a, b``: from the first to just after the last sample that is not digital silence (``0, 0`` when nothing
    sounds); ``a`` on the sound's own 10 ms grid, so a shift by whole recognizer frames (a video frame is four)
    keeps every analysis window over the same samples."""
    x = np.abs(np.asarray(wav16k, np.float32))
    peak = float(x.max()) if len(x) else 0.0
    loud = np.flatnonzero(x > max(1e-4 * peak, 1e-6))
    if not len(loud):
        return 0, 0
    hop = int(round(FRAME_S * SR))
    return int(loud[0]) // hop * hop, int(loud[-1]) + 1


def recognize_phones(wav16k: np.ndarray) -> PhoneSegments:
    """Timed phones of 16 kHz mono speech by all-phone recognition.

    Parameters
    ----------
    wav16k: (N,) float samples at 16 kHz.

    Returns
    -------
    The phones in time order, covering the whole sound (gaps are ``SIL``).

    Notes
    -----
    What is decoded is the sound from its first to its last sample that is not digital silence, with exactly
    :data:`EDGE_S` of silence put before and after it. The decoder's batch cepstral mean, the level and the
    noise floor under the speech (:func:`_pcm`) all depend on where the utterance begins, so decoding the
    leading silence as it is made the phones depend on it: a dub shifted later (it starts with inserted
    silence) was heard as other phones at other times. Now the same speech gets the same phones, shifted.
    """
    wav16k = np.asarray(wav16k, np.float32)
    dur = len(wav16k) / SR
    lo, hi = sounding_span(wav16k)
    if hi <= lo:
        return PhoneSegments(("SIL",), np.array([0.0]), np.array([dur])) if dur > 0 else PhoneSegments.join([])
    edge = np.zeros(int(round(EDGE_S * SR)), np.float32)
    sound = np.concatenate([edge, wav16k[lo:hi], edge])
    first = lo - len(edge)  # the sample of wav16k where ``sound`` begins (may be before its start)
    parts = []
    dec = _allphone_decoder()
    for a, b in _blocks(sound):
        if b - a < 160:
            continue
        dec.start_utt()
        dec.process_raw(_pcm(sound[a:b]), full_utt=True)
        dec.end_utt()
        parts.append(_segments_from(dec, (first + a) / SR))
    heard = _slice(PhoneSegments.join(parts, "recognized"), 0.0, dur)
    # Silence from the start and to the end wherever the decoded stretch does not reach.
    head = [PhoneSegments(("SIL",), np.array([0.0]), np.array([heard.start[0] if len(heard) else dur]))]
    tail = [PhoneSegments(("SIL",), np.array([heard.end[-1]]), np.array([dur]))] if len(heard) else []
    return _merge_silences(PhoneSegments.join(head + [heard] + tail, "recognized"))


def _merge_silences(seg: PhoneSegments) -> PhoneSegments:
    """Adjacent ``SIL`` segments as one (empty segments dropped)."""
    labels, start, end = [], [], []
    for lab, a, b in zip(seg.labels, seg.start, seg.end):
        if b <= a:
            continue
        if labels and labels[-1] == lab == "SIL":
            end[-1] = max(end[-1], float(b))
            continue
        labels.append(lab)
        start.append(float(a))
        end.append(float(b))
    return PhoneSegments(tuple(labels), np.array(start, np.float64), np.array(end, np.float64), seg.source)


def recognize_phones_async(*waves: np.ndarray) -> "Future[list[PhoneSegments]]":
    """Start :func:`recognize_phones` on each of ``waves`` in one separate process; ``.result()`` waits for the
    list of results (in the order given).

    The child is a plain ``python -m lipsync_studio.sync.phones`` (the samples go in on stdin, the phones come
    back as JSON): unlike a multiprocessing pool it never re-imports the caller's main module, and one child
    serves every sound (one interpreter start, one model load). A frozen app (no interpreter to start) hears in
    a thread instead.
    """
    import sys

    from ..media.prefetch import run_in_helper

    ws = [np.ascontiguousarray(w, dtype=np.float32) for w in waves]

    def hear() -> list[PhoneSegments]:
        # A helper thread (run_in_helper), and so is the child it starts: the tracking beside it is the critical path.
        try:
            if getattr(sys, "frozen", False):
                raise OSError("no interpreter")
            header = (json.dumps({"lengths": [len(w) for w in ws]}) + "\n").encode()
            seconds = sum(len(w) for w in ws) / SR
            # The samples go straight from the arrays to the pipe (no joined copy of every sound in this
            # process); the child reads all of them before it writes anything, so this cannot deadlock.
            with tempfile.TemporaryFile() as err, subprocess.Popen(
                    [sys.executable, "-m", "lipsync_studio.sync.phones"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=err) as child:
                timer = threading.Timer(max(120.0, 2 * seconds), child.kill)  # a stuck child: hear here instead
                timer.start()
                try:
                    child.stdin.write(header)
                    for w in ws:
                        child.stdin.write(memoryview(w).cast("B"))
                    child.stdin.close()
                    text = child.stdout.read()
                    child.wait()
                except BaseException:
                    child.kill()
                    raise
                finally:
                    timer.cancel()
                if child.returncode != 0:
                    err.seek(0)
                    raise OSError(err.read().decode(errors="replace")[-300:])
            return [PhoneSegments.from_dict(d) for d in json.loads(text)]
        except (OSError, ValueError, KeyError, subprocess.SubprocessError):  # no child here: hear in this one
            return [recognize_phones(w) for w in ws]

    return run_in_helper(hear, name="phones")


#: What the recognizer's phones of a sound depend on besides the sound itself (the analysis cache's key): its model
#: and settings (:func:`_allphone_decoder`), the samples it is given (16 kHz mono) and the timing rules of
#: :func:`recognize_phones`. Change it with any of them.
RECOGNIZER_KEY = "en-us allphone ci|lw 0.8|beams 1e-20|16k mono|edge and blocks v1"


def _phones_cache(wav16k: np.ndarray) -> Path:
    """Where the phones of these very samples are kept: keyed by all of them (the recognizer's whole input), not by
    the file they came from. A dub is edited where it lies (a line re-recorded, the file exported again under its
    name at the same length): the file's fingerprint, a sample of its blocks, would give the old phones back."""
    import hashlib

    from ..media.cache import keyed_path

    samples = hashlib.sha256(np.ascontiguousarray(wav16k, np.float32).tobytes()).hexdigest()
    return keyed_path("phones", samples, RECOGNIZER_KEY, suffix=".json")


def cached_phones(wav16k: np.ndarray) -> PhoneSegments | None:
    """The phones of these 16 kHz mono samples as :func:`store_phones` kept them, or None."""
    try:
        return PhoneSegments.from_dict(json.loads(_phones_cache(wav16k).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_phones(wav16k: np.ndarray, phones: PhoneSegments) -> None:
    """Keep the phones of these samples in the analysis cache (under a temporary name, then renamed; a cache that
    cannot be written is not an error)."""
    from ..media.cache import store

    store(_phones_cache(wav16k), lambda tmp: tmp.write_text(json.dumps(phones.as_dict())))


def _main() -> None:
    """``python -m lipsync_studio.sync.phones``: a JSON line ``{"lengths": [...]}``, then that many float32 16 kHz
    samples per sound on stdin; a JSON list of their phones on stdout."""
    import sys

    lengths = json.loads(sys.stdin.buffer.readline())["lengths"]
    data = np.frombuffer(sys.stdin.buffer.read(), np.float32)
    result, k = [], 0
    for n in lengths:
        seg = recognize_phones(data[k:k + n])
        k += n
        result.append(seg.as_dict())
    json.dump(result, sys.stdout)


# -- scripts ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cue:
    """A piece of the dub's text; ``start``/``end`` in seconds, or None for the whole dub."""

    text: str
    start: float | None = None
    end: float | None = None


_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")


def _seconds(m: re.Match) -> float:
    h = int(m.group(1) or 0)
    return h * 3600 + int(m.group(2)) * 60 + int(m.group(3)) + int(m.group(4).ljust(3, "0")) / 1000


def read_script(path: str | Path) -> list[Cue]:
    """The dub's text from a ``.txt`` (one cue: the whole dub), ``.srt`` or ``.vtt`` file (timed cues).

    Raises
    ------
    OptionError: unknown suffix, unreadable file, or no text in it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".srt", ".vtt"):
        raise OptionError("a script must be a .txt, .srt or .vtt file", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"cannot read the script ({exc.__class__.__name__}: {exc})", path=path) from exc
    cues: list[Cue] = []
    if suffix == ".txt":
        words = " ".join(text.split())
        if words:
            cues.append(Cue(words))
    else:
        for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
            lines = [l.strip() for l in block.strip().split("\n") if l.strip()]
            k = next((i for i, l in enumerate(lines) if "-->" in l), None)
            if k is None:
                continue
            times = list(_TIME.finditer(lines[k]))
            if len(times) < 2:
                raise OptionError(f"a cue's time line cannot be read: {lines[k]!r}", path=path)
            body = " ".join(lines[k + 1:])
            body = re.sub(r"<[^>]*>|\{[^}]*\}", " ", body)  # tags: <i>, <v Name>, {\an8}
            body = " ".join(body.split())
            if body:
                cues.append(Cue(body, _seconds(times[0]), _seconds(times[1])))
    if not cues:
        raise OptionError("the script holds no text", path=path)
    return cues


# -- pronunciations -----------------------------------------------------------------------------------
#: IPA (as espeak-ng writes it) → ARPAbet. Chosen by how the lips and jaw move first, then by sound: rounded
#: front vowels (y, ø, œ) go to rounded ARPAbet vowels, because the mouth shape is what the result shows.
IPA = {
    "i": "IY", "iː": "IY", "ɪ": "IH", "ɨ": "IH", "y": "UW", "yː": "UW", "ʏ": "UH", "e": "EY", "eː": "EY",
    "ɛ": "EH", "ɛː": "EH", "æ": "AE", "a": "AA", "aː": "AA", "ɑ": "AA", "ɑː": "AA", "ɐ": "AH", "ə": "AH",
    "ʌ": "AH", "ɜ": "ER", "ɜː": "ER", "ɚ": "ER", "ø": "OW", "øː": "OW", "œ": "AO", "ɔ": "AO", "ɔː": "AO",
    "o": "OW", "oː": "OW", "ɒ": "AA", "u": "UW", "uː": "UW", "ʊ": "UH", "ɯ": "UH",
    "aɪ": "AY", "aj": "AY", "aʊ": "AW", "aw": "AW", "ɔɪ": "OY", "ɔø": "OY", "ɔʏ": "OY", "eɪ": "EY", "ej": "EY",
    "oʊ": "OW", "əʊ": "OW", "ow": "OW", "eʊ": "EH UH", "ɪə": "IH AH", "eə": "EH AH", "ʊə": "UH AH",
    "p": "P", "b": "B", "β": "B", "m": "M", "ɱ": "M", "f": "F", "v": "V", "ʋ": "V", "θ": "TH", "ð": "DH",
    "t": "T", "d": "D", "n": "N", "ɲ": "N Y", "ŋ": "NG", "l": "L", "ɫ": "L", "ʎ": "L Y", "r": "R", "ɾ": "R",
    "ɹ": "R", "ʁ": "R", "ʀ": "R", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "ɕ": "SH", "ʑ": "ZH",
    "tʃ": "CH", "dʒ": "JH", "ts": "T S", "dz": "D Z", "pf": "P F", "k": "K", "ɡ": "G", "g": "G", "c": "K",
    "ɟ": "G", "x": "HH", "χ": "HH", "ç": "HH", "ɣ": "G", "h": "HH", "ɦ": "HH", "j": "Y", "w": "W", "ɥ": "W",
    "ʍ": "W", "ʔ": "",
}
_STRIP = str.maketrans("", "", "ˈˌ-‿̯̃͡ʰʲ̩ˑ")


def ipa_to_arpabet(token: str) -> list[str]:
    """ARPAbet phones for one espeak-ng IPA phoneme (or a run of them, read greedily)."""
    t = token.translate(_STRIP)
    out: list[str] = []
    i = 0
    while i < len(t):
        for size in (3, 2, 1):
            piece = t[i:i + size]
            if piece in IPA:
                out += IPA[piece].split()
                i += size
                break
        else:
            i += 1  # a symbol without a counterpart (tone marks, rare letters): the mouth ignores it
    return out


def espeak_voice(tag: str) -> str:
    """The espeak-ng voice for a language tag (BCP 47, as a batch manifest names a dub's language: ``es-419``,
    ``pt-BR``, ``fr``): the tag itself where espeak-ng has a voice of that name, else its language subtag (for
    which espeak-ng takes that language's main voice: ``fr-CA`` -> ``fr``)."""
    t = tag.strip().lower()
    return t if t in _espeak_voices() else t.split("-")[0]


@functools.lru_cache(maxsize=1)
def _espeak_voices() -> frozenset[str]:
    """The voice names espeak-ng lists (lower case); empty without espeak-ng."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        return frozenset()
    try:
        r = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(f[1].lower() for f in (line.split() for line in r.stdout.splitlines()[1:]) if len(f) > 1)


def espeak_phonemes(words: list[str], lang: str) -> list[list[str]]:
    """ARPAbet pronunciation of each word (espeak-ng, voice ``lang``), one list per word.

    Words are spoken one per clause, so each comes back on its own line.

    Raises
    ------
    OptionError: espeak-ng is missing or does not know the language.
    """
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise OptionError("espeak-ng is needed to read a script in a language other than English",
                          hint="install the espeak-ng package")
    if not words:
        return []
    text = "\n".join(f"{w}." for w in words)
    r = subprocess.run([exe, "-q", "--ipa", "--sep=_", "-v", lang, "--stdin"], input=text, capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0 or "not found" in r.stderr.lower():
        raise OptionError(f"espeak-ng cannot speak {lang!r}: {r.stderr.strip()[:200]}",
                          hint="`espeak-ng --voices` lists the languages")
    lines = [l.strip() for l in r.stdout.split("\n") if l.strip()]
    if len(lines) != len(words):  # espeak joined or split clauses: phonemize one by one
        lines = []
        for w in words:
            rr = subprocess.run([exe, "-q", "--ipa", "--sep=_", "-v", lang, w], capture_output=True, text=True,
                                timeout=30)
            lines.append(" ".join(rr.stdout.split()))
    return [[p for tok in re.split(r"[_\s]+", line) if tok for p in ipa_to_arpabet(tok)] for line in lines]


_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*", re.UNICODE)


def _is_english(lang: str) -> bool:
    return lang.lower().split("-")[0] == "en"


def align_script(wav16k: np.ndarray, cues: list[Cue], lang: str = "en-us",
                 recognized: PhoneSegments | None = None) -> PhoneSegments:
    """Timed phones of a dub whose text is known.

    Parameters
    ----------
    wav16k: (N,) the dub at 16 kHz.
    cues: the text (:func:`read_script`); timed cues are aligned within their own span (0.3 s of margin).
    lang: the text's language as an espeak-ng voice name (``en``, ``de``, ``fr``, ``es``, …).
    recognized: the all-phone result, kept where the text does not align (computed when needed).

    Returns
    -------
    Phones covering the whole dub: aligned inside the cues that aligned, recognised elsewhere.
    """
    wav16k = np.asarray(wav16k, np.float32)
    dur = len(wav16k) / SR
    dec = _decoder(dict=str(_model_dir() / "cmudict-en-us.dict"), beam=1e-60, pbeam=1e-60, wbeam=1e-40)
    english = _is_english(lang)
    # Pronunciations: the dictionary for English words it knows, espeak-ng for everything else. Each
    # cue's words become dictionary entries of their own so a foreign word never meets an English homograph.
    cue_words = [[w.lower() for w in _WORD.findall(c.text)] for c in cues]
    need = sorted({w for ws in cue_words for w in ws if not english or dec.lookup_word(w) is None})
    prons = dict(zip(need, espeak_phonemes(need, lang))) if need else {}
    names: dict[str, str] = {}
    usable = [(w, ph) for w, ph in prons.items() if ph]
    for k, (w, ph) in enumerate(usable):
        names[w] = f"x{k}"
        dec.add_word(names[w], " ".join(ph), update=k == len(usable) - 1)
    spans, aligned = [], []
    for cue, words in zip(cues, cue_words):
        a = 0.0 if cue.start is None else max(0.0, cue.start - 0.3)
        b = dur if cue.end is None else min(dur, cue.end + 0.3)
        tokens = [names.get(w, w if english and w not in prons else "") for w in words]
        tokens = [t for t in tokens if t]
        if not tokens or b - a < 0.1:
            continue
        seg = _align_span(dec, wav16k[int(a * SR):int(b * SR)], tokens)
        if seg is not None:
            spans.append((a, b))
            aligned.append(seg.shifted(a))
    if not aligned:
        rec = recognized if recognized is not None else recognize_phones(wav16k)
        return PhoneSegments(rec.labels, rec.start, rec.end, "recognized")
    # Fill what the cues do not cover with the recognised phones.
    covered = [(s.start[0], s.end[-1]) for s in aligned]
    if all(abs(lo) < 0.02 and hi > dur - 0.05 for lo, hi in covered[:1]) and len(aligned) == len(cues) == 1:
        return PhoneSegments(aligned[0].labels, aligned[0].start, aligned[0].end, "aligned")
    rec = recognized if recognized is not None else recognize_phones(wav16k)
    parts, t = [], 0.0
    for (lo, hi), seg in zip(covered, aligned):
        parts.append(_slice(rec, t, lo))
        parts.append(seg)
        t = hi
    parts.append(_slice(rec, t, dur))
    source = "aligned" if len(aligned) == len(cues) else "aligned+recognized"
    return PhoneSegments.join(parts, source)


def _slice(seg: PhoneSegments, a: float, b: float) -> PhoneSegments:
    """The segments of ``seg`` within [a, b), clipped to it."""
    if b <= a or not len(seg):
        return PhoneSegments((), np.zeros(0), np.zeros(0))
    keep = (seg.end > a) & (seg.start < b)
    idx = np.flatnonzero(keep)
    return PhoneSegments(tuple(seg.labels[i] for i in idx), np.clip(seg.start[idx], a, b),
                         np.clip(seg.end[idx], a, b), seg.source)


def _align_span(dec, wav: np.ndarray, tokens: list[str]) -> PhoneSegments | None:
    """Force-align ``tokens`` (dictionary words) to ``wav``; None when the alignment does not reach the end.

    Two passes: the words in time, then their phones. The sound is decoded with :data:`EDGE_S` of silence before
    and after it, as recognition decodes it: without, a text whose speech starts or ends at the sound's edge (a
    dub cut from a longer take) was not aligned to its end in 5 of 12 real dubs with their own words as the text.
    Where the phone pass fails (PocketSphinx's ``end_utt`` then raises "Failed to stop utterance processing"; in 6
    of those 13 texts, an espeak-ng sentence with its own text among them: it stopped the whole sync with an
    internal error), each word keeps its time from the first pass and its dictionary phones share it, a vowel
    twice a consonant's share (:func:`_spread_phones`).
    """
    edge = np.zeros(int(round(EDGE_S * SR)), np.float32)
    pcm = _pcm(np.concatenate([edge, np.asarray(wav, np.float32), edge]))
    try:
        dec.set_align_text(" ".join(tokens))
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        if hyp is None or len(hyp.hypstr.split()) < len(tokens):
            return None
        words = [(s.word, s.start_frame, s.end_frame + 1) for s in dec.seg()]
    except RuntimeError:
        return None
    timed: list[tuple[str, float, float]] = []
    try:
        dec.set_alignment()
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        al = dec.get_alignment()
        if al is not None:
            timed = [(ph.name, ph.start * FRAME_S, (ph.start + ph.duration) * FRAME_S) for word in al for ph in word]
    except RuntimeError:
        timed = []
    if not timed:
        timed = _spread_phones(dec, words)
    labels, start, end = _collect((name, a - EDGE_S, b - EDGE_S) for name, a, b in timed)
    if not labels:
        return None
    seg = _slice(PhoneSegments(tuple(labels), np.array(start), np.array(end), "aligned"), 0.0, len(wav) / SR)
    return seg if len(seg) else None


def _spread_phones(dec, words: list[tuple[str, int, int]]) -> list[tuple[str, float, float]]:
    """``(phone, start_s, end_s)`` of words timed in recognizer frames (``(word, first, end)``, end exclusive): each
    word's dictionary phones share its frames, a vowel two parts, anything else one; fillers are silence."""
    out = []
    for word, a, b in words:
        pron = None if word.startswith(("<", "[")) else dec.lookup_word(word)
        if not pron:
            out.append(("SIL", a * FRAME_S, b * FRAME_S))
            continue
        phones = pron.split()
        weight = np.array([2.0 if p[0] in "AEIOU" else 1.0 for p in phones])
        edges = a + (b - a) * np.concatenate([[0.0], np.cumsum(weight) / weight.sum()])
        out.extend((p, float(x) * FRAME_S, float(y) * FRAME_S) for p, x, y in zip(phones, edges[:-1], edges[1:]))
    return out


def script_beside(dub: str | Path) -> Path | None:
    """The dub's script where one lies beside it under the same name (``.srt``, then ``.vtt``, then ``.txt``)."""
    dub = Path(dub)
    for suffix in (".srt", ".vtt", ".txt"):
        p = dub.with_suffix(suffix)
        if p.is_file() and p != dub:
            return p
    return None


def check_script(path: str | Path | None) -> None:
    """Raise the user's error early (before any work) when a script cannot be used."""
    if path is None:
        return
    if not Path(path).is_file():
        raise MediaError("the script does not exist", path=path)
    read_script(path)


if __name__ == "__main__":
    _main()
