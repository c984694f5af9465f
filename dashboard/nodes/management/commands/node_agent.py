"""The per-node agent (root): runs every component in settings.AGENT_COMPONENTS
(heartbeat, sampler, PTY owner) as coroutines in one event loop."""

import asyncio
import os

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string


class Command(BaseCommand):
    help = "Run this node's agent: heartbeat, stats sampler and shell PTY owner."

    def add_arguments(self, parser):
        parser.add_argument("--node", default=settings.NODE_NAME)

    def handle(self, *args, node, **options):
        # The agent runs as root: what it writes (the runtime's state) is root's alone.
        os.umask(0o077)
        components = [import_string(path) for path in settings.AGENT_COMPONENTS]
        asyncio.run(self._run(components, node))

    async def _run(self, components, node):
        await asyncio.gather(*(component(node) for component in components))
