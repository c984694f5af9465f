"""`Runtime`: create, start, stop, delete and observe containers.

A Runtime holds no process state of its own: everything it knows is in
state.json, written by it and by each container's shim. A new Runtime (a
restarted worker, the CLI) therefore adopts running containers as it finds
them, after checking that the recorded pid is still the same process (pid
plus start time), so a recycled pid is never signalled.

The one process a Runtime may own is its forker (`forker=True`, for
long-lived callers with a big heap; see runtime.forker.server), stopped by
`close()` or when the Runtime is garbage collected. `shared_forker=True`
(the CLI) uses the node's shared forker instead, started if none runs and
leaving by itself when idle.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from contextlib import contextmanager

from runtime import cgroups, id_ranges, settings, stats
from runtime.config import ContainerConfig, hostname_from_name, parse_user
from runtime.errors import Conflict, InvalidArgument, NotFound, NotPermitted, TerrariumError
from runtime.image.store import ImageInfo, ImageStore
from runtime.isolation import layerdisk, overlay, userns
from runtime.isolation.plan import InitPlan
from runtime.linux import procinfo
from runtime.shim import attach as attach_protocol
from runtime.shim import logs
from runtime.state import ContainerState, StateStore, now_iso

LIVE = ("running", "paused")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Exit code recorded when the shim died too, so the real status is lost.
UNKNOWN_EXIT = 255
# Held exit channels are checked for exited containers from this many on.
EXIT_CHANNELS_PRUNED_AT = 64


class Runtime:
    def __init__(self, root=None, cgroup_parent=None, forker: bool = False, shared_forker: bool = False):
        self.root = settings.state_root(root)
        self.cgroup_parent = settings.cgroup_parent(cgroup_parent)
        self._forker = None
        self._forks_shims = False
        if forker:
            # Imported only here: subprocess and threading would slow every CLI command.
            from runtime.forker.client import Forker

            self._forker = Forker(self.root, self.cgroup_parent)
        elif shared_forker:
            # As above: only the CLI goes through the node's shared forker.
            from runtime.forker.shared import SharedForker

            self._forker = SharedForker(self.root, self.cgroup_parent)
        settings.secure(self.root)
        self.store = StateStore(self.root)
        self._driver = None
        self._images = None
        self._init_layer_path = None
        self._previous = {}
        self._states = {}
        # Container id -> the channel its shim closes once it has recorded the exit.
        self._exits = {}

    def close(self) -> None:
        """Stop the forker, if any; containers keep running. The Runtime stays usable."""
        if self._forker is not None:
            self._forker.close()

    @property
    def driver(self):
        if self._driver is None:
            self._driver = cgroups.driver(self.cgroup_parent)
        return self._driver

    def _init_layer(self) -> str:
        # Made once per state root; looked for once per Runtime, not at every start.
        if self._init_layer_path is None:
            self._init_layer_path = overlay.init_layer(self.root)
        return self._init_layer_path

    @property
    def images(self) -> ImageStore:
        if self._images is None:
            self._images = ImageStore(self.root)
        return self._images

    def _require_root(self) -> None:
        if os.geteuid() != 0:
            raise NotPermitted("containers need root: namespaces, mounts and cgroups are privileged")

    # creation and start

    def create(self, cfg: ContainerConfig) -> ContainerState:
        self._require_root()
        cfg.validate()
        return self._create(cfg)[0]

    def _create(self, cfg: ContainerConfig):
        """The container's directories and record, from a validated config."""
        limits = cgroups.Limits(cfg.memory_bytes, cfg.cpus, cfg.cpu_shares, cfg.pids_limit)
        image = self.images.get(cfg.image)
        # As Docker: the image's USER is the container's unless given, so an exec runs as it too.
        cfg.user = cfg.user or (image.defaults or {}).get("user") or None
        parse_user(cfg.user)
        cid = self.store.new_id()
        name = cfg.name or cid[:12]
        os.makedirs(self.store.path(cid), mode=0o700)
        try:
            self.store.reserve_name(name, cid)
            if cfg.network != "none":
                # Imported only for a container on a network. Its address is
                # leased now and kept until delete, so a restart keeps it.
                from runtime.network import attach as network_attach

                network_attach.lease(self.root, cfg, cid)
            if cfg.disk_bytes is None:
                overlay.container_dirs(self.root, cid)
            else:
                layerdisk.prepare(self.store.path(cid), cfg.disk_bytes)
            cfg.name = name
            state = ContainerState(
                id=cid, name=name, image=cfg.image, image_id=image.id, created_at=now_iso(),
                config=cfg.to_dict(), limits=limits.to_dict(), cgroup_paths=self.driver.paths(cid),
            )
            self.store.write(state, new=True)
        except BaseException:
            self.store.remove(ContainerState(id=cid, name=name, image="", image_id=""))
            self._release_network(cfg, cid)
            raise
        return state, image

    def _release_network(self, cfg: ContainerConfig, cid: str) -> None:
        if cfg.ip is not None:
            # As in _create: only for a container on a network.
            from runtime.network import attach as network_attach

            network_attach.release(self.root, cfg, cid)

    def _plan(self, state: ContainerState, cfg: ContainerConfig, image) -> InitPlan:
        defaults = image.defaults or {}
        argv = cfg.command or [*(defaults.get("entrypoint") or []), *(defaults.get("cmd") or [])]
        if cfg.command and defaults.get("entrypoint"):
            argv = [*defaults["entrypoint"], *cfg.command]
        if not argv:
            raise InvalidArgument("no command given and the image has none")
        env = dict(line.partition("=")[::2] for line in defaults.get("env") or [] if "=" in line)
        env.setdefault("PATH", DEFAULT_PATH)
        env["HOSTNAME"] = cfg.hostname or hostname_from_name(state.name)
        if cfg.tty:
            env.setdefault("TERM", "xterm")
        env.update(cfg.env)
        user = parse_user(cfg.user or defaults.get("user"))
        directory = self.store.path(state.id)
        network = nameservers = None
        if cfg.network != "none":
            # As in _create: only for a container on a network.
            from runtime.network import attach as network_attach

            # Its bridge made again here if missing (after a reboot); pid 1 makes the veth.
            network = network_attach.plan(self.root, cfg)
            # The network's DNS service, on its gateway (runtime.network.dns).
            nameservers = [network["gateway"]]
        return InitPlan(
            lower=[self._init_layer(), *(layer.rootfs for layer in self.images.chain(image))], upper=f"{directory}/upper", work=f"{directory}/work",
            hostname=env["HOSTNAME"], argv=argv, env=env,
            workdir=cfg.workdir or defaults.get("workdir") or "/", uid=user[0] if user else None,
            gid=user[1] if user else None, tty=cfg.tty, cgroup_version=self.driver.version,
            cgroup_files=self.driver.join_files(state.id),
            nameservers=cfg.dns or nameservers or host_nameservers(), volatile=cfg.volatile,
            disk=None if cfg.disk_bytes is None else layerdisk.image_path(directory),
            uid_base=state.userns["uid_base"] if state.userns else None, network=network,
        )

    def start(self, ref: str, attach: bool = False):
        """Start a created or exited container. With attach=True, returns
        (state, Attachment) connected before the command runs, so no output is missed."""
        self._require_root()
        state = self.get(ref)
        if state.status in LIVE:
            raise Conflict(f"container {state.name} is already running")
        # The last run's shim removes the cgroup after recording the exit: let it finish.
        self._wait_pid(state.shim_pid, state.shim_start_time, None)
        with self._spare_shim() as spare:
            return self._start(state, self.images.get(state.image_id), attach, spare)

    def run(self, cfg: ContainerConfig, attach: bool = False):
        """create + start; a failed start removes the container again."""
        self._require_root()
        cfg.validate()
        with self._spare_shim() as spare:
            state, image = self._create(cfg)
            try:
                return self._start(state, image, attach, spare)
            except BaseException:
                self.store.remove(state)
                if state.userns is not None:
                    id_ranges.release(self.root, state.id, state.userns["uid_base"])
                self._release_network(cfg, state.id)
                raise

    @contextmanager
    def _spare_shim(self):
        """Without a forker, fork the shim first: its pid 1 makes the
        container's namespaces while this process makes its directories and
        cgroup. Discarded if the start fails before using it. (A forker
        hands one over, forked ahead, when the start needs it.)"""
        spare = None
        if self._forker is None:
            # Imported here: a CLI command goes through the shared forker and needs neither.
            from runtime.isolation import seccomp
            from runtime.shim import client as shim_client, supervisor

            shim_client.reap()
            seccomp.prepare(f"{self.root}/cache")
            spare = supervisor.prefork(self.store, self.driver)
            self._forks_shims = True
        try:
            yield spare
        finally:
            if spare is not None and not spare.used:
                spare.discard()

    def _start(self, state: ContainerState, image, attach: bool, spare):
        cfg = ContainerConfig.from_dict(state.config)
        if cfg.userns == "auto":
            userns.require_idmap(self.root)
        if cfg.userns == "auto" and state.userns is None:
            # Held from the first start until deletion: the layer's files keep their owners.
            uid_base = id_ranges.claim(self.root, state.id)
            state.userns = {"uid_base": uid_base, "size": id_ranges.SIZE}
            try:
                self.store.write(state)
            except OSError as exc:
                state.userns = None
                id_ranges.release(self.root, state.id, uid_base)
                raise TerrariumError(f"cannot start container {state.name}: its record: {exc.strerror}") from None
        plan = self._plan(state, cfg, image)
        if cfg.volatile and state.started_at is not None:
            if cfg.disk_bytes is None:
                overlay.reset_layer(self.root, state.id)
            else:
                layerdisk.prepare(self.store.path(state.id), cfg.disk_bytes)
        if spare is None:
            try:
                spare = self._forker.take()
            except (OSError, TerrariumError) as exc:
                # A forker that cannot be started or reached: nothing was made.
                raise TerrariumError(f"cannot start container {state.name}: {exc}") from None
        limits = cgroups.Limits(**state.limits)
        try:
            if spare.cgroup is not None:
                # Its pid 1 already waits in a cgroup of its own: renamed and limited, it is the container's.
                self.driver.adopt(spare.cgroup, state.id, limits)
            else:
                self.driver.create(state.id, limits)
        except BaseException:
            spare.discard()
            raise
        layer_fd = None
        if plan.disk is not None:
            try:
                layer_fd = layerdisk.open_mount(plan.disk)
            except OSError as exc:
                spare.discard()
                self._destroy_cgroup(state.id)
                raise NotPermitted(f"cannot start container {state.name}: its disk: {exc.strerror}") from None
        client = shim_end = None
        published = []
        if cfg.ports:
            # As in _create: only for a container on a network. Bound before
            # anything runs: a port taken fails the start, nothing left.
            from runtime.network import attach as network_attach

            try:
                published = network_attach.bind_ports(cfg)
            except BaseException:
                spare.discard()
                self._destroy_cgroup(state.id)
                raise
        if attach:
            client, shim_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            kind, detail = spare.start(plan, state, cfg.interactive, shim_end, layer_fd)
            if kind == "ok" and published:
                network_attach.start_proxy(self.root, cfg, self.store.read(state.id), published)
        finally:
            if shim_end is not None:
                shim_end.close()
            if layer_fd is not None:
                os.close(layer_fd)
            for sock in published:
                sock.close()
        if kind != "ok":
            self._destroy_cgroup(state.id)
            if client is not None:
                client.close()
            raise TerrariumError(f"cannot start container {state.name}: {detail}")
        if self._forker is not None:
            self._forker.ask_ahead()
        self._hold_exit_channel(state.id, spare.exit_channel)
        state = self.store.read(state.id)
        if attach:
            return state, attach_protocol.Attachment(client)
        return state

    def _hold_exit_channel(self, cid: str, channel: socket.socket) -> None:
        previous = self._exits.pop(cid, None)
        if previous is not None:
            previous.close()
        if len(self._exits) >= EXIT_CHANNELS_PRUNED_AT:
            # Containers nobody waited for: those that have exited give theirs back.
            done, _, _ = select.select(list(self._exits.values()), [], [], 0)
            for key, held in list(self._exits.items()):
                if held in done:
                    self._exits.pop(key, None)
                    held.close()
        self._exits[cid] = channel

    def attach(self, ref: str) -> attach_protocol.Attachment:
        state = self.get(ref)
        if state.status not in LIVE:
            raise Conflict(f"container {state.name} is not running")
        try:
            return attach_protocol.connect(state.id)
        except (ConnectionRefusedError, FileNotFoundError):
            raise Conflict(f"container {state.name} has no supervisor to attach to") from None

    # observation

    def _refresh(self, state: ContainerState) -> ContainerState:
        """Mark exited a container whose process and shim are both gone."""
        if state.status not in LIVE or procinfo.is_same(state.pid, state.pid_start_time):
            return state
        if procinfo.is_same(state.shim_pid, state.shim_start_time):
            return state
        with self.store.locked(state.id):
            state = self.store.read(state.id)
            if state.status in LIVE and not procinfo.is_same(state.pid, state.pid_start_time):
                state.status, state.pid, state.finished_at = "exited", None, now_iso()
                state.exit_code = UNKNOWN_EXIT
                self.store.write(state)
        self._destroy_cgroup(state.id)
        return state

    def get(self, ref: str) -> ContainerState:
        return self._refresh(self.store.read(self.store.resolve(ref)))

    def list(self, all: bool = True) -> list[ContainerState]:
        found = []
        for cid in self.store.ids():
            try:
                state = self._refresh(self.store.read(cid))
            except NotFound:
                continue
            if all or state.status in LIVE:
                found.append(state)
        return sorted(found, key=lambda s: s.created_at)

    def inspect(self, ref: str) -> dict:
        data = self.get(ref).to_dict()
        data["log_path"] = f"{self.store.path(data['id'])}/{logs.NAME}"
        # Here, not at the top: a start on no network needs none of runtime.network.
        from runtime.network import attach as network_attach

        data["network"] = network_attach.describe(ContainerConfig.from_dict(data["config"]))
        limit = data["config"].get("disk_bytes")
        if limit is not None:
            image = layerdisk.image_path(self.store.path(data["id"]))
            # What the layer's disk takes of the host's, its metadata included.
            used = os.stat(image).st_blocks * 512 if os.path.exists(image) else 0
            data["disk"] = {"limit_bytes": limit, "image_path": image, "host_bytes": used}
        return data

    def wait(self, ref: str, timeout: float | None = None) -> ContainerState:
        """Until the container has exited: its shim recorded the exit (and left,
        or, started from here, closed the channel it keeps until then)."""
        # Started here (ref its id): the channel held since answers first, and
        # the record is read once, after it.
        channel = self._exits.pop(ref, None)
        state = None
        if channel is None:
            state = self.get(ref)
            channel = self._exits.pop(state.id, None)
        cid = ref if state is None else state.id
        try:
            if state is not None and state.status not in LIVE:
                return state
            if channel is None:
                self._wait_exit(state, timeout)
                return self.get(cid)
            # The shim closes the channel once the exit is recorded, a process
            # teardown before its pid is seen to end.
            if not select.select([channel], [], [], timeout)[0]:
                self._exits.setdefault(cid, channel)
                channel = None
                return self.get(cid)
            state = self.get(cid)
            if self._forks_shims:
                # Only a Runtime without a forker gets here, and it imported this already (_spare).
                from runtime.shim import client as shim_client

                shim_client.collect(state.shim_pid)
            return state
        finally:
            if channel is not None:
                channel.close()
            if self._forks_shims:
                # As above: imported already by _spare.
                from runtime.shim import client as shim_client

                # Our own children: reaped now, not left zombies until the next start.
                shim_client.reap()

    def _wait_exit(self, state: ContainerState, timeout: float | None) -> None:
        """The shim's exit if it is the recorded one, else pid 1's."""
        if not self._wait_pid(state.shim_pid, state.shim_start_time, timeout):
            self._wait_pid(state.pid, state.pid_start_time, timeout)

    @staticmethod
    def _wait_pid(pid: int | None, started: int | None, timeout: float | None) -> bool:
        """Wait (up to timeout) for the process pid that started at `started`
        to end; False at once if that process is not there. The pidfd is
        opened before the check, so a reused pid cannot be waited for."""
        try:
            fd = os.pidfd_open(pid) if pid else None
        except ProcessLookupError:
            return False
        if fd is None:
            return False
        try:
            if not procinfo.is_same(pid, started):
                return False
            select.select([fd], [], [], timeout)
            return True
        finally:
            os.close(fd)

    def stats(self, ref: str) -> dict:
        state = self.get(ref)
        return self.stats_many([state.id])[state.id]

    def stats_many(self, ids=None) -> dict:
        """One pass over every live container (ids=None) or the given ones.

        Built for the sampler's tick: a record is re-parsed only when its
        file changed, and a live record is believed while its cgroup still
        holds processes (pid 1 gone empties the pid namespace, so the
        cgroup too); only an empty or missing cgroup costs the full check
        of the recorded processes."""
        wanted = self.store.ids() if ids is None else [self.store.resolve(i) for i in ids]
        if ids is None:
            self._states = {cid: self._states[cid] for cid in wanted if cid in self._states}
            self._previous = {cid: self._previous[cid] for cid in wanted if cid in self._previous}
        found = {}
        for cid in wanted:
            try:
                state = self.store.read_cached(cid, self._states)
            except NotFound:
                if ids is None:
                    continue
                raise
            values = None
            now = time.time()
            if state.status in LIVE:
                try:
                    values = self.driver.stats(cid)
                except NotFound:
                    pass
                if values is None or not values["pids"]:
                    state = self._refresh(self.store.read_cached(cid, self._states))
            if ids is None and state.status not in LIVE:
                continue
            found[cid] = stats.sample(state, values if state.status in LIVE else None, now, self._previous)
        if ids is None and self._driver is not None:
            # The driver keeps the stat files of what it read open; a stopped or deleted container's go.
            self.driver.stat_files.retain(found)
        return found

    def logs(self, ref: str, follow: bool = False):
        state = self.get(ref)
        return logs.read(self.store.path(state.id), follow=follow,
                         alive=lambda: self.get(state.id).status in LIVE)

    # signals and state changes

    def _live(self, ref: str) -> ContainerState:
        state = self.get(ref)
        if state.status not in LIVE:
            raise Conflict(f"container {state.name} is not running")
        return state

    def kill(self, ref: str, sig=signal.SIGKILL) -> None:
        self._signal(self._live(ref), sig)

    def _signal(self, state: ContainerState, sig) -> None:
        """Signal a container read as live; one that has exited since is left alone
        (stop and delete must not fail for a container that ends on its own meanwhile)."""
        if procinfo.is_same(state.pid, state.pid_start_time):
            try:
                os.kill(state.pid, sig)
            except ProcessLookupError:
                pass
        if state.status == "paused" and sig == signal.SIGKILL:
            self.driver.kill_all(state.id, signal.SIGKILL)

    def stop(self, ref: str, timeout: float = 10) -> ContainerState:
        state = self.get(ref)
        if state.status not in LIVE:
            return state
        self._signal(state, signal.SIGTERM)
        if state.status == "paused":
            self.unpause(state.id)
        state = self.wait(state.id, timeout)
        if state.status in LIVE:
            self._signal(state, signal.SIGKILL)
            state = self.wait(state.id)
        return state

    def restart(self, ref: str, timeout: float = 10) -> ContainerState:
        state = self.stop(ref, timeout)
        return self.start(state.id)

    def pause(self, ref: str) -> ContainerState:
        state = self._live(ref)
        if state.status == "paused":
            raise Conflict(f"container {state.name} is already paused")
        self.driver.freeze(state.id)
        try:
            return self.store.update(state.id, if_status="running", status="paused")
        except Conflict:
            # It exited between the check and the freeze: its record stays.
            try:
                self.driver.thaw(state.id)
            except (NotFound, Conflict, OSError):
                pass
            raise

    def unpause(self, ref: str) -> ContainerState:
        state = self.get(ref)
        if state.status != "paused":
            raise Conflict(f"container {state.name} is not paused")
        self.driver.thaw(state.id)
        return self.store.update(state.id, if_status="paused", status="running")

    def commit(self, ref: str, name: str) -> ImageInfo:
        """A new image `name`: the container's image and, on top, its
        writable layer; its command, environment and working directory
        become the image's defaults. A running container is frozen meanwhile."""
        # Imported here: hashing and tar headers are no concern of a start.
        from runtime.image.commit import commit

        return commit(self, ref, name)

    def delete(self, ref: str, force: bool = False) -> None:
        state = self.get(ref)
        if state.status in LIVE:
            if not force:
                raise Conflict(f"container {state.name} is running: stop it first or force the removal")
            self._signal(state, signal.SIGKILL)
            state = self.wait(state.id)
        channel = self._exits.pop(state.id, None)
        if channel is not None:
            channel.close()
        self._destroy_cgroup(state.id)
        # A worker's delete returns once the container is gone from every
        # listing; its forker removes the files between starts.
        later = self._forker is not None and self._forker.collects_trash
        self.store.remove(state, later=later)
        if state.userns is not None:
            id_ranges.release(self.root, state.id, state.userns["uid_base"])
        self._release_network(ContainerConfig.from_dict(state.config), state.id)
        if later:
            self._forker.sweep_later()

    def _destroy_cgroup(self, cid: str) -> None:
        try:
            self.driver.kill_all(cid, signal.SIGKILL)
        except (NotFound, OSError):
            pass
        try:
            self.driver.destroy(cid)
        except (NotFound, OSError):
            pass

    def exec(self, ref: str, argv: list[str], tty: bool = False, env=None, cwd=None, user=None,
             rows: int = 24, cols: int = 80):
        """argv started in the running container: a runtime.isolation.exec.ExecSession."""
        state = self._live(ref)
        if state.status == "paused":
            raise Conflict(f"container {state.name} is paused")
        if not argv:
            raise InvalidArgument("exec needs a command")
        cfg = ContainerConfig.from_dict(state.config)
        # Imported here: a container start from the CLI has no use for them.
        from runtime.isolation import exec as exec_module, seccomp

        seccomp.prepare(f"{self.root}/cache")

        return exec_module.spawn(self.driver, state, argv, tty=tty, env=_exec_env(state, cfg, tty, env),
                                 cwd=cwd or cfg.workdir or "/", user=parse_user(user or cfg.user),
                                 rows=rows, cols=cols)

    def check(self, ref: str, script: bytes, *, env: dict[str, str] | None = None, timeout: float = 5.0,
              memory: int = 64 << 20, pids: int = 64, output_limit: int = 8192):
        """Run a lab's check script as root in a running container, in a
        cgroup of its own with these limits; a runtime.isolation.check.CheckResult."""
        # Imported here: only a worker running labs' checks needs them.
        from runtime.isolation import check as check_module, seccomp

        check_module.validate(script, env, timeout=timeout, memory=memory, pids=pids, output_limit=output_limit)
        state = self._live(ref)
        if state.status == "paused":
            raise Conflict(f"container {state.name} is paused")
        seccomp.prepare(f"{self.root}/cache")
        cfg = ContainerConfig.from_dict(state.config)
        return check_module.run(self.driver, state, script, env=_exec_env(state, cfg, False, env), timeout=timeout,
                                memory=memory, pids=pids, output_limit=output_limit, cpus=state.limits.get("cpus"))

    def sweep_checks(self) -> None:
        """Kill and remove the checks whose callers died before they could, once past their deadline."""
        # Imported here: only a worker running labs' checks needs it.
        from runtime.isolation import check as check_module

        check_module.sweep_expired(self.driver)


def _exec_env(state: ContainerState, cfg: ContainerConfig, tty: bool, env) -> dict[str, str]:
    """What a process joining the container starts with: its config's environment, then the caller's."""
    full_env = {"PATH": DEFAULT_PATH, "HOSTNAME": cfg.hostname or hostname_from_name(state.name)}
    if tty:
        full_env["TERM"] = "xterm"
    full_env.update(cfg.env)
    full_env.update(env or {})
    return full_env


def host_nameservers() -> list[str]:
    """The host's resolvers minus loopback ones, which mean nothing in a new netns."""
    servers = []
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver" and not parts[1].startswith(("127.", "::1")):
                    servers.append(parts[1])
    except OSError:
        pass
    return servers
