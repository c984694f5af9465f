"""The Celery queue of a node's runtime worker: its name, written once.

Plain Python, no Django: the settings import it too (scripts/run.sh, a shell
script, spells it `node.$NODE_NAME` for the worker's command line)."""


def node_queue(node_name: str) -> str:
    return f"node.{node_name}"
