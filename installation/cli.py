"""Command line of the installation engine: replay, rehearse, gallery, check, and tools.

``installation replay | rehearse | gallery | sense | render | check | check-flashes | train |
record | streams``
(``installation COMMAND --help`` for each). User errors print one line (``installation: error:
...``) and exit with status 2, without a traceback; anything else is a bug and keeps its
traceback. Heavy libraries (torch, moderngl, scipy, liblsl) are imported by the command that
needs them, after its arguments and show file are read, so a mistyped path answers at once.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# torch's OpenMP threads (libgomp) spin while they wait for work. When the cores are busy with
# anything else (other processes, our own GL and encoder threads) the spinning threads steal
# them from the threads doing the work: on the loaded 2-core VM a dream step took 5.5 s
# instead of 0.08 s, a VAE training step 1.7 s instead of 0.17 s (docs/generator.md).
# Passive waiting avoids that. libgomp reads this once, when torch loads: set it before.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from installation import __version__
from installation.errors import UserError

EXIT_USER_ERROR = 2
DEFAULT_SHOW = Path("show.toml")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default prints usage on two lines
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x360, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"size must be even and at least 16x16, got {text!r}")
    return width, height


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _trainers() -> dict[str, str]:
    from installation.generator.trainers import TRAINERS  # torch-free: keeps --help fast

    return TRAINERS


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="installation", description=__doc__.splitlines()[0],
        epilog="Each command has its own --help. Set up with bash tools/setup.sh, then run "
               ".venv/bin/installation (or activate the venv: . .venv/bin/activate).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                     metavar="COMMAND")

    replay = commands.add_parser("replay", help="render a recording headless into a video")
    replay.add_argument("recording", type=Path, help="XDF or CSV recording")
    replay.add_argument("--show", type=Path, default=DEFAULT_SHOW, help="show file (show.toml)")
    replay.add_argument("-o", "--output", type=Path, required=True,
                        help="output .mp4, or a folder for a PNG sequence")
    replay.add_argument("--size", type=_size, help="WxH (default: the show's output.size)")
    replay.add_argument("--fps", type=_positive, help="frame rate (default: the show's)")
    replay.add_argument("--start", type=float, default=0.0, help="start offset in seconds")
    replay.add_argument("--duration", type=_positive, help="seconds to render (default: all)")
    replay.add_argument("--device", help="torch device for the generator (default: automatic)")
    replay.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    replay.add_argument("--no-report", action="store_true",
                        help="skip the features CSV, drivers plot and summary JSON")

    gallery = commands.add_parser("gallery", help="kiosk: live streams, fullscreen, unattended")
    gallery.add_argument("show", type=Path, nargs="?", default=DEFAULT_SHOW)
    gallery.add_argument("--screen", type=int,
                         help="screen index (default: the show's output.screen; 0: primary)")
    gallery.add_argument("--windowed", action="store_true",
                         help="a window, not fullscreen (default: the show's output.fullscreen)")
    gallery.add_argument("--status-file", type=Path, help="JSON status (mode, fps, streams)")
    gallery.add_argument("--log-dir", type=Path, help="rotating logs here (default: stderr)")
    gallery.add_argument("--max-seconds", type=_positive, help="stop after this long")

    sense = commands.add_parser(
        "sense", help="sensing node of a multi-machine show: publish controls over LSL")
    sense.add_argument("show", type=Path, nargs="?", default=DEFAULT_SHOW)
    sense.add_argument("--max-seconds", type=_positive, help="stop after this long")

    render = commands.add_parser(
        "render", help="render node of a multi-machine show: one tile of the canvas")
    render.add_argument("show", type=Path, nargs="?", default=DEFAULT_SHOW)
    render.add_argument("--tile", required=True, metavar="COL,ROW/COLS,ROWS",
                        help="this node's tile, 0-based (e.g. 1,0/3,1: middle of three)")
    render.add_argument("--overlap", type=int, default=0, metavar="PX",
                        help="pixels shared with each neighbouring tile (edge blend)")
    render.add_argument("--delay", type=_non_negative, default=0.1, metavar="S",
                        help="show each sample this long after its time stamp (default 0.1)")
    render.add_argument("--offscreen", action="store_true", help="no window (EGL): tests")
    render.add_argument("--frames-log", type=Path, help="CSV of every frame (LSL stamps)")
    render.add_argument("--dump-dir", type=Path, help="PNG of the tile every --dump-every")
    render.add_argument("--dump-every", type=_count, default=30, metavar="N",
                        help="sequence numbers between dumped tiles (default 30)")
    render.add_argument("--max-seconds", type=_positive, help="stop after this long")

    rehearse = commands.add_parser(
        "rehearse", help="play a recording (or live streams) in a window, hot reload")
    rehearse.add_argument("show", type=Path, help="show file (show.toml)")
    rehearse.add_argument("recording", type=Path, nargs="?",
                          help="XDF or CSV recording (none: the show's live LSL streams)")
    rehearse.add_argument("--fullscreen", action="store_true", help="fill the screen")
    rehearse.add_argument("--screen", type=int,
                          help="screen index (default: the show's output.screen; 0: primary)")
    rehearse.add_argument("--osc-in", type=_port, default=9000,
                          help="OSC control port on 127.0.0.1 (default 9000; 0: no OSC input)")
    rehearse.add_argument("--osc-out", type=_port,
                          help="send features and controls to 127.0.0.1:PORT each frame")
    rehearse.add_argument("--osc-hold", type=_non_negative, default=60.0,
                          help="seconds an OSC hold or nudge lasts after its last message "
                               "(default 60; 0: until cleared)")
    rehearse.add_argument("--max-seconds", type=_positive, help="stop after this long")

    check = commands.add_parser("check", help="validate a show: config and shaders")
    check.add_argument("show", type=Path, nargs="?", default=DEFAULT_SHOW)
    check.add_argument("--time-limit", type=_positive, default=120.0, metavar="S",
                       help="seconds the first real frame may take (120)")

    flashes = commands.add_parser(
        "check-flashes", help="list WCAG 2.3.1 flash violations in a video (exit 1 if any)")
    flashes.add_argument("video", type=Path, help="video file, e.g. a replay's .mp4")

    train = commands.add_parser(
        "train", help="train a generator (GAN, VAE or NCA) on your images, from scratch")
    train.add_argument("images", type=Path,
                       help="folder of images (png, jpg, webp, ...); one image for --model nca")
    train.add_argument("-o", "--output", type=Path, required=True, help="checkpoint, e.g. model.pt")
    train.add_argument("--model", choices=sorted(_trainers()), default="vae",
                       help="what to train: gan (sharp: a DCGAN), vae (default), or nca"
                       " (a living image grown from one image)")
    train.add_argument("--size", type=int, help="image side, power of two (64)")
    train.add_argument("--minutes", type=_positive, default=15.0,
                       help="time budget of this run (15)")
    train.add_argument("--steps", type=_count,
                       help="stop at this many steps in all (gan, vae, nca)")
    train.add_argument("--epochs", type=_count, help="most epochs (vae; 200)")
    train.add_argument("--latent-dim", type=_count, help="latent size (gan 64, vae 32)")
    train.add_argument("--batch-size", type=_count, help="batch size (gan 32, vae 32, nca 8)")
    train.add_argument("--every", type=_count,
                       help="sample grid and checkpoint every N steps (gan; 500)")
    train.add_argument("--resume", action="store_true",
                       help="go on training the checkpoint at -o, exactly where it stopped"
                       " (gan, nca)")
    train.add_argument("--seed", type=int, default=0, help="seed (0)")
    train.add_argument("--device", help="torch device (default: automatic)")
    train.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    record = commands.add_parser("record", help="record live LSL streams to an XDF file")
    record.add_argument("-o", "--output", type=Path, required=True, help="output .xdf")
    record.add_argument("--type", dest="types", action="append", required=True,
                        help="stream type to record (repeatable), e.g. --type ECG --type EEG")
    record.add_argument("--name", default="", help="only streams with this name")
    record.add_argument("--source-id", dest="source_ids", action="append", default=[],
                        help="only streams with this source_id (repeatable)")
    record.add_argument("--hostname", default="", help="only streams from this host")
    record.add_argument("--duration", type=_positive, help="seconds to record (default: Ctrl-C)")
    record.add_argument("--wait", type=_positive, default=5.0,
                        help="seconds to look for each type's streams (5)")

    streams = commands.add_parser("streams", help="list the LSL streams on the network")
    streams.add_argument("--wait", type=_positive, default=2.0,
                         help="seconds to listen for streams (2)")
    return parser


def _cmd_replay(args: argparse.Namespace) -> int:
    from installation.show import load_show

    show = load_show(args.show)  # first: a bad path or key answers before torch loads
    from installation.modes.replay import ReplayOptions, replay
    from installation.modes.replay_report import ReplayReport

    options = ReplayOptions(
        size=args.size or show.output.size,
        fps=args.fps or show.output.fps,
        start=args.start,
        duration=args.duration,
        progress=not args.quiet,
        device=args.device,
    )
    if options.size[0] % 2 or options.size[1] % 2:
        raise UserError(f"{show.path}: output.size: H.264 needs even sizes, got {options.size}")
    from installation.resources import check_resources

    check_resources(show, options.size if args.size else None)
    report = None if args.no_report else ReplayReport()
    summary = replay(args.recording, show, args.output, options, on_step=report)
    for warning in summary.warnings:
        print(f"installation: warning: {warning}", file=sys.stderr)
    speed = summary.duration / summary.wall_s if summary.wall_s > 0 else float("inf")
    print(
        f"wrote {summary.output} ({summary.frames} frames, {summary.duration:.1f} s of show "
        f"in {summary.wall_s:.1f} s, {speed:.2f}x real time)"
    )
    if report is not None:
        written = report.write(summary.output, {
            "recording": str(args.recording), "show": str(show.path),
            "output": str(summary.output), "size": list(options.size), "fps": options.fps,
            "start_s": options.start, "duration_s": summary.duration, "frames": summary.frames,
            "wall_s": round(summary.wall_s, 3), "speed_x_real_time": round(speed, 3),
            "warnings": list(summary.warnings),
        })
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _cmd_gallery(args: argparse.Namespace) -> int:
    from installation.show import load_show

    show = load_show(args.show)
    from installation.modes.gallery import GalleryOptions, run_gallery
    from installation.resources import check_resources

    check_resources(show)

    return run_gallery(show, GalleryOptions(
        screen=args.screen, fullscreen=False if args.windowed else None,
        status_file=args.status_file, log_dir=args.log_dir, max_seconds=args.max_seconds,
    ))


def _cmd_sense(args: argparse.Namespace) -> int:
    from installation.show import load_show

    show = load_show(args.show)
    from installation.modes.sense import SenseOptions, run_sense

    return run_sense(show, SenseOptions(max_seconds=args.max_seconds))


def _cmd_render(args: argparse.Namespace) -> int:
    from installation.distributed import parse_tile
    from installation.show import load_show

    try:
        tile = parse_tile(args.tile, overlap=max(args.overlap, 0))
    except ValueError as error:
        raise UserError(f"--tile: {error}") from None
    show = load_show(args.show)
    from installation.modes.render_node import RenderOptions, run_render

    return run_render(show, RenderOptions(
        tile=tile, offscreen=args.offscreen, delay_s=args.delay, frames_log=args.frames_log,
        dump_dir=args.dump_dir, dump_every=args.dump_every, max_seconds=args.max_seconds,
    ))


def _cmd_rehearse(args: argparse.Namespace) -> int:
    from installation.show import load_show

    show = load_show(args.show)
    from installation.modes.rehearse import RehearsalOptions, rehearse
    from installation.resources import check_resources

    check_resources(show)
    from installation.osc import OscSettings

    osc = None
    if args.osc_in or args.osc_out:  # --osc-in 0: no input (port 0 is not "any port" here)
        osc = OscSettings(listen_port=args.osc_in or None, send_port=args.osc_out,
                          hold_s=args.osc_hold)
    options = RehearsalOptions(fullscreen=args.fullscreen, screen=args.screen, osc=osc,
                               max_seconds=args.max_seconds)
    try:
        return rehearse(show, args.recording, options)
    except OSError as error:  # e.g. the OSC port is taken
        raise UserError(f"rehearse: {error.strerror or error}") from None


def _cmd_check(args: argparse.Namespace) -> int:
    from installation.show import load_show

    show = load_show(args.show)  # first: a bad path or key answers before torch loads
    from installation.first_frame import render_first_frame
    from installation.pipeline import Pipeline
    from installation.render.gl_context import create_offscreen_context
    from installation.resources import check_resources

    needs = check_resources(show)
    ctx = create_offscreen_context()
    try:
        # Building the pipeline compiles every pass and checks its uniforms.
        Pipeline(show, ctx, size=(64, 36), fps=show.output.fps, device="cpu").release()
    finally:
        ctx.release()
    first = render_first_frame(show.path, args.time_limit)
    print(f"{show.path}: ok ({len(show.streams)} streams, {len(show.mappings)} mappings, "
          f"{len(show.passes)} passes; needs about {needs.total_bytes / 2**20:.0f} MB: "
          f"{needs.describe()}; first frame at {first.size[0]}x{first.size[1]}: "
          f"{first.frame_s * 1000:.0f} ms after {first.build_s:.1f} s to build)")
    return 0


def _cmd_check_flashes(args: argparse.Namespace) -> int:
    from installation.safety.analyse import analyse_video

    violations, frames = analyse_video(args.video)
    for violation in violations:
        print(violation.describe())
    verdict = f"{len(violations)} violation(s)" if violations else "no flash violations"
    print(f"{args.video}: {verdict} in {frames} frames (WCAG 2.3.1, general and red flash)")
    return 1 if violations else 0


def _cmd_train(args: argparse.Namespace) -> int:
    from installation.generator.device import pick_device
    from installation.generator.trainers import TrainRequest, run_trainer

    request = TrainRequest(
        images=args.images, output=args.output, size=args.size, minutes=args.minutes,
        steps=args.steps, epochs=args.epochs, latent_dim=args.latent_dim,
        batch_size=args.batch_size, every=args.every, seed=args.seed,
        device=str(pick_device(args.device)), resume=args.resume, progress=not args.quiet,
    )
    print(run_trainer(args.model, request))
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    import signal
    import threading

    from installation.record.recorder import Recorder, RecordingTarget, find_streams

    if args.output.suffix.lower() != ".xdf":
        raise UserError(f"{args.output}: -o must name an .xdf file")
    for option, values in (("--type", args.types), ("--name", [args.name]),
                           ("--source-id", args.source_ids), ("--hostname", [args.hostname])):
        for value in values:
            if "'" in value and '"' in value:  # an LSL (XPath 1.0) query cannot quote it
                raise UserError(f"record {option} {value!r}: holds both quote characters, "
                                "which no LSL query can match")
    targets = [
        RecordingTarget(t, args.name, tuple(args.source_ids), args.hostname) for t in args.types
    ]
    streams = find_streams(targets, args.wait)
    recorder = Recorder(args.output, streams)
    names = ", ".join(f"{s.name()} ({s.type()})" for s in streams)
    print(f"recording {names} to {args.output}", file=sys.stderr, flush=True)
    # SIGTERM (a service manager stopping us) ends the recording cleanly, with footers.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
    try:
        recorder.run(duration=args.duration, stop=stop)
    finally:
        recorder.close()  # footers; also on Ctrl-C
    counts = ", ".join(f"{k}: {v}" for k, v in recorder.sample_counts.items())
    print(f"wrote {args.output} ({counts} samples)")
    return 0


def _cmd_streams(args: argparse.Namespace) -> int:
    from installation.inputs.discovery import format_streams, list_streams

    found = list_streams(args.wait)
    print(format_streams(found) if found else
          f"no LSL streams found within {args.wait:g} s (is a producer running on this "
          "network? see python -m sensors.simulate)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``installation`` command."""
    args = build_parser().parse_args(argv)
    handlers = {
        "replay": _cmd_replay, "check": _cmd_check, "check-flashes": _cmd_check_flashes,
        "train": _cmd_train, "gallery": _cmd_gallery, "rehearse": _cmd_rehearse,
        "record": _cmd_record, "streams": _cmd_streams, "sense": _cmd_sense,
        "render": _cmd_render,
    }
    try:
        return handlers[args.command](args)
    except UserError as error:
        print(f"installation: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("installation: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
