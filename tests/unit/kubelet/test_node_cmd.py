"""`pocketkube node` helpers and wiring (the commands themselves run in tests/integration/test_nodes.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pocketkube.cli import node_cmd
from pocketkube.cli.main import cli
from pocketkube.cli.pki import COMPONENT_IDENTITIES
from pocketkube.cmd import supervisor


def test_names_continue_after_the_highest_number() -> None:
    assert node_cmd.next_names([], "dev-m", 2, first=2) == ["dev-m02", "dev-m03"]
    assert node_cmd.next_names(["dev", "dev-m02", "dev-m07", "other"], "dev-m", 1, first=2) == ["dev-m08"]
    assert node_cmd.next_names(["sim-01"], "sim-", 2, first=1) == ["sim-02", "sim-03"]


def test_skeleton_is_a_simulated_node() -> None:
    node = node_cmd.skeleton("n", {"cpu": "2"})
    assert node["metadata"]["labels"] == {"pocketkube.io/simulated": "true"}
    assert node["status"]["capacity"] == node["status"]["allocatable"] == {"cpu": "2"}


def test_agent_identity_and_supervisor_part(tmp_path: Path) -> None:
    assert COMPONENT_IDENTITIES["node-agent"] == ("system:node-agent", ("system:nodes",))
    profile = tmp_path / "dev"
    argv = supervisor.node_agent_part(profile, {"apiserver_port": 7000, "extra": {"nodes": 3}})
    assert argv[1:3] == ["-m", "pocketkube.cmd.node"]
    assert argv[argv.index("--bootstrap-nodes") + 1] == "3" and argv[argv.index("--bootstrap-name") + 1] == "dev"
    assert str(profile / "pki" / "node-agent.crt") in argv
    default = supervisor.node_agent_part(profile, {"apiserver_port": 7000})
    assert default[default.index("--bootstrap-nodes") + 1] == "1"
    assert "node-agent" in [name for name, _ in supervisor.COMPONENTS]


def test_commands_need_a_running_cluster_and_simulated_flag(isolated_env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["node", "add", "-p", "nope"])
    assert result.exit_code != 0 and "--simulated" in result.output
    result = runner.invoke(cli, ["node", "list", "-p", "nope"])
    assert result.exit_code != 0 and "does not exist" in result.output
    assert "stop-heartbeat" in runner.invoke(cli, ["node", "--help"]).output
