"""Run on a target (or redis) host around one pass of the measure stage, by
`python3 -c "$(this file)" MODE ...`; prints one JSON object. Python 3.5+, standard library only.

  before LOG_DIR GROUP CTL [PROGRAM ...] -- [REDIS_CONF]
      the group's `supervisorctl status` lines, and where each log ends now: the programs' logs
      and supervisord's in LOG_DIR, and redis's (the logfile REDIS_CONF names), as {path: size}
  after  LOG_DIR GROUP CTL ARCHIVE OFFSETS_JSON CONF [PROGRAM ...]
      the status lines again, what supervisord logged since the offsets (its restarts), and
      ARCHIVE: a tar.gz of what each log gained since its offset (a log that shrank, rotated,
      or appeared meanwhile, whole) and of CONF, the setup's supervisord group, with the password
      of any redis URL blanked. CONF may be empty (a redis host), LOG_DIR too.

CTL is the supervisorctl command line, as one argument.
"""

import glob
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import time

REDIS_PASSWORD = re.compile(r"(rediss?://)[^@/\"\s]*@")


def status(ctl: str, group: str) -> "list[str]":
    if not ctl or not group:
        return []
    run = subprocess.run(
        [*shlex.split(ctl), "status", group + ":*"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,  # noqa: UP021 (text= is 3.7+; targets may run 3.5),
    )
    return [line for line in run.stdout.splitlines() if line.strip()]


def redis_log(conf: str) -> "str | None":
    if not conf or not os.path.exists(conf):
        return None
    with open(conf) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 2 and parts[0] == "logfile":
                path = parts[1].strip('"')
                return path if path.startswith("/") else None
    return None


def logs(log_dir: str, programs: "list[str]") -> "list[str]":
    found = set()
    if log_dir:
        for name in [*programs, "supervisord"]:
            pattern = name + "*.log" if name != "supervisord" else "supervisord.log"
            found.update(glob.glob(os.path.join(log_dir, pattern)))
    return sorted(found)


def tz_offset() -> str:
    return time.strftime("%z")


def before(log_dir: str, group: str, ctl: str, rest: "list[str]") -> dict:
    split = rest.index("--") if "--" in rest else len(rest)
    programs, redis_conf = rest[:split], (rest[split + 1:] or [""])[0]
    paths = logs(log_dir, programs)
    redis = redis_log(redis_conf)
    if redis and os.path.exists(redis):
        paths.append(redis)
    offsets = {path: os.path.getsize(path) for path in paths if os.path.isfile(path)}
    return {"status": status(ctl, group), "offsets": offsets, "tz_offset": tz_offset()}


def gained(path: str, offset: int) -> bytes:
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        handle.seek(offset if offset <= size else 0)
        return handle.read()


def add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def after(
    log_dir: str, group: str, ctl: str, archive_path: str, offsets_json: str, conf: str,
    programs: "list[str]",
) -> dict:
    offsets = json.loads(offsets_json)
    paths = set(offsets) | set(logs(log_dir, programs))
    supervisord = os.path.join(log_dir, "supervisord.log") if log_dir else None
    supervisord_text = ""
    os.makedirs(os.path.dirname(archive_path), mode=0o700, exist_ok=True)
    with tarfile.open(archive_path, "w:gz") as archive:
        for path in sorted(paths):
            if not os.path.isfile(path):
                continue
            data = gained(path, int(offsets.get(path, 0)))
            add(archive, "logs/" + os.path.basename(path), data)
            if path == supervisord:
                supervisord_text = data.decode("utf-8", "replace")
        if conf and os.path.isfile(conf):
            with open(conf) as handle:
                text = REDIS_PASSWORD.sub(r"\1***@", handle.read())
            add(archive, "supervisor.conf", text.encode("utf-8"))
    os.chmod(archive_path, 0o600)
    return {"status": status(ctl, group), "supervisord_log": supervisord_text}


def main(argv: "list[str]") -> None:
    mode, log_dir, group, ctl = argv[:4]
    if mode == "before":
        result = before(log_dir, group, ctl, argv[4:])
    elif mode == "after":
        result = after(log_dir, group, ctl, *argv[4:7], programs=argv[7:])
    else:
        raise SystemExit("mode must be before or after, not " + mode)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
