"""python -m ferkit.web: builds the page's folder for a model and serves it on 127.0.0.1."""

import functools
import http.server
import sys

from ferkit.cli import headless, parser
from ferkit.errors import InputError, exit_on_input_error

# Browsers load modules and wasm only under their own types, which Python's table may
# not know.
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm"}


def build_parser():
    p = parser(__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("--model", default="models/small.keras", help=".keras, or .onnx with its JSON")
    p.add_argument("--out", default="web", help="the folder written (any static host serves it)")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1")
    p.add_argument("--no-serve", action="store_true", help="build the folder and exit")
    return p


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}
    # Cross-origin isolation lets the wasm runtime compute on several threads; a host
    # that does not send these headers gets the page on one.
    isolated = True

    def end_headers(self):
        if self.isolated:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # one line a file would bury the URL


def serve(folder, port):
    """Serves folder on 127.0.0.1:port until interrupted."""
    handler = functools.partial(Handler, directory=str(folder))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as err:
        why = f"cannot listen on 127.0.0.1:{port} ({err.strerror})"
        raise InputError(f"--port {port}", why) from None
    url = f"http://127.0.0.1:{server.server_port}/"
    print(f"serving {folder} at {url} (Ctrl+C stops)", flush=True)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


@exit_on_input_error
def main(argv=None):
    headless()
    args = build_parser().parse_args(argv)
    from ferkit.web.site import build_site

    out = build_site(args.model, args.out)
    print(f"wrote {out}/: the page, {args.model} and BlazeFace as ONNX", flush=True)
    if not args.no_serve:
        serve(out, args.port)


if __name__ == "__main__":
    sys.exit(main())
