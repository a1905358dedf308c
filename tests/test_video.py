"""Reading video: exact counts, every common container and codec, rotation, VFR, seeking, damage."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import read_code, write_clip, write_jpeg

from lipsync_studio.errors import MediaError
from lipsync_studio.media.sequence import frames_in_order
from lipsync_studio.media.video import VideoReader, probe_video
from lipsync_studio.media.warnings import MediaWarning


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "fps"),
    [
        ("h264.mp4", "libx264", "yuv420p", Fraction(25)),
        ("hevc.mkv", "libx265", "yuv420p", Fraction(30000, 1001)),
        ("vp9.webm", "libvpx-vp9", "yuv420p", Fraction(30)),
        ("prores.mov", "prores_ks", "yuv422p10le", Fraction(24)),
        ("mpeg4.avi", "mpeg4", "yuv420p", Fraction(60)),
    ],
)
def test_every_common_format_gives_exact_count_rate_and_frames(tmp_path, name, codec, pix_fmt, fps):
    opts = {"x265-params": "log-level=error"} if codec == "libx265" else None
    path = write_clip(tmp_path / name, 23, fps=fps, codec=codec, pix_fmt=pix_fmt, options=opts)
    info = probe_video(path)
    assert info.n_frames == 23
    assert info.fps == fps
    assert (info.width, info.height) == (160, 96)
    assert not info.vfr and info.damaged_at is None
    with VideoReader(path) as r:
        codes = [read_code(img) for _, img in r.iter_frames()]
    assert codes == list(range(23))


def test_random_access_matches_sequential_decoding(tmp_path):
    path = write_clip(tmp_path / "gop.mp4", 120, gop=10, options={"bf": "2"})
    with VideoReader(path, cache_frames=4) as r:
        for i in [0, 57, 58, 59, 119, 3, 100, 99, 98, 10, 11, 0, 119]:
            assert read_code(r.frame(i)) == i
        with pytest.raises(IndexError):
            r.frame(120)


@pytest.mark.parametrize("gop", [6, 250])
def test_frames_spread_through_a_clip_come_back_in_order_and_exact(tmp_path, gop):
    """Sampled frames (one forward pass, or seeks when keyframes are close) are the frames sequential decoding
    gives, each once, in order, whatever order and repeats they were asked in; scrubbing is not disturbed."""
    path = write_clip(tmp_path / "gop.mp4", 90, gop=gop, options={"bf": "2"})
    with VideoReader(path, cache_frames=2) as r:
        assert read_code(r.frame(40)) == 40
        got = [(i, read_code(img)) for i, img in r.frames_at([89, 0, 13, 13, 44, 30, 31, 70])]
        assert got == [(i, i) for i in (0, 13, 30, 31, 44, 70, 89)]
        assert read_code(r.frame(41)) == 41
        with pytest.raises(IndexError):
            list(r.frames_at([3, 90]))


@pytest.mark.parametrize("gop", [10, 250])
def test_an_mpeg_transport_stream_is_read_frame_exact(tmp_path, gop):
    """Camcorder (.mts / .m2ts) and broadcast (.ts) files: a transport stream's seek lands at the first keyframe
    after its target, which gave a clip's first frames the picture of a later one, and left a clip with a single
    keyframe unreadable ("frame 0 could not be decoded"): read from the start, at random and in samples, every
    frame is the one sequential decoding gives."""
    path = write_clip(tmp_path / "camera.ts", 90, gop=gop, options={"bf": "2"})
    assert probe_video(path).n_frames == 90
    with VideoReader(path, cache_frames=2) as r:
        assert [read_code(img) for _, img in r.iter_frames()] == list(range(90))
        for i in [0, 57, 89, 3, 30, 31, 0, 88]:
            assert read_code(r.frame(i)) == i
        assert [(i, read_code(img)) for i, img in r.frames_at([89, 0, 13, 44])] == [(i, i) for i in (0, 13, 44, 89)]
        assert [read_code(img) for _, img in r.iter_frames(60, 64)] == [60, 61, 62, 63]


def test_rotation_metadata_is_applied_like_a_player(tmp_path):
    path = write_clip(tmp_path / "phone.mp4", 5, rotation=-90)  # a phone held upright: turn 90° clockwise
    info = probe_video(path)
    assert info.rotation == 270
    assert (info.width, info.height) == (96, 160)
    with VideoReader(path) as r:
        img = r.frame(2)
    assert img.shape == (160, 96, 3)
    upright = np.rot90(img, k=1)  # undo the clockwise turn to read the barcode
    assert read_code(upright) == 2


@pytest.mark.parametrize("big_endian", [False, True])
def test_a_photos_exif_orientation_is_applied_like_a_viewer(tmp_path, big_endian):
    """A phone stores a portrait photo on its side and says in its EXIF how to turn it (and some front cameras,
    mirrored): read as stored, a phone's portrait photo was synced and written on its side. Each of the eight
    orientations is shown as a viewer shows it."""
    shown = np.full((160, 96, 3), 128, np.uint8)  # the picture as a viewer shows it: portrait
    shown[:40, :30] = (230, 30, 30)  # red in its top left corner
    shown[-40:, -30:] = (30, 30, 230)  # blue in its bottom right
    shown[:40, -30:] = (30, 200, 30)  # green in its top right
    turn = {1: (0, False), 2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (3, False), 7: (3, True),
            8: (1, False)}  # orientation -> (quarter turns counter-clockwise, mirrored first) of the stored picture
    for orientation, (k, mirrored) in turn.items():
        stored = np.rot90(shown, -k)
        stored = np.ascontiguousarray(stored[:, ::-1] if mirrored else stored)
        path = write_jpeg(tmp_path / f"photo{orientation}.jpg", stored, orientation, big_endian)
        info = probe_video(path)
        assert (info.width, info.height, info.n_frames) == (96, 160, 1), orientation
        with VideoReader(path) as r:
            img = r.frame(0)
        assert np.abs(img.astype(int) - shown).mean() < 4, orientation
    # No EXIF: as stored; a damaged one is no orientation (not an error).
    from lipsync_studio.media.exif import jpeg_orientation

    assert probe_video(write_jpeg(tmp_path / "plain.jpg", shown)).rotation == 0
    data = bytearray(write_jpeg(tmp_path / "cut.jpg", shown, 6, big_endian).read_bytes())
    data[16:20] = b"\xff\xff\xff\x7f"  # the first IFD's place, far past the block's end
    (tmp_path / "cut.jpg").write_bytes(bytes(data))
    assert jpeg_orientation(tmp_path / "cut.jpg") == 1
    assert jpeg_orientation(tmp_path / "nothing.jpg") == 1 and jpeg_orientation(Path(__file__)) == 1


def test_a_transparent_photo_is_known_and_its_alpha_read(tmp_path):
    """A portrait cut out of its background (a PNG or WebP with alpha) is known as transparent and its alpha plane
    is read beside its colours; an RGBA PNG that covers its whole frame, and a JPEG, are not transparent."""
    import cv2

    bgr = np.zeros((80, 120, 3), np.uint8)
    bgr[:] = (40, 90, 200)
    alpha = np.zeros((80, 120), np.uint8)
    cv2.ellipse(alpha, (60, 40), (40, 30), 0, 0, 360, 255, -1)
    alpha[38:42, 10:20] = 128  # a soft edge somewhere
    for name in ("cut.png", "cut.webp"):
        path = tmp_path / name
        cv2.imwrite(str(path), np.dstack([bgr, alpha]), [cv2.IMWRITE_WEBP_QUALITY, 101])
        info = probe_video(path)
        assert info.transparent and info.n_frames == 1, name
        with VideoReader(path) as r:
            assert np.array_equal(r.alpha(), alpha), name
            assert np.abs(r.frame(0)[40, 60].astype(int) - (200, 90, 40)).max() <= 2  # its colours, alpha aside
    from lipsync_studio.media.probe import format_probe, probe

    # probe calls it a photo (it said "25.000 fps (25/1), 1 frames, 0.040 s") and says it is transparent
    assert "video: 120x80 photo (PNG); transparent around its subject" in format_probe(probe(tmp_path / "cut.png"))
    opaque = tmp_path / "opaque.png"
    cv2.imwrite(str(opaque), np.dstack([bgr, np.full_like(alpha, 255)]))
    assert not probe_video(opaque).transparent and VideoReader(opaque).alpha() is None
    described = format_probe(probe(opaque))
    assert "video: 120x80 photo (PNG)" in described and "transparent around" not in described
    assert not probe_video(write_jpeg(tmp_path / "photo.jpg", bgr)).transparent


@pytest.mark.parametrize("name", ["portrait.heic", "portrait.avif"])
def test_a_heic_or_avif_photo_is_a_photo_upright_with_its_transparency(tmp_path, name):
    """An iPhone's photo is a HEIC (AVIF on the web): FFmpeg read it as a one-frame video at 1 fps (the synced result
    a 1 fps video) and a phone's tiled photo as one tile. Read whole, turned as stored, named as itself; the file is
    left as it was (what the app opens is a TIFF it was decoded into, in the cache)."""
    import pillow_heif
    from PIL import Image

    from lipsync_studio.media.probe import format_probe, probe

    pillow_heif.register_heif_opener()
    shown = np.full((200, 120, 3), 120, np.uint8)
    shown[:30] = (230, 40, 40)  # red along the top as shown
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side, to be turned (HEIF keeps it as a rotation of the picture)
    path = tmp_path / name
    Image.fromarray(np.ascontiguousarray(np.rot90(shown, 1))).save(path, exif=exif.tobytes(), quality=95)
    before = path.read_bytes()
    info = probe_video(path)
    kind = name.rsplit(".", 1)[1].upper()
    assert (info.width, info.height, info.n_frames, info.fps, info.photo) == (120, 200, 1, 25, kind)
    with VideoReader(path) as r:
        img = r.frame(0)
    assert img.shape == (200, 120, 3) and img[:20, :, 0].mean() > 200 and img[-20:, :, 0].mean() < 150
    assert f"video: 120x200 photo ({kind})" in format_probe(probe(path)) and path.read_bytes() == before
    # A cut-out one keeps its alpha.
    alpha = np.zeros((200, 120), np.uint8)
    alpha[20:180, 10:110] = 255
    cut = tmp_path / f"cut{path.suffix}"
    Image.fromarray(np.dstack([shown, alpha])).save(cut, quality=95)
    assert probe_video(cut).transparent
    with VideoReader(cut) as r:
        assert np.abs(r.alpha().astype(int) - alpha).mean() < 2
    # Cut short: an error that names the file.
    bad = tmp_path / f"bad{path.suffix}"
    bad.write_bytes(before[:len(before) // 2])
    with pytest.raises(MediaError) as info_bad:
        probe_video(bad)
    assert str(bad) in str(info_bad.value)


@pytest.mark.parametrize("name, codec", [("cut.mov", "prores"), ("cut.webm", "vp9")])
def test_a_writer_keeps_a_transparent_pictures_alpha_in_prores_4444_and_vp9(tmp_path, name, codec):
    """ProRes 4444 and VP9 (which browsers show over the page) carry the alpha plane given, frame after frame, and
    the colours beside it; odd sizes padded. H.264 holds none and refuses one."""
    import av

    from lipsync_studio.media.writer import VideoFormat, VideoWriter

    rgb = np.zeros((61, 95, 3), np.uint8)
    rgb[:] = (200, 120, 60)
    alpha = np.zeros((61, 95), np.uint8)
    alpha[16:48, 24:72] = 255
    with VideoWriter(tmp_path / name, Fraction(25), 95, 61, fmt=VideoFormat(codec=codec), alpha=alpha) as w:
        for _ in range(3):
            w.write(rgb)
    with av.open(str(tmp_path / name)) as c:
        stream = c.streams.video[0]
        # FFmpeg's own VP9 decoder drops the alpha, which WebM stores beside each frame: libvpx's reads it.
        decoder = av.CodecContext.create("libvpx-vp9", "r") if codec == "vp9" else stream.codec_context
        frames = [f.to_ndarray(format="rgba") for p in c.demux(stream) if p.size for f in decoder.decode(p)]
    assert len(frames) == 3
    for f in frames:
        assert np.abs(f[:61, :95, 3].astype(int) - alpha).max() <= 2
        assert np.abs(f[30, 40, :3].astype(int) - (200, 120, 60)).max() <= 3
    # Read back as the app reads a clip: transparent, each frame with its alpha (a keyed WebM came in opaque: the
    # app decoded VP9 with FFmpeg's own decoder).
    with VideoReader(tmp_path / name) as r:
        assert r.info.transparent and r.info.n_frames == 3
        got = [d for _, d in r.iter_frames(planes=True)]
    assert all(np.abs(d.alpha[:61, :95].astype(int) - alpha).max() <= 2 for d in got)
    with pytest.raises(ValueError, match="transparency"):
        VideoWriter(tmp_path / "cut.mp4", Fraction(25), 95, 61, alpha=alpha)
    assert not (tmp_path / "cut.mp4").exists()


def test_variable_frame_rate_is_mapped_onto_a_constant_timeline(tmp_path):
    # Frames alternately 30 ms and 50 ms apart: 25 fps on average, uneven.
    steps = np.where(np.arange(60) % 2 == 0, 0.030, 0.050)
    times = np.concatenate([[0.0], np.cumsum(steps)[:-1]])
    path = write_clip(tmp_path / "vfr.mkv", 60, times=times)
    info = probe_video(path)
    assert info.vfr
    assert info.fps == 25
    assert abs(info.n_frames - round((times[-1] + 0.04) * 25)) <= 1
    with VideoReader(path) as r:
        codes = [read_code(img) for _, img in r.iter_frames()]
        assert len(codes) == info.n_frames
        # Each timeline frame shows the last source frame starting within half a frame after its time.
        for i, code in enumerate(codes):
            expect = int(np.searchsorted(times, i / 25 + 0.02 + 1e-9) - 1)
            assert code == max(expect, 0), i
        assert read_code(r.frame(31)) == codes[31]


def test_cut_off_mp4_reads_up_to_the_damage_and_warns_with_its_time(tmp_path):
    path = write_clip(tmp_path / "full.mp4", 200, size=(320, 192), options={"crf": "10"})
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    info = probe_video(cut)
    assert info.damaged_at is not None and 1.0 < info.damaged_at < 7.0
    with VideoReader(cut) as r, pytest.warns(MediaWarning, match=r"cut\.mp4.*damaged or cut off at \d+\.\d\d s"):
        codes = [read_code(img) for _, img in r.iter_frames()]
    good = int(info.damaged_at * 25)
    assert codes[: good - 3] == list(range(good - 3))


def test_a_file_replaced_on_disk_is_read_anew(tmp_path):
    """What a clip holds is looked up once while the file is unchanged (a sync opens it several times); a file
    written again under the same name, as an export over an older one, is described as it is now."""
    path = write_clip(tmp_path / "clip.mp4", 30)
    assert probe_video(path).n_frames == 30
    assert probe_video(path) == probe_video(path)
    write_clip(tmp_path / "longer.mp4", 45).replace(path)
    assert probe_video(path).n_frames == 45
    with VideoReader(path) as r:
        assert r.info.n_frames == 45 and [read_code(img) for _, img in r.iter_frames()] == list(range(45))


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", "empty"), (b"just some text, not a video\n" * 20, "cannot be read as audio or video")],
)
def test_unreadable_files_raise_a_clear_error_naming_the_file(tmp_path, content, expected):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError, match=expected) as err:
        probe_video(bad)
    assert str(bad) in str(err.value)


def test_audio_only_file_is_not_a_clip(tmp_path):
    from conftest import write_tone

    wav = write_tone(tmp_path / "tone.wav", 1.0)
    with pytest.raises(MediaError, match="has no video stream"):
        probe_video(wav)


def test_ping_pong_order_is_read_in_bounded_blocks(tmp_path):
    path = write_clip(tmp_path / "pp.mp4", 30, gop=8)
    order = list(range(30)) + list(range(28, -1, -1)) + list(range(1, 10)) + [0, 29, 29, 5]
    with VideoReader(path) as r:
        got = [read_code(img) for img in frames_in_order(r, order, max_bytes=160 * 96 * 3 * 6)]
    assert got == order


def test_a_ping_pong_turn_is_not_decoded_again(tmp_path):
    """The frames before a ping-pong's turn come back from the first decode (a clip with one keyframe decoded the
    whole clip again at the turn), with a hold among them and a loop after; a budget smaller than the backward run
    decodes the rest in blocks."""
    path = write_clip(tmp_path / "pp.mp4", 30, gop=250)
    order = list(range(30)) + [29, 29] + list(range(28, 14, -1)) + list(range(3))
    with VideoReader(path) as r:
        decoded = []
        real = r.iter_frames

        def counting(*args, **kwargs):
            for item in real(*args, **kwargs):
                decoded.append(item[0])
                yield item

        r.iter_frames = counting
        got = [read_code(img) for img in frames_in_order(r, order)]
        assert got == order
        assert decoded == list(range(30)) + list(range(3))  # each frame once; the loop back to 0 decodes again
        decoded.clear()
        small = [read_code(img) for img in frames_in_order(r, order, max_bytes=160 * 96 * 3 * 6)]
    assert small == order
    assert len(decoded) < 2 * 30 + 3


def test_written_colour_keeps_every_pixel_in_its_chroma(tmp_path):
    """4:2:0 keeps one colour per 2x2 pixels: it must be their mean, so colour on odd rows and columns (a thin
    red lip edge) survives, not the top-left pixel's alone."""
    from lipsync_studio.media.writer import VideoWriter

    frame = np.full((64, 96, 3), 128, np.uint8)
    frame[1::2, 1::2] = (255, 0, 0)  # every 2x2 block: three grey pixels and one red, at the odd corner
    with VideoWriter(tmp_path / "dots.mp4", Fraction(25), 96, 64) as w:
        for _ in range(3):
            w.write(frame)
    with VideoReader(tmp_path / "dots.mp4") as r:
        got = np.stack([img for _, img in r.iter_frames()]).astype(float)
    want = frame.astype(float).mean(axis=(0, 1))  # R 160, G 96, B 96
    mean = got.mean(axis=(0, 1, 2))
    assert abs((mean[0] - mean[1]) - (want[0] - want[1])) < 8, mean
    assert np.abs(mean - want).max() < 6, mean


def test_a_writer_stopped_mid_encode_ends_even_when_its_end_marker_is_lost(tmp_path):
    """Ctrl+C or SIGTERM turn into an exception wherever the main thread is, inside the encoder queue's own locking
    too, and a wake-up lost there left the encoder thread waiting for a frame for ever: the stopped command hung in
    its clean-up (seen once in CI, the process still there half an hour later). Stopped, the writer ends within a
    moment even if nothing it puts in the queue ever arrives, and leaves no partial file."""
    import threading

    from lipsync_studio.media.writer import VideoWriter

    out = tmp_path / "out.mp4"
    writer = VideoWriter(out, Fraction(25), 64, 48)
    frame = np.full((48, 64, 3), 128, np.uint8)
    for _ in range(3):
        writer.write(frame)
    writer._encoder._queue.put = lambda *a, **k: None  # the end marker (and anything else) never reaches the encoder
    done = threading.Event()
    threading.Thread(target=lambda: (writer.abort(), done.set()), daemon=True).start()
    assert done.wait(10), "abort() still waiting for the encoder thread"
    assert list(tmp_path.iterdir()) == []
