#!/usr/bin/python3
"""A local RTSP server for streetwatch's tests: serves video files, looped, in real time.

    /usr/bin/python3 scripts/rtsp_server.py --port 8554 vtest=samples/vtest.avi bikes=samples/bikes.mp4

serves rtsp://127.0.0.1:8554/vtest and rtsp://127.0.0.1:8554/bikes (H.264; files are re-encoded and
looped, except .mkv files holding H.264, which are passed through once). Run it with Debian's
python3 (it needs python3-gi and gir1.2-gst-rtsp-server-1.0). Binds to 127.0.0.1 only.
"""
import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


class LoopingFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, path, tcp_only=False):
        super().__init__()
        self.path = path
        self.set_shared(True)
        if tcp_only:
            # RTP interleaved in the RTSP connection only, as through a 4G NAT or a TCP proxy.
            self.set_protocols(GstRtsp.RTSPLowerTrans.TCP)

    def do_create_element(self, url):
        if self.path.endswith(".mkv"):
            # Already H.264 (e.g. the live-load benchmark's pre-encoded footage): passed through
            # without decoding or encoding, played once in real time.
            launch = (
                f'( filesrc location="{self.path}" ! matroskademux ! h264parse ! '
                "rtph264pay name=pay0 pt=96 config-interval=1 )"
            )
        else:
            launch = (
                f'( multifilesrc location="{self.path}" loop=true ! decodebin ! videoconvert ! '
                "video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! "
                "rtph264pay name=pay0 pt=96 config-interval=1 )"
            )
        return Gst.parse_launch(launch)


def make_h264(out, source, repeat):
    """Encodes `source` `repeat` times back to back into an H.264 Matroska file `out` (for
    serving without an encoder running)."""
    branches = " ".join(
        f'filesrc location="{os.path.abspath(source)}" ! decodebin ! c.' for _ in range(repeat)
    )
    tmp = out + ".part"
    pipeline = Gst.parse_launch(
        "concat name=c ! videoconvert ! video/x-raw,format=I420 ! "
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! h264parse ! "
        f'matroskamux ! filesink location="{tmp}" {branches}'
    )
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR
    )
    pipeline.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        sys.exit(f"rtsp_server: cannot encode {source}: {err.message} ({dbg})")
    os.replace(tmp, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8554)
    ap.add_argument("--make-h264", nargs=3, metavar=("OUT", "SOURCE", "REPEAT"),
                    help="only encode SOURCE REPEAT times into OUT (.mkv) and exit")
    ap.add_argument("--tcp-only", action="store_true",
                    help="offer RTP over the RTSP connection only (no UDP)")
    ap.add_argument("streams", nargs="*", help="NAME=FILE")
    args = ap.parse_args()
    Gst.init(None)
    if args.make_h264:
        out, source, repeat = args.make_h264
        make_h264(out, source, int(repeat))
        return
    if not args.streams:
        sys.exit("rtsp_server: no streams (NAME=FILE)")
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for s in args.streams:
        name, path = s.split("=", 1)
        if not os.path.isfile(path):
            sys.exit(f"rtsp_server: no such file {path}")
        mounts.add_factory("/" + name, LoopingFactory(os.path.abspath(path), args.tcp_only))
    if server.attach(None) == 0:
        sys.exit(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}")
    loop = GLib.MainLoop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"rtsp_server: listening on rtsp://127.0.0.1:{args.port}/ ({', '.join(s.split('=')[0] for s in args.streams)})", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
