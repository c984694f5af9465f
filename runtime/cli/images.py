"""`python -m runtime images ...`: import, list, inspect, export and remove images."""

import json
import os
import sys

from runtime.cli.table import print_table
from runtime.errors import InvalidArgument
from runtime.image.store import ImageStore, ImportLimits


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return ""


def _import(args) -> int:
    limits = ImportLimits(**{k: v for k, v in (("max_bytes", args.max_bytes), ("max_entries", args.max_entries),
                                                 ("max_ratio", args.max_ratio)) if v is not None})
    src = sys.stdin.buffer if args.file == "-" else args.file
    info = ImageStore(args.root).import_archive(src, name=args.name, limits=limits)
    print(info.id)
    return 0


def _pull(args) -> int:
    credentials = None
    if args.username is not None:
        if not args.password_stdin:
            raise InvalidArgument("--username needs --password-stdin (a password on the command line would be seen by ps)")
        credentials = (args.username, sys.stdin.readline().rstrip("\n"))
    shown = {}

    def progress(event):
        # One line per layer each time another tenth of it has arrived.
        step = event["done"] * 10 // max(event["total"], 1)
        if event["status"] == "fetching" and shown.get(event["layer"]) == step:
            return
        shown[event["layer"]] = step
        print(f"layer {event['index']}/{event['count']} {event['layer'][7:19]}: {event['status']} "
              f"{_size(event['done'])}/{_size(event['total'])}", file=sys.stderr, flush=True)

    info = ImageStore(args.root).pull(args.reference, name=args.name, platform=args.platform,
                                      credentials=credentials, progress=progress)
    print(info.id)
    return 0


def _ls(args) -> int:
    images = ImageStore(args.root).list()
    if args.json:
        print(json.dumps([i.to_dict() for i in images], indent=2))
        return 0
    rows = [("IMAGE ID", "NAME", "FORMAT", "SIZE", "FILES", "CREATED")]
    rows += [(i.id[:12], i.name, i.format, _size(i.size_bytes), str(i.file_count), i.created_at) for i in images]
    print_table(rows)
    return 0


def _inspect(args) -> int:
    print(json.dumps(ImageStore(args.root).get(args.image).to_dict(), indent=2))
    return 0


def _rm(args) -> int:
    print(ImageStore(args.root).remove(args.image).id)
    return 0


def _export(args) -> int:
    # Imported here: only an export writes tar.
    from runtime.image.export import export_image

    chunks = export_image(ImageStore(args.root), args.image, args.format)
    if args.output == "-":
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        return 0
    # Under a temporary name, renamed once whole: FILE is the archive or is not there.
    tmp = f"{args.output}.tmp-{os.urandom(4).hex()}"
    try:
        with open(tmp, "xb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.rename(tmp, args.output)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return 0


def register(subparsers) -> None:
    images = subparsers.add_parser("images", help="manage images")
    commands = images.add_subparsers(dest="images_command", required=True, metavar="COMMAND")

    p = commands.add_parser("import", help="import a rootfs tar, docker save or OCI archive; prints the image id")
    p.add_argument("file", metavar="FILE|-", help="the archive, or - for standard input")
    p.add_argument("--name", required=True)
    p.add_argument("--max-bytes", type=int, help="unpacked size limit (default 8 GiB)")
    p.add_argument("--max-entries", type=int, help="entry count limit (default 2,000,000)")
    p.add_argument("--max-ratio", type=float, help="compression ratio limit (default 200)")
    p.set_defaults(func=_import)

    p = commands.add_parser("pull", help="pull an image from a registry; prints the image id")
    p.add_argument("reference", metavar="REF", help="e.g. debian:12, host:5000/lab/web:1, name@sha256:...")
    p.add_argument("--name", help="the image's name (default: REF as written)")
    p.add_argument("--platform", help="os/arch[/variant] to pick from a multi-platform image (default: this host's)")
    p.add_argument("--username", help="for a registry that needs credentials")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=_pull)

    p = commands.add_parser("ls", help="list images")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_ls)

    p = commands.add_parser("inspect", help="show an image as JSON")
    p.add_argument("image", metavar="NAME")
    p.set_defaults(func=_inspect)

    p = commands.add_parser("export", help="write an image as a docker save archive or an OCI layout")
    p.add_argument("image", metavar="NAME")
    p.add_argument("-o", "--output", required=True, metavar="FILE|-")
    p.add_argument("--format", choices=("docker", "oci"), default="docker")
    p.set_defaults(func=_export)

    p = commands.add_parser("rm", help="remove an image no container uses")
    p.add_argument("image", metavar="NAME")
    p.set_defaults(func=_rm)
