"""The `pocketkube` command: a table of subcommands, no business logic.

Each command turns flags into a call of cli/lifecycle.py and prints the result;
failures print one line to stderr and exit non-zero.
"""

from __future__ import annotations

import sys
import time
from typing import NoReturn

import click
from rich.console import Console

from pocketkube import __version__
from pocketkube.cli import image_cmd, kubeconfig, lifecycle, logview, node_cmd
from pocketkube.cli.profile import DEFAULT_PROFILE, Profile, ProfileError, list_profiles

console = Console(stderr=True, highlight=False, soft_wrap=True)
STEP_TEXT = {
    "certificates": "Generating certificates and keys",
    "datastore": "Checking the datastore",
    "apiserver": "Starting the control plane (apiserver)",
    "controllers": "Waiting for the controller-manager and the scheduler",
    "kubeconfig": "Configuring kubectl",
    "nodes": "Waiting for the nodes to be Ready",
}


def fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]✗[/red] {message}")
    sys.exit(code)


profile_option = click.option("--profile", "-p", default=DEFAULT_PROFILE, show_default=True,
                              help="Name of the cluster profile.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pocketkube")
def cli() -> None:
    """pocketkube: a Kubernetes cluster on your machine, driven by the real kubectl."""


@cli.command()
@profile_option
@click.option("--apiserver-port", type=click.IntRange(1, 65535), default=None, help="HTTPS port of the API.")
@click.option("--datastore", default=None, help='"sqlite" (embedded, default) or etcd://host:port[,host:port].')
@click.option("--nodes", type=click.IntRange(0, 3000), default=None,
              help="Nodes to create with a new cluster (default 1); with containerd the first is real.")
@click.option("--node-runtime", type=click.Choice(["containerd", "simulated"]), default=None,
              help="containerd: the first node runs real containers (default where the host can); "
                   "simulated: no containers run. Chosen when the cluster is created.")
@click.option("--processes", type=click.Choice(["shared", "separate"]), default=None,
              help="shared (default): controller-manager, scheduler and simulated nodes share one process "
                   "(least memory); separate: one process each (uses more cores for large simulated "
                   "clusters). Remembered by the profile.")
def start(profile: str, apiserver_port: int | None, datastore: str | None, nodes: int | None,
          node_runtime: str | None, processes: str | None) -> None:
    """Start a cluster (or resume a stopped one) and point kubectl at it."""
    p = Profile(profile)
    begin = time.monotonic()

    def progress(step: str) -> None:
        console.print(f"  [cyan]•[/cyan] {STEP_TEXT.get(step, step)} ...")

    console.print(f'😄  pocketkube {__version__}: starting cluster "{profile}"')
    try:
        result = lifecycle.start(p, port=apiserver_port, datastore=datastore, nodes=nodes,
                                 node_runtime=node_runtime, processes=processes, progress=progress)
    except lifecycle.LifecycleError as e:
        fail(str(e))
    if result.notice:
        console.print(f"  [yellow]![/yellow] {result.notice}")
    if result.already_running:
        console.print(f'✅  cluster "{profile}" is already running at {result.server}')
        return
    console.print(f"🏄  Done in {time.monotonic() - begin:.1f}s! kubectl is now configured to use "
                  f'"{profile}" cluster and "default" namespace by default')
    console.print("    Try: kubectl get namespaces")


@cli.command()
@profile_option
def stop(profile: str) -> None:
    """Stop a cluster; its state is kept for the next start."""
    if lifecycle.stop(Profile(profile)):
        console.print(f'✋  Stopped cluster "{profile}"')
    else:
        console.print(f'cluster "{profile}" is not running')


@cli.command()
@profile_option
@click.option("--all", "all_profiles", is_flag=True, help="Delete every profile.")
def delete(profile: str, all_profiles: bool) -> None:
    """Stop a cluster and remove its state and kubeconfig context."""
    targets = list_profiles() if all_profiles else [Profile(profile)]
    for p in targets:
        try:
            existed = lifecycle.delete(p)
        except lifecycle.LifecycleError as e:
            fail(str(e))
        if existed:
            console.print(f'🔥  Deleted cluster "{p.name}"')
        else:
            console.print(f'cluster "{p.name}" does not exist')


COMPONENTS = (("apiserver", "apiserver"), ("controller-manager", "controller-manager"),
              ("scheduler", "scheduler"), ("kubelet", "node-agent"))


@cli.command()
@profile_option
def status(profile: str) -> None:
    """Show whether each part of a cluster is running (non-zero exit when not)."""
    p = Profile(profile)
    if not p.exists():
        fail(f'profile "{profile}" not found. Run "pocketkube start -p {profile}" to create it', 85)
    try:
        settings = p.load()
    except ProfileError as e:
        fail(str(e))
    running = p.running()
    lines = [profile, "type: Control Plane", f"host: {'Running' if running else 'Stopped'}"]
    healthy = running
    parts = p.parts()
    for label, component in COMPONENTS:
        if component not in parts and component != "apiserver":
            continue
        if component == "apiserver":
            state = "Stopped"
            if running:
                try:
                    code, _ = lifecycle.probe(p, settings.apiserver_port)
                    state = "Running" if code == 200 else "Error"
                except OSError:
                    state = "Error"
        else:
            state = lifecycle.component_state(p, component) if running else "Stopped"
        healthy = healthy and state == "Running"
        lines.append(f"{label}: {state}")
    kube_ok = kubeconfig.has_context(kubeconfig.default_path(), profile)
    lines.append(f"kubeconfig: {'Configured' if kube_ok else 'Misconfigured'}")
    click.echo("\n".join(lines) + "\n")
    if not healthy:
        sys.exit(7 if not running else 2)


@cli.command()
@profile_option
@click.argument("component", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new log lines.")
@click.option("-n", "--tail", "tail", default=200, show_default=True, help="Lines to show (0: all).")
def logs(profile: str, component: str | None, follow: bool, tail: int) -> None:
    """Print the logs of the cluster's components (all, or one: apiserver, controller-manager, ...)."""
    p = Profile(profile)
    if not p.logs_dir.is_dir():
        fail(f'profile "{profile}" has no logs. Run "pocketkube start -p {profile}" first')
    try:
        logview.show(p.logs_dir, component, tail, click.echo)
        if follow:
            logview.follow(p.logs_dir, component, click.echo)
    except FileNotFoundError as e:
        fail(str(e))
    except KeyboardInterrupt:
        pass


@cli.command("kubeconfig")
@profile_option
@click.option("--content", is_flag=True, help="Print the kubeconfig content for this profile only.")
def kubeconfig_cmd(profile: str, content: bool) -> None:
    """Print the path of the kubeconfig holding this profile's context (or its content)."""
    path = kubeconfig.default_path()
    if not content:
        click.echo(str(path))
        return
    try:
        click.echo(kubeconfig.extract(path, profile), nl=False)
    except kubeconfig.KubeconfigError as e:
        fail(str(e))


@cli.group("profile")
def profile_group() -> None:
    """Work with cluster profiles."""


@profile_group.command("list")
def profile_list() -> None:
    """List profiles and whether they run."""
    profiles = list_profiles()
    if not profiles:
        console.print("No profiles found. Run `pocketkube start` to create one.")
        return
    click.echo(f"{'PROFILE':<20} {'STATUS':<10} {'API SERVER'}")
    for p in profiles:
        try:
            port = p.load().apiserver_port
        except ProfileError:
            port = 0
        click.echo(f"{p.name:<20} {'Running' if p.running() else 'Stopped':<10} {lifecycle.server_url(port)}")


@cli.command()
def version() -> None:
    """Print the pocketkube version and the Kubernetes version it serves."""
    click.echo(f"pocketkube version: v{__version__}\nkubernetes version: v1.32.4")


cli.add_command(node_cmd.node)
cli.add_command(image_cmd.image_group)


def main() -> None:
    cli(prog_name="pocketkube")


if __name__ == "__main__":
    main()
